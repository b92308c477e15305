"""Learning curves with few labels: frozen embeddings + logistic regression vs TF-IDF vs zero-shot vs fine-tuning.

For each N in --per-class (0 = all), train and validation are cut to at most N rows per class
(stratified, seeded; --seeds repeats with other seeds and averages); the test split is never
altered. All methods run in this one process, on this machine, and are scored on the same test
rows. Embeddings of train/validation/test are computed once (cached under --cache-dir); the
probe's seconds are its fit time, the one-off embedding cost is printed separately. Zero-shot uses
no labels at all. Full fine-tuning (hackkit.finetune, fixed --finetune-epochs, no early stopping)
runs only at the sizes in --finetune-at, on a temporary run folder, with one seed; METHOD contrastive
(the encoder tuned on same-label pairs, then the probe; hk.train_model inside --contrastive-minutes)
likewise at the sizes in --contrastive-at, on the first --contrastive-seeds of the probe's cuts (its
gain over the probe on the same cut is printed), its seconds being the whole training plus test
prediction.

    python benchmarks/bench_few_labels.py DATA.csv [--split-column split] [--per-class 1 2 4 8 16 32 0]
        [--seeds 3] [--finetune-at 8] [--finetune-epochs 5] [--contrastive-at 8 16] [--contrastive-seeds 3]
        [--contrastive-minutes 1] [--label-text 0=negative 1=positive]
        [--out results.json] [--plot curve.png] [--cache-dir /tmp/hackkit-embed-cache]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from plot_few_labels import plot_curves  # this folder: benchmarks/
from sklearn.metrics import accuracy_score, f1_score

import hackkit as hk
from hackkit.models import embeddings as em
from hackkit.tasks.text import fit_baseline
from hackkit.train import fewlabels

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TEXT = hk.get_task("text-classification")


def load(data: str, split_column: str, seed: int) -> dict[str, pd.DataFrame]:
    """The splits 01 would make: the file's own split column as is, else dedup + stratified 70/10/20."""
    dataset = hk.load_data(data, text_column="text", label_column="label", split_column=split_column)
    frame = dataset.frame if split_column else hk.deduplicate(dataset.frame, TEXT)[0]
    return hk.make_splits(frame, 0.2, 0.1, seed, TEXT)


def per_class(frame: pd.DataFrame, n: int, seed: int) -> np.ndarray:
    """Row positions of at most n rows per class (all rows when n is 0), stratified and seeded."""
    if n <= 0:
        return np.arange(len(frame))
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(frame["label"].to_numpy() == label), size=min(n, count), replace=False)
              for label, count in frame["label"].value_counts().sort_index().items()]
    return np.sort(np.concatenate(picked))


def scores(y_true, y_pred, labels) -> dict:
    """Test accuracy and macro-F1 over all labels."""
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))}


def finetune_once(splits, train_idx, val_idx, labels, epochs: float, seed: int,
                  method: str = "finetune", minutes: float = 0) -> dict:
    """hk.train_model (fine-tuning for fixed epochs and no budget, or another METHOD inside
    `minutes`) on a temporary run folder holding the cut splits, then score the test split."""
    with tempfile.TemporaryDirectory(prefix="bench-few-") as tmp:
        run = Path(tmp) / "run"
        hk.save_splits({"train": splits["train"].iloc[train_idx].reset_index(drop=True),
                        "validation": splits["validation"].iloc[val_idx].reset_index(drop=True),
                        "test": splits["test"]}, run, TEXT)
        started = time.perf_counter()
        config = (hk.TrainConfig(model=MODEL, epochs=epochs, batch_size=16, patience=0, seed=seed,
                                 device="cpu", time_budget_minutes=0)  # fixed epochs, no budget
                  if method == "finetune" else
                  hk.TrainConfig(model=MODEL, method=method, seed=seed, device="cpu",
                                 time_budget_minutes=minutes))
        summary = hk.train_model(run, config)
        trained = time.perf_counter() - started
        predictor = hk.Predictor.from_run(run, device="cpu")
        proba, names = predictor.predict_proba(list(splits["test"]["text"])), predictor.labels
        total = time.perf_counter() - started
    pred = [names[i] for i in proba.argmax(1)]
    return {**scores(splits["test"]["label"], pred, labels), "train_seconds": round(trained, 1),
            "seconds": round(total, 1), "train_examples_per_second": summary.train_examples_per_second,
            **({"contrastive": summary.details["contrastive"]} if method == "contrastive" else {})}


def main() -> None:
    """Parse arguments, run every method, print the tables, write JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--split-column", default="")
    parser.add_argument("--per-class", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 0])
    parser.add_argument("--seeds", type=int, default=3, help="repeats of each cut (probe, TF-IDF)")
    parser.add_argument("--finetune-at", type=int, nargs="*", default=[8], help="per-class sizes; none: skip")
    parser.add_argument("--finetune-epochs", type=float, default=5.0)
    parser.add_argument("--contrastive-at", type=int, nargs="*", default=[8, 16],
                        help="per-class sizes for METHOD contrastive; none: skip")
    parser.add_argument("--contrastive-minutes", type=float, default=1.0,
                        help="its TIME_BUDGET_MINUTES (the committed default is 1)")
    parser.add_argument("--contrastive-seeds", type=int, default=1,
                        help="cuts (seeds 0, 1, ...) tuned at each --contrastive-at size, at most --seeds")
    parser.add_argument("--contrastive-lr", type=float, nargs="+", default=[fewlabels.CONTRASTIVE_LEARNING_RATE],
                        help="its learning rates to compare (the committed one by default)")
    parser.add_argument("--label-text", nargs="*", default=[], help="LABEL=words for zero-shot, e.g. 0=negative")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "hackkit-embed-cache"))
    parser.add_argument("--out", default="")
    parser.add_argument("--plot", default="")
    args = parser.parse_args()

    splits = load(args.data, args.split_column, seed=42)
    labels = sorted(splits["train"]["label"].unique())
    train_counts = splits["train"]["label"].value_counts()
    print(f"{Path(args.data).name}: {len(labels)} classes; train {len(splits['train'])} "
          f"(per class {train_counts.min()}-{train_counts.max()}), validation {len(splits['validation'])}, "
          f"test {len(splits['test'])}")
    location = hk.resolve_model(MODEL).location
    cache = Path(args.cache_dir) / Path(args.data).stem
    emb, embed_seconds = {}, {}
    for name, frame in splits.items():
        started = time.perf_counter()
        emb[name] = em.cached_embeddings(list(frame["text"]), location, args.max_length, cache, name=name)
        embed_seconds[name] = round(time.perf_counter() - started, 1)
    print(f"embedding seconds (0 = cached): {embed_seconds}")
    test_y = splits["test"]["label"].to_numpy()
    results: list[dict] = []

    for text_map, tag in [({}, "label names")] + ([(dict(a.split("=", 1) for a in args.label_text),
                                                    "--label-text")] if args.label_text else []):
        started = time.perf_counter()
        proba = em.zero_shot_proba(emb["test"], [text_map.get(x, x) for x in labels], location)
        results.append({"method": f"zero-shot ({tag})", "per_class": 0, "train_rows": 0,
                        **scores(test_y, [labels[i] for i in proba.argmax(1)], labels),
                        "seconds": round(time.perf_counter() - started, 2)})

    for n in args.per_class:
        for seed in range(args.seeds if n else 1):
            ti, vi = per_class(splits["train"], n, seed), per_class(splits["validation"], n, seed)
            train_y = splits["train"]["label"].to_numpy()[ti]
            val_y = splits["validation"]["label"].to_numpy()[vi]
            started = time.perf_counter()
            probe = em.EmbeddingClassifier().fit(emb["train"][ti], train_y, emb["validation"][vi], val_y, seed=seed)
            pred = probe.predict(emb["test"])
            seconds = time.perf_counter() - started
            by_c = {}  # test macro-F1 at every C: how good the default and the validation choice are
            for c in em.C_GRID:
                fixed = em.EmbeddingClassifier(c_grid=(c,), default_c=c).fit(emb["train"][ti], train_y, seed=seed)
                by_c[str(c)] = round(scores(test_y, fixed.predict(emb["test"]), labels)["macro_f1"], 4)
            results.append({"method": "embeddings + LR", "per_class": n, "seed": seed, "train_rows": len(ti),
                            **scores(test_y, pred, labels), "seconds": round(seconds, 2), "c": probe.c,
                            "c_source": probe.c_source, "test_macro_f1_by_c": by_c})
            started = time.perf_counter()
            tfidf = fit_baseline(splits["train"]["text"].iloc[ti], train_y, seed=seed)
            pred = tfidf.predict(list(splits["test"]["text"]))
            results.append({"method": "TF-IDF + LR", "per_class": n, "seed": seed, "train_rows": len(ti),
                            **scores(test_y, pred, labels), "seconds": round(time.perf_counter() - started, 2)})
        for rate in args.contrastive_lr if n in args.contrastive_at else []:
            for seed in range(min(args.contrastive_seeds, args.seeds)):  # the probe's cuts
                ti, vi = per_class(splits["train"], n, seed), per_class(splits["validation"], n, seed)
                print(f"contrastive tuning on {len(ti)} rows (seed {seed}), "
                      f"{args.contrastive_minutes:g} min, lr {rate:g} ...", flush=True)
                fewlabels.CONTRASTIVE_LEARNING_RATE = rate  # what train_contrastive passes to tune_encoder
                results.append({"method": f"contrastive ({args.contrastive_minutes:g} min, lr {rate:g})",
                                "per_class": n, "seed": seed, "train_rows": len(ti),
                                **finetune_once(splits, ti, vi, labels, 0, seed=seed,
                                                method="contrastive", minutes=args.contrastive_minutes)})
                probe = next(r for r in results if r["method"] == "embeddings + LR"
                             and r["per_class"] == n and r["seed"] == seed)
                results[-1]["accuracy_over_probe"] = round(results[-1]["accuracy"] - probe["accuracy"], 4)
                print({k: v for k, v in results[-1].items() if k != "method"}, flush=True)
        if n in args.finetune_at:
            ti, vi = per_class(splits["train"], n, 0), per_class(splits["validation"], n, 0)
            print(f"fine-tuning on {len(ti)} rows for {args.finetune_epochs:g} epochs ...", flush=True)
            results.append({"method": f"fine-tune ({args.finetune_epochs:g} ep)", "per_class": n, "seed": 0,
                            "train_rows": len(ti),
                            **finetune_once(splits, ti, vi, labels, args.finetune_epochs, seed=0)})

    table = (pd.DataFrame(results).groupby(["method", "per_class"], sort=False)
             .agg(train_rows=("train_rows", "mean"), runs=("accuracy", "size"), accuracy=("accuracy", "mean"),
                  accuracy_sd=("accuracy", "std"), macro_f1=("macro_f1", "mean"), seconds=("seconds", "mean"))
             .reset_index())
    table["per_class"] = table["per_class"].map(lambda n: "all" if n == 0 else n)
    table.loc[table["method"].str.startswith("zero-shot"), "per_class"] = "none"
    gains = pd.DataFrame([r for r in results if "accuracy_over_probe" in r])
    if len(gains):
        table = table.merge(gains.groupby(["method", "per_class"], sort=False)
                            .agg(accuracy_over_probe=("accuracy_over_probe", "mean")).reset_index()
                            .assign(per_class=lambda f: f["per_class"].map(lambda n: "all" if n == 0 else n)),
                            on=["method", "per_class"], how="left")
    print(table.round(4).to_string(index=False))
    probe_rows = [r for r in results if r["method"] == "embeddings + LR"]
    by_c = pd.DataFrame([{"per_class": r["per_class"] or "all", **r["test_macro_f1_by_c"]} for r in probe_rows])
    print("probe test macro-F1 at each fixed C (mean over seeds):")
    print(by_c.groupby("per_class", sort=False).mean().round(3).to_string())
    record = {"data": args.data, "labels": len(labels), "train_rows": len(splits["train"]),
              "test_rows": len(splits["test"]), "embed_seconds": embed_seconds, "results": results}
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=1))
    if args.plot:
        plot_curves([record], args.plot)


if __name__ == "__main__":
    main()
