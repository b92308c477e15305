"""Text regression: one number per text (a star rating, a valence, a price, a score).

The target is read as numbers (values that are not are refused with their lines), split with its
distribution kept alike in train, validation and test, and learned by the mean-pooled encoder with a
one-output head (hackkit.models.regression) that starts as a ridge probe on the frozen embeddings.
The head trains on the standardised target; every score is reported in the target's own units.

The main metric is R² (`r2`): on one split it is 1 - MSE / variance of the true scores, so it ranks
models exactly as RMSE does, and it grows, so the session's best checkpoint, the search, checkpoint
averaging, keeping the warm start, the verdict and the leaderboard all rank it as they rank F1.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from hackkit.base import SPLIT_ALIASES, SPLITS, Dataset, Task, TrainParts
from hackkit.models.embeddings import cached_embeddings
from hackkit.paths import check_safetensors, find_input
from hackkit.tables import FOLDER_SPLIT, _read_table, check_column, read_split_folder
from hackkit.tasks.textinput import TextInput, batched_scores, check_texts

TARGET = "score"  # the target's column in the split files and its name in the model's config
ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # ridge penalties tried on validation
OUTLIER_Z = 5.0  # robust z-score (distance from the median in scaled MADs) that flags a value
NEARLY_CONSTANT = 0.9  # share of rows holding the most common value that makes a target uninformative
RANGES = 5  # equal-width ranges of the true score in 03's per-range table
MAX_SHOWN = 5  # rows named in a message


class ScorePrediction(BaseModel):
    """One text's predicted score, in the units of the training target."""

    score: float = Field(description="the predicted value, in the training target's units")


def regression_metrics(y_true, y_pred) -> dict:
    """R², RMSE, MAE, Pearson and Spearman correlation (0 when the predictions are constant)."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    varies = len(y_true) > 1 and np.ptp(y_pred) > 0 and np.ptp(y_true) > 0
    return {
        "r2": float(r2_score(y_true, y_pred)) if len(y_true) > 1 else 0.0,
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        # A constant prediction (the training mean) has no correlation with anything: 0, not NaN.
        "pearson": float(pearsonr(y_true, y_pred)[0]) if varies else 0.0,
        "spearman": float(spearmanr(y_true, y_pred)[0]) if varies else 0.0,
    }


def compute_metrics(eval_pred) -> dict[str, float]:
    """Trainer's evaluation: the regression metrics of the model's scores (its logits)."""
    predictions, labels = eval_pred
    return regression_metrics(labels, np.asarray(predictions).reshape(len(labels), -1)[:, 0])


def per_range(y_true, y_pred, ranges: int = RANGES) -> dict[str, dict]:
    """Errors by range of the true score (equal widths): where the model is off, and which way."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    if len(y_true) == 0:
        return {}
    edges = np.linspace(y_true.min(), y_true.max(), ranges + 1)
    which = np.clip(np.searchsorted(edges, y_true, side="right") - 1, 0, ranges - 1)
    table = {}
    for i in range(ranges):
        inside = which == i
        if not inside.any():
            continue
        error = y_pred[inside] - y_true[inside]
        closing = "]" if i == ranges - 1 else ")"
        table[f"[{edges[i]:.3g}, {edges[i + 1]:.3g}{closing}"] = {
            "support": int(inside.sum()), "mean_true": float(y_true[inside].mean()),
            "mean_predicted": float(y_pred[inside].mean()), "mean_error": float(error.mean()),
            "mae": float(np.abs(error).mean())}
    return table


def _lines(index, suffix: str) -> str:
    """Row positions as the user finds them: CSV/TSV lines (the header is line 1), else rows."""
    index = list(index)
    shown = ", ".join(str(i + 2 if suffix in (".csv", ".tsv") else i + 1) for i in index[:MAX_SHOWN])
    more = f" and {len(index) - MAX_SHOWN} more" if len(index) > MAX_SHOWN else ""
    noun = "line" if suffix in (".csv", ".tsv") else "row"
    return f"{noun}{'s' if len(index) > 1 else ''} {shown}{more}"


def _count(n: int, noun: str) -> str:
    """'1 value', '3 values'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _numeric_share(values: pd.Series) -> float:
    """Share of the non-empty values that read as numbers."""
    given = values.dropna()
    given = given[given.astype(str).str.strip() != ""]
    return float(pd.to_numeric(given, errors="coerce").notna().mean()) if len(given) else 0.0


def target_column(raw: pd.DataFrame, label_column: str, skip: set[str], path: Path) -> tuple[str, list[str]]:
    """LABEL_COLUMN, or, when the table has no such column, its one column besides the text (and
    split), else its one mostly numeric column, with a warning; else the missing-column error."""
    if label_column in raw.columns:
        return label_column, []
    others = [str(c) for c in raw.columns if str(c) not in skip]
    numeric = [c for c in others if _numeric_share(raw[c]) > 0.5]
    chosen = others if len(others) == 1 else numeric
    if len(chosen) == 1:
        return chosen[0], [f"LABEL_COLUMN={label_column!r} is not a column of {path.name}; its "
                           f"one {'other' if chosen is others else 'numeric'} column {chosen[0]!r} "
                           f"is used as the score. Set LABEL_COLUMN={chosen[0]!r} to silence this "
                           "warning."]
    check_column(raw, label_column, "LABEL_COLUMN", path)  # raises, naming the columns
    return label_column, []


def read_scores(values: pd.Series, column: str, path: Path) -> pd.Series:
    """The target as floats (NaN where empty); values that are not numbers stop here, by line."""
    blank = values.isna() | (values.astype(str).str.strip() == "")
    numbers = pd.to_numeric(values.where(~blank), errors="coerce").astype(float)
    bad = (numbers.isna() & ~blank) | np.isinf(numbers)
    if bad.any():
        examples = ", ".join(repr(v) for v in values[bad].astype(str).unique()[:MAX_SHOWN])
        raise ValueError(
            f"LABEL_COLUMN={column!r}: {_count(int(bad.sum()), 'value')} in {path.name} "
            f"{'is not a number' if bad.sum() == 1 else 'are not numbers'} "
            f"({_lines(values.index[bad], path.suffix.lower())}: {examples}). TASK='text-regression' "
            "needs one number per text: write decimals with a point (3.5, not 3,5), leave a cell "
            "empty to drop its row, or use TASK='text-classification' if the values are classes.")
    return numbers


def outliers(scores: pd.Series) -> pd.Series:
    """Scores far from the rest: over OUTLIER_Z scaled median absolute deviations from the median."""
    spread = 1.4826 * (scores - scores.median()).abs().median()
    if not spread > 0:  # over half the values equal: fall back on the standard deviation
        spread = scores.std()
    if not spread > 0:
        return scores.iloc[0:0]
    return scores[(scores - scores.median()).abs() / spread > OUTLIER_Z]


def _binned(scores: pd.Series, smaller_side: int) -> pd.Series | None:
    """Quantile bins of the scores to stratify a split by (each side of the split needs a row of
    every bin), or None when too few rows allow it."""
    for bins in (10, 5, 3, 2):
        if smaller_side < bins:
            continue
        codes = pd.qcut(scores, q=bins, labels=False, duplicates="drop")
        if codes.value_counts().min() >= 2:
            return codes
    return None


def _split_off(frame: pd.DataFrame, fraction: float, seed: int, name: str, value: float):
    """`fraction` of the rows, stratified by score quantiles where the rows allow."""
    from sklearn.model_selection import train_test_split

    n_out = int(np.ceil(fraction * len(frame)))
    if n_out < 2 or len(frame) - n_out < 2:
        raise ValueError(f"{name}={value}: splitting {len(frame)} rows gives {n_out} and "
                         f"{len(frame) - n_out}; each side needs at least 2. Add data or adjust {name}.")
    return train_test_split(frame, test_size=n_out, stratify=_binned(frame[TARGET], min(n_out, len(frame) - n_out)),
                            random_state=seed)


def fit_ridge(train_x, train_y, val_x, val_y, seed: int = 42):
    """Ridge regression with its penalty chosen on validation R² (ALPHAS); refitted on train."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    best, best_r2 = None, -np.inf
    for alpha in ALPHAS:
        model = Ridge(alpha=alpha, random_state=seed).fit(train_x, train_y)
        score = r2_score(val_y, model.predict(val_x))
        if score > best_r2:
            best, best_r2 = model, score
    return best


def fit_tfidf_ridge(train: pd.DataFrame, validation: pd.DataFrame, seed: int = 42):
    """Word 1-2 gram TF-IDF + ridge (penalty chosen on validation): the quick text baseline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    train_x = vectorizer.fit_transform(train["text"])
    ridge = fit_ridge(train_x, train[TARGET], vectorizer.transform(validation["text"]),
                      validation[TARGET], seed)
    return make_pipeline(vectorizer, ridge)


def embedding_probe(train: pd.DataFrame, validation: pd.DataFrame, location: str, max_length: int,
                    cache_dir: Path, device: str = "cpu", seed: int = 42):
    """(ridge on the frozen mean-pooled embeddings of the standardised target, mean, std): the
    second baseline and the fine-tuning warm start; embeddings come from the run's cache."""
    train_x = cached_embeddings(list(train["text"]), location, max_length, cache_dir, name="train",
                                device=device)
    val_x = cached_embeddings(list(validation["text"]), location, max_length, cache_dir,
                              name="validation", device=device)
    mean, std = target_scale(train[TARGET])
    ridge = fit_ridge(train_x, (train[TARGET] - mean) / std, val_x,
                      (validation[TARGET] - mean) / std, seed)
    return ridge, mean, std


def target_scale(scores: pd.Series) -> tuple[float, float]:
    """Mean and standard deviation the head standardises the target with."""
    std = float(np.std(np.asarray(scores, float)))
    if not std > 0:
        raise ValueError(f"the training scores are all {float(scores.iloc[0])}: a regression needs "
                         "scores that vary. Check LABEL_COLUMN.")
    return float(np.mean(np.asarray(scores, float))), std


class TextRegression(TextInput, Task):
    """One number per text: mean baseline, TF-IDF ridge, embeddings probe, a regression head, R²."""

    name = "text-regression"
    main_metric = "r2"
    metric_names = {"r2": "R²", "rmse": "RMSE", "mae": "MAE", "pearson": "Pearson r",
                    "spearman": "Spearman ρ"}
    split_suffix = ".csv"
    unit = "texts"
    label_unit = "target"
    architecture_suffix = "ForTextRegression"
    baseline_name = "baseline (training mean)"
    unseen_labels_block = False
    data_hint = "a CSV, TSV, JSON Lines or Parquet table with a text and a numeric score column"
    file_suffixes = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
    onnx_export = True
    result_model = ScorePrediction
    tfidf_baseline_name = "TF-IDF + ridge"
    embeddings_baseline_name = "embeddings + ridge"

    # --- data (01, doctor) -------------------------------------------------------------
    def load(self, data) -> Dataset:
        """A table of texts and numbers (TEXT_COLUMN, LABEL_COLUMN, optional SPLIT_COLUMN)."""
        p = find_input(data.data_path)
        split_column = data.split_column
        if p.is_dir():
            if split_column:
                raise ValueError(f"SPLIT_COLUMN={split_column!r}: DATA_PATH {p} is a folder whose "
                                 "files are the splits; set SPLIT_COLUMN=''.")
            raw, warnings = read_split_folder(p)
            split_column = FOLDER_SPLIT
        else:
            raw, warnings = _read_table(p)
        check_column(raw, data.text_column, "TEXT_COLUMN", p)
        if split_column:
            check_column(raw, split_column, "SPLIT_COLUMN", p)
        column, found = target_column(raw, data.label_column, {data.text_column, split_column}, p)
        warnings = list(warnings) + found
        frame = pd.DataFrame({
            "text": raw[data.text_column].map(lambda v: "" if pd.isna(v) else str(v).strip()),
            TARGET: read_scores(raw[column], column, p)})
        if split_column:
            values = raw[split_column].map(lambda v: str(v).strip().lower())
            unknown = sorted(set(values) - set(SPLIT_ALIASES))
            if unknown:
                raise ValueError(f"SPLIT_COLUMN={split_column!r}: unknown split values {unknown} "
                                 f"in {p.name}. Use train / validation / test, or set "
                                 "SPLIT_COLUMN='' to let hackkit split.")
            frame["split"] = values.map(SPLIT_ALIASES)
        dropped: dict[str, int] = {}
        empty, missing = frame["text"] == "", frame[TARGET].isna()
        if empty.all():
            raise ValueError(f"TEXT_COLUMN={data.text_column!r}: every text in {p.name} is empty.")
        if empty.any():
            dropped["empty_text"] = int(empty.sum())
            warnings.append(f"{int(empty.sum())} rows with empty text were dropped.")
        if (missing & ~empty).any():
            dropped["missing_score"] = int((missing & ~empty).sum())
            warnings.append(f"{dropped['missing_score']} rows without a score "
                            f"({_lines(frame.index[missing & ~empty], p.suffix.lower())}) were dropped.")
        kept = frame[~empty & ~missing]
        if kept[TARGET].nunique() < 2:
            raise ValueError(
                f"LABEL_COLUMN={column!r}: every score in {p.name} is "
                f"{kept[TARGET].iloc[0] if len(kept) else 'missing'}; a regression learns how "
                "scores vary between texts, so it needs at least two different values. Check "
                "LABEL_COLUMN names the column with the scores.")
        far = outliers(kept[TARGET])
        common = kept[TARGET].value_counts(normalize=True)
        info = {"target_column": column,
                "outliers": {"rows": _lines(far.index, p.suffix.lower()) if len(far) else "",
                             "count": int(len(far)),
                             "values": [float(v) for v in far.head(MAX_SHOWN)]},
                "most_common_score": {"value": float(common.index[0]), "share": float(common.iloc[0])}}
        return Dataset(frame=kept.reset_index(drop=True), path=p, warnings=warnings,
                       dropped=dropped, info=info)

    def split(self, frame, test_size, val_size, seed):
        """The file's own split column, else random splits stratified by score quantiles."""
        given = frame["split"] if "split" in frame else pd.Series("train", index=frame.index)
        rest = frame[given == "train"].drop(columns="split", errors="ignore")
        parts = {s: frame[given == s].drop(columns="split") for s in SPLITS[1:] if (given == s).any()}
        carved_test = "test" not in parts
        if carved_test:
            rest, parts["test"] = _split_off(rest, test_size, seed, "TEST_SIZE", test_size)
        if "validation" not in parts:
            fraction = val_size / (1 - test_size) if carved_test else val_size
            rest, parts["validation"] = _split_off(rest, fraction, seed, "VAL_SIZE", val_size)
        if len(rest) < 2 or rest[TARGET].nunique() < 2:
            raise ValueError(f"SPLIT_COLUMN: the training split has {len(rest)} rows with "
                             f"{rest[TARGET].nunique()} different scores; mark more rows 'train'.")
        splits = {"train": rest, "validation": parts["validation"], "test": parts["test"]}
        return {k: v.reset_index(drop=True) for k, v in splits.items()}

    def labels(self, splits):
        """One output: the score."""
        return [TARGET]

    def label_counts(self, frame):
        """Scored texts in the split (their distribution is plot_examples' histogram)."""
        return pd.Series({TARGET: len(frame)}, dtype=int)

    def label_key(self, frame):
        """The score, as text: repeated texts with different scores are label conflicts."""
        return frame[TARGET].astype(str)

    def write_split(self, frame, path):
        """CSV of text and score."""
        frame[["text", TARGET]].to_csv(path, index=False)

    def read_split(self, path):
        """text as strings, score as floats."""
        frame = pd.read_csv(path, dtype={"text": str}, keep_default_na=False)
        return frame.astype({TARGET: float})

    def describe(self, frame):
        """Words per text and the score's distribution."""
        words = frame["text"].str.split().str.len()
        scores = frame[TARGET]
        return {"words_per_text": {"min": int(words.min()), "median": float(words.median()),
                                   "max": int(words.max())},
                "score": {"min": float(scores.min()), "mean": float(scores.mean()),
                          "std": float(scores.std()), "max": float(scores.max()),
                          "distinct": int(scores.nunique())}}

    def plot_examples(self, splits):
        """Histogram of the score per split: the three should look alike."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        values = pd.concat([f[TARGET] for f in splits.values()])
        bins = np.histogram_bin_edges(values, bins=min(30, max(5, values.nunique())))
        for name, frame in splits.items():
            ax.hist(frame[TARGET], bins=bins, density=True, histtype="step", linewidth=2,
                    label=f"{name} (mean {frame[TARGET].mean():.3g}, n={len(frame)})")
        ax.set(xlabel=TARGET, ylabel="density", title="Score distribution per split")
        ax.legend()
        fig.tight_layout()
        return fig

    def extra_checks(self, dataset, splits, near):
        """Near repeats across splits, outliers and a nearly constant target."""
        found = super().extra_checks(dataset, splits, near)
        column = dataset.info.get("target_column", TARGET)
        far = dataset.info.get("outliers", {})
        if far.get("count"):
            found.append(("warning", "outliers", (
                f"LABEL_COLUMN={column!r}: {_count(far['count'], 'score')} "
                f"{'lies' if far['count'] == 1 else 'lie'} over {OUTLIER_Z:g} median "
                f"absolute deviations from the median ({far['rows']}: {far['values']}); with a "
                "squared loss they pull the model towards them. Check them for typos or another "
                "unit, and fix or drop their rows.")))
        common = dataset.info.get("most_common_score", {})
        if common.get("share", 0) >= NEARLY_CONSTANT:
            found.append(("warning", "nearly-constant", (
                f"LABEL_COLUMN={column!r}: {common['share']:.0%} of the scores are "
                f"{common['value']:g}, so there is little variation to learn and predicting "
                f"{common['value']:g} is already close; check the column, or collect texts with "
                "other scores.")))
        return found

    # --- training (02) -----------------------------------------------------------------
    def load_processor(self, location):
        """The model's tokenizer."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(location, trust_remote_code=False)

    def new_model(self, location, labels):
        """The base encoder with a zero regression head (it predicts the mean: 0 standardised)."""
        from hackkit.models.regression import build_regression

        return build_regression(location, labels[0] if labels else TARGET, 0.0, 1.0)

    def tokenized(self, frame: pd.DataFrame, tokenizer, max_length: int):
        """A datasets.Dataset of token ids and float scores; padding is left to the collator."""
        from datasets import Dataset as HFDataset

        ds = HFDataset.from_dict({"text": list(frame["text"]),
                                  "label": [float(v) for v in frame[TARGET]]})
        return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                      batched=True, remove_columns=["text"], desc="Tokenizing")

    def train_parts(self, train, validation, labels, location, max_length):
        """Mean pooling + a zero head scaled to the training scores, dynamic padding, R²."""
        from transformers import DataCollatorWithPadding

        from hackkit.models.regression import build_regression

        tokenizer = self.load_processor(location)
        mean, std = target_scale(train[TARGET])
        return TrainParts(
            model=build_regression(location, labels[0], mean, std).train(), processor=tokenizer,
            train_ds=self.tokenized(train, tokenizer, max_length),
            val_ds=self.tokenized(validation, tokenizer, max_length),
            collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics,
            extra={"target_mean": round(mean, 6), "target_std": round(std, 6)})

    def warm_start(self, parts, train, validation, labels, location, max_length, cache_dir,
                   device="cpu", seed=42):
        """The head starts as the ridge probe on the frozen embeddings (the second baseline), so
        every step of the budget refines a model that already predicts; its validation scores
        stand for the step-0 evaluation."""
        import dataclasses

        import torch

        ridge, mean, std = embedding_probe(train, validation, location, max_length, cache_dir,
                                           device, seed)
        with torch.no_grad():
            parts.model.classifier.weight.copy_(torch.from_numpy(
                np.asarray(ridge.coef_, np.float32).reshape(1, -1)))
            parts.model.classifier.bias.fill_(float(ridge.intercept_))
        val_x = cached_embeddings(list(validation["text"]), location, max_length, cache_dir,
                                  name="validation", device=device)
        standard = ridge.predict(val_x)
        start = regression_metrics(validation[TARGET], standard * std + mean)
        start["loss"] = float(np.mean((standard - (validation[TARGET] - mean) / std) ** 2))
        return dataclasses.replace(
            parts, warm_start=True, start_scores={f"eval_{k}": v for k, v in start.items()},
            extra={**parts.extra, "head_init": "ridge probe on mean-pooled embeddings",
                   "probe_alpha": float(ridge.alpha)})

    # --- prediction (03, 04, serve, export) --------------------------------------------
    def load_trained(self, model_dir: Path):
        """Tokenizer and regression model of a saved folder."""
        from transformers import AutoModelForSequenceClassification

        import hackkit.models.regression  # noqa: F401  registers the class with transformers

        check_safetensors(model_dir, str(model_dir))
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, use_safetensors=True, trust_remote_code=False)
        return self.load_processor(str(model_dir)), model

    def check_inputs(self, inputs):
        """Texts as a list of strings."""
        return check_texts(inputs)

    def predict(self, predictor, inputs):
        """The predicted score per text, in length-sorted batches (original order kept)."""
        texts = self.check_inputs(inputs)
        scores = batched_scores(predictor, texts, predictor.outputs, 1)[:, 0]
        return [{"score": float(v)} for v in scores]

    def predictions_table(self, frame, results):
        """True against predicted score per text, with the error."""
        predicted = np.array([r["score"] for r in results], dtype=float)
        return pd.DataFrame({"text": self.inputs_of(frame), "label": frame[TARGET].to_numpy(),
                             "predicted": predicted.round(4),
                             "error": (predicted - frame[TARGET].to_numpy()).round(4)})

    def result_columns(self, results, labels):
        """predicted: the score."""
        return {"predicted": [round(r["score"], 4) for r in results]}

    def result_html(self, result, item):
        """The predicted score, large."""
        return (f'<div style="font-size:130%;margin:6px 0">Predicted {html.escape(TARGET)}: '
                f'<b class="hackkit-demo-label">{result["score"]:.3f}</b></div>')

    # --- evaluation (02, 03) -------------------------------------------------------------
    def baseline_scores(self, splits, labels, split, seed=42):
        """Every text gets the training mean."""
        target = splits[split][TARGET]
        return self.score(pd.DataFrame({"label": target, "predicted": float(
            splits["train"][TARGET].mean())}), labels)

    def extra_baselines(self, splits, labels, split, model_location, max_length, cache_dir,
                        seed=42):
        """TF-IDF + ridge, and ridge on the frozen mean-pooled embeddings (penalties chosen on
        validation)."""
        train, validation, target = splits["train"], splits["validation"], splits[split]
        tfidf = fit_tfidf_ridge(train, validation, seed)
        ridge, mean, std = embedding_probe(train, validation, model_location, max_length,
                                           cache_dir, seed=seed)
        vectors = cached_embeddings(list(target["text"]), model_location, max_length, cache_dir,
                                    name=split)
        return {
            self.tfidf_baseline_name: self.score(pd.DataFrame(
                {"label": target[TARGET], "predicted": tfidf.predict(target["text"])}), labels),
            self.embeddings_baseline_name: self.score(pd.DataFrame(
                {"label": target[TARGET], "predicted": ridge.predict(vectors) * std + mean}), labels),
        }

    def score(self, predictions, labels):
        """R², RMSE, MAE, Pearson, Spearman, and the errors per range of the true score."""
        return {**regression_metrics(predictions["label"], predictions["predicted"]),
                "per_class": per_range(predictions["label"], predictions["predicted"])}

    def confusion_figure(self, predictions, labels):
        """Predicted against true score, with the line where they are equal."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(predictions["label"], predictions["predicted"], s=10, alpha=0.5)
        low = float(min(predictions["label"].min(), predictions["predicted"].min()))
        high = float(max(predictions["label"].max(), predictions["predicted"].max()))
        ax.plot([low, high], [low, high], color="tab:red", linestyle="--", label="predicted = true")
        ax.set(xlabel=f"true {TARGET}", ylabel=f"predicted {TARGET}",
               title="Predicted against true (test split)")
        ax.legend()
        fig.tight_layout()
        return fig

    def worst_errors(self, predictions, k=10):
        """The k texts with the largest absolute error."""
        order = predictions["error"].abs().sort_values(ascending=False).index
        return predictions.loc[order].head(k).reset_index(drop=True)
