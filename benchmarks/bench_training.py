"""Training throughput on the sample data: padded-to-128 loop vs plain Trainer vs hackkit.

All three train the same model on the same stratified sample for the same number of epochs,
in this one process, and are scored on the same test split. Timings include everything each
approach does during training (hackkit also evaluates and checkpoints every epoch).

    python benchmarks/bench_training.py [--examples 800] [--epochs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import hackkit as hk
from hackkit.models.resolve import load_for_classification, load_tokenizer
from hackkit.tasks.labels import classification_metrics

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def prepare(data: str, examples: int, seed: int):
    """The run-folder splits 01 would write, with train cut to `examples`."""
    task = hk.get_task("text-classification")
    dataset = hk.load_data(data)
    splits = hk.make_splits(hk.deduplicate(dataset.frame, task)[0], 0.2, 0.1, seed, task)
    labels = task.labels(splits)
    return splits, task.subsample(splits["train"], examples, seed), labels


def score(model, tokenizer, test, labels) -> dict:
    """Test accuracy and macro-F1 of an in-memory model."""
    model.eval()
    preds = []
    with torch.no_grad():
        for start in range(0, len(test), 64):
            batch = tokenizer(list(test["text"][start:start + 64]), truncation=True, max_length=128,
                              padding=True, return_tensors="pt")
            preds += model(**batch).logits.argmax(-1).tolist()
    return classification_metrics(test["label"], [labels[i] for i in preds], labels)


def padded_loop(train, test, labels, epochs: float, lr: float, batch_size: int, seed: int):
    """(a) The classic recipe: pad every example to 128 tokens, hand-written AdamW loop."""
    from transformers import get_linear_schedule_with_warmup, set_seed

    set_seed(seed)
    tokenizer = load_tokenizer(MODEL)
    model = load_for_classification(MODEL, labels)
    enc = tokenizer(list(train["text"]), padding="max_length", truncation=True, max_length=128,
                    return_tensors="pt")
    y = torch.tensor([labels.index(x) for x in train["label"]])
    data = torch.utils.data.TensorDataset(enc["input_ids"], enc["attention_mask"], y)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True)
    steps = int(len(loader) * epochs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    model.train()
    start, done = time.monotonic(), 0
    while done < steps:
        for ids, mask, target in loader:
            loss = model(input_ids=ids, attention_mask=mask, labels=target).loss
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            done += 1
            if done >= steps:
                break
    seconds = time.monotonic() - start
    return seconds, score(model, tokenizer, test, labels)


def plain_trainer(train, test, labels, epochs: float, seed: int):
    """(b) transformers' Trainer with its default TrainingArguments."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments, set_seed

    set_seed(seed)
    tokenizer = load_tokenizer(MODEL)
    model = load_for_classification(MODEL, labels)
    ds = Dataset.from_dict({"text": list(train["text"]),
                            "label": [labels.index(x) for x in train["label"]]})
    ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=128), batched=True)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, num_train_epochs=epochs, report_to="none",
                                 save_strategy="no", seed=seed, disable_tqdm=True)
        trainer = Trainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer)
        start = time.monotonic()
        trainer.train()
        seconds = time.monotonic() - start
    return seconds, score(model, tokenizer, test, labels)


def hackkit_train(splits, examples: int, epochs: float, seed: int):
    """(c) hackkit.finetune as 02_finetune runs it (committed defaults except size and epochs)."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        hk.save_splits(splits, run_dir, hk.get_task("text-classification"))
        config = hk.TrainConfig(max_train_examples=examples, epochs=epochs, seed=seed,
                                time_budget_minutes=0, patience=0)
        summary = hk.finetune(run_dir, config)
        test = splits["test"]
        predictor = hk.Predictor(hk.Run(run_dir).model_dir)
        proba, labels = predictor.predict_proba(list(test["text"])), predictor.labels
        scores = classification_metrics(test["label"], [labels[i] for i in proba.argmax(1)], labels)
    return summary["train_seconds"], scores, config


def main() -> None:
    """Run the three trainings and print examples/s, ratios and test scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/support_intents.csv")
    parser.add_argument("--examples", type=int, default=800, help="training examples (stratified)")
    parser.add_argument("--epochs", type=float, default=2.0, help="as in 02_finetune")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    splits, train, labels = prepare(args.data, args.examples, args.seed)
    defaults = hk.TrainConfig()
    n = len(train) * args.epochs
    results = {}
    seconds, scores, _ = hackkit_train(splits, args.examples, args.epochs, args.seed)
    results["(c) hackkit.finetune"] = (seconds, scores)
    results["(b) plain Trainer, defaults"] = plain_trainer(train, splits["test"], labels,
                                                           args.epochs, args.seed)
    results["(a) padded to 128, manual loop"] = padded_loop(
        train, splits["test"], labels, args.epochs, defaults.learning_rate, defaults.batch_size,
        args.seed)

    base = n / results["(a) padded to 128, manual loop"][0]
    print(f"\n{len(train)} training examples x {args.epochs} epochs, {torch.get_num_threads()} "
          f"CPU threads, torch {torch.__version__}, device cpu")
    print(f"{'method':34} {'seconds':>8} {'ex/s':>7} {'vs (a)':>7} {'test acc':>9} {'macro-F1':>9}")
    for name in sorted(results):
        seconds, scores = results[name]
        print(f"{name:34} {seconds:8.1f} {n / seconds:7.1f} {n / seconds / base:6.2f}x "
              f"{scores['accuracy']:9.3f} {scores['macro_f1']:9.3f}")


if __name__ == "__main__":
    main()
