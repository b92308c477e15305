"""The labelling loop (00_label): propose a label for each unlabelled text, least certain first with
diversity, and append every label given to a CSV in data/ at once, so a dead kernel loses nothing.

Proposals come from zero-shot by label names until every label has a few examples, then from
the embeddings probe retrained on the labels so far. Every HOLDOUT_EVERY-th label given is kept
aside (still written to the CSV, which 01 reads whole) to measure accuracy round by round.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.models.embeddings import (
    ZERO_SHOT_BELOW_PER_CLASS,
    EmbeddingClassifier,
    cached_embeddings,
    zero_shot_proba,
)
from hackkit.paths import append_csv_row, find_input
from hackkit.tables import check_column, normalise_text, read_table

COLUMNS = ("text", "label", "proposed", "proposer", "time")
HOLDOUT_EVERY = 5  # every 5th label given measures accuracy instead of training the proposer
DIVERSITY = 0.5  # weight of similarity to texts already chosen, against uncertainty


def read_labels_file(path: str | Path) -> pd.DataFrame:
    """The labels given so far (empty when the file does not exist yet)."""
    path = find_input(path)
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame(columns=list(COLUMNS))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, on_bad_lines="skip")
    missing = [c for c in ("text", "label") if c not in frame.columns]
    if missing:
        raise ValueError(f"OUT_PATH={str(path)!r} has no column {missing}: it is not a labels file "
                         "written by the labelling loop. Choose a new OUT_PATH; existing files are "
                         "never overwritten.")
    return frame[frame["text"].str.strip().astype(bool) & frame["label"].str.strip().astype(bool)]


@dataclass
class LabelSession:
    """Unlabelled texts, the label names and the labels file; `current` is the text to label next."""

    texts_path: str | Path
    labels: list[str]
    out_path: str | Path
    model_location: str
    text_column: str = "text"
    round_size: int = 10
    max_texts: int = 0  # 0: all texts of the file
    seed: int = 42
    cache_dir: str | Path | None = None
    descriptions: dict[str, str] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.labels = [str(x) for x in self.labels]
        if len(set(self.labels)) < 2:
            raise ValueError(f"LABELS={self.labels!r}: give at least two different label names, "
                             "comma-separated, e.g. 'refund,login,delivery'.")
        if self.round_size < 1:
            raise ValueError(f"ROUND_SIZE={self.round_size!r}: use a positive number, e.g. 10.")
        self.out_path = find_input(self.out_path)
        source = find_input(self.texts_path)
        frame = read_table(source)
        check_column(frame, self.text_column, "TEXT_COLUMN", source)
        texts = frame[self.text_column].fillna("").astype(str).str.strip()
        texts = texts[texts.astype(bool)].drop_duplicates().tolist()
        if self.max_texts and len(texts) > self.max_texts:
            rng = np.random.default_rng(self.seed)
            texts = [texts[i] for i in sorted(rng.choice(len(texts), self.max_texts, replace=False))]
        self.texts = texts
        cache = Path(self.cache_dir) if self.cache_dir else self.out_path.parent / ".label_cache"
        self.emb = cached_embeddings(texts, self.model_location, 128, cache, name="texts")
        self.given = read_labels_file(self.out_path)
        unknown = sorted(set(self.given["label"]) - set(self.labels))
        if unknown:
            raise ValueError(f"{self.out_path} holds labels {unknown} that are not in LABELS; add "
                             "them to LABELS to continue this file, or choose a new OUT_PATH.")
        self.skipped: set[int] = set()
        self.queue: list[int] = []
        self.proba = np.zeros((len(texts), len(self.labels)))
        self.proposer = ""
        self._new_round()

    # --- what has been labelled ------------------------------------------------------
    def _done(self) -> set[str]:
        return set(self.given["text"].map(normalise_text))

    def _split_given(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(train, holdout): every HOLDOUT_EVERY-th label given is held out."""
        held = (np.arange(len(self.given)) % HOLDOUT_EVERY) == HOLDOUT_EVERY - 1
        return self.given[~held], self.given[held]

    def _embedded(self, texts: pd.Series) -> np.ndarray:
        index = {t: i for i, t in enumerate(self.texts)}
        rows = [index[t] for t in texts if t in index]
        return self.emb[rows] if rows else np.zeros((0, self.emb.shape[1]), dtype=np.float32)

    def _fit(self) -> tuple[str, object]:
        """Zero-shot until every label has ZERO_SHOT_BELOW_PER_CLASS training labels, then the probe."""
        train, _ = self._split_given()
        train = train[train["text"].isin(self.texts)]
        counts = train["label"].value_counts()
        if all(counts.get(label, 0) >= ZERO_SHOT_BELOW_PER_CLASS for label in self.labels):
            probe = EmbeddingClassifier().fit(self._embedded(train["text"]), train["label"],
                                              seed=self.seed)
            return "embeddings", probe
        return "zero-shot", None

    def _predict(self, proposer: str, probe, emb: np.ndarray) -> np.ndarray:
        """Probabilities with columns in self.labels order."""
        if proposer == "zero-shot":
            return zero_shot_proba(emb, self.labels, self.model_location, self.descriptions)
        order = [probe.labels.index(label) for label in self.labels]
        return probe.predict_proba(emb)[:, order]

    def _new_round(self) -> None:
        """Refit the proposer, measure it on the held-out labels, pick the next round's texts."""
        self.proposer, probe = self._fit()
        _, holdout = self._split_given()
        holdout = holdout[holdout["text"].isin(self.texts)]
        accuracy = None
        if len(holdout):
            guessed = self._predict(self.proposer, probe, self._embedded(holdout["text"]))
            accuracy = float((np.array(self.labels)[guessed.argmax(1)] == holdout["label"].values).mean())
        self.history.append({"round": len(self.history) + 1, "labels": len(self.given),
                             "proposer": self.proposer, "holdout": len(holdout),
                             "holdout_accuracy": accuracy})
        done = self._done()
        open_ = [i for i, t in enumerate(self.texts) if normalise_text(t) not in done
                 and i not in self.skipped]
        if not open_:
            open_ = [i for i in sorted(self.skipped) if normalise_text(self.texts[i]) not in done]
            self.skipped.clear()
        self.queue = []
        if not open_:
            return
        self.proba[open_] = self._predict(self.proposer, probe, self.emb[open_])
        top = np.sort(self.proba[open_], axis=1)[:, ::-1]
        uncertainty = 1.0 - (top[:, 0] - top[:, 1])  # small margin: the proposer hesitates
        # Greedy: most uncertain first, each pick penalised by its similarity to earlier picks.
        chosen: list[int] = []
        penalty = np.zeros(len(open_))
        for _ in range(min(self.round_size, len(open_))):
            score = uncertainty - DIVERSITY * penalty
            score[[open_.index(c) for c in chosen]] = -np.inf
            best = int(np.argmax(score))
            chosen.append(open_[best])
            penalty = np.maximum(penalty, self.emb[open_] @ self.emb[open_[best]])
        self.queue = chosen

    # --- the three actions -----------------------------------------------------------
    @property
    def current(self) -> dict | None:
        """The text to label now with the proposed label and its probability; None when all are done."""
        if not self.queue:
            return None
        i = self.queue[0]
        best = int(self.proba[i].argmax())
        return {"index": i, "text": self.texts[i], "proposed": self.labels[best],
                "confidence": float(self.proba[i, best]), "proposer": self.proposer}

    def give(self, label: str) -> Path:
        """Record `label` for the current text (appended to OUT_PATH at once) and move on."""
        item = self.current
        if item is None:
            raise ValueError("every text is labelled or skipped: nothing to label.")
        if label not in self.labels:
            raise ValueError(f"label {label!r} is not one of LABELS {self.labels}.")
        row = [item["text"], label, item["proposed"], item["proposer"],
               datetime.now(timezone.utc).isoformat(timespec="seconds")]
        append_csv_row(self.out_path, COLUMNS, row)
        self.given = pd.concat([self.given, pd.DataFrame([dict(zip(COLUMNS, row))])],
                               ignore_index=True)
        self._advance()
        return self.out_path

    def accept(self) -> Path:
        """Give the proposed label."""
        if self.current is None:
            raise ValueError("every text is labelled or skipped: nothing to accept.")
        return self.give(self.current["proposed"])

    def skip(self) -> None:
        """Leave the current text for later (it comes back when everything else is done)."""
        if self.queue:
            self.skipped.add(self.queue[0])
            self._advance()

    def _advance(self) -> None:
        self.queue.pop(0)
        if not self.queue:
            self._new_round()

    def proposed_counts(self) -> pd.Series:
        """How the current proposer labels the texts not labelled yet: a first look at the classes."""
        done = self._done()
        open_ = [i for i, t in enumerate(self.texts) if normalise_text(t) not in done]
        proposer, probe = self._fit()
        if not open_:
            return pd.Series(dtype=int, name="texts")
        best = self._predict(proposer, probe, self.emb[open_]).argmax(1)
        return (pd.Series(np.array(self.labels)[best]).value_counts()
                .reindex(self.labels, fill_value=0).rename("texts"))

    def progress(self) -> pd.DataFrame:
        """One row per round: labels given, the proposer, its accuracy on the held-out labels."""
        return pd.DataFrame(self.history)


class LabelPanel:
    """ipywidgets panel over a LabelSession: accept, pick another label, skip."""

    def __init__(self, session: LabelSession) -> None:
        import ipywidgets as w

        self.session = session
        self.text = w.HTML()
        self.proposal = w.HTML()
        self.accept_button = w.Button(description="Accept", button_style="success", icon="check")
        self.other = w.Dropdown(options=session.labels, description="Other label")
        self.other_button = w.Button(description="Use this label", icon="tag")
        self.skip_button = w.Button(description="Skip", icon="forward")
        self.status = w.HTML()
        for widget, name in [(self.text, "text"), (self.proposal, "proposal"),
                             (self.accept_button, "accept"), (self.other_button, "other"),
                             (self.skip_button, "skip"), (self.status, "status")]:
            widget.add_class(f"hackkit-label-{name}")  # stable hooks for a browser test
        self.accept_button.on_click(lambda _: self._do(session.accept))
        self.other_button.on_click(lambda _: self._do(lambda: session.give(self.other.value)))
        self.skip_button.on_click(lambda _: self._do(session.skip))
        self.ui = w.VBox([self.text, self.proposal,
                          w.HBox([self.accept_button, self.skip_button]),
                          w.HBox([self.other, self.other_button]), self.status])
        self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)

    def _do(self, action) -> None:
        action()
        self.refresh()

    def refresh(self) -> None:
        """Show the current text, its proposal and the progress so far."""
        item, s = self.session.current, self.session
        done = item is None
        for button in (self.accept_button, self.other_button, self.skip_button):
            button.disabled = done
        if done:
            self.text.value = "<b>Every text is labelled.</b>"
            self.proposal.value = ""
        else:
            self.text.value = (f'<div style="font-size:120%;margin:6px 0">'
                               f'{html.escape(item["text"])}</div>')
            self.proposal.value = (f'Proposed ({item["proposer"]}): <b class="hackkit-label-proposed">'
                                   f'{html.escape(item["proposed"])}</b> ({item["confidence"]:.0%})')
            self.other.value = item["proposed"]
        last = s.history[-1]
        accuracy = ("not measured yet" if last["holdout_accuracy"] is None else
                    f"{last['holdout_accuracy']:.0%} on {last['holdout']} held-out labels")
        self.status.value = (f"{len(s.given)} labelled in {html.escape(str(s.out_path))}; "
                             f"round {last['round']}, proposer {last['proposer']}, accuracy {accuracy}.")
