"""Checkpoint averaging: the mean of the weights of the best few epochs, kept only if validation
says it helps (AVERAGE_CHECKPOINTS and AVERAGE_MODE in 02_finetune).

Averaging the weights of checkpoints from one training run (a "model soup" of one recipe) often
lands in a flatter, better region than any single epoch; on small data it may also not help, so
the average is scored on the validation split and replaces the best epoch only when it is better.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from hackkit.paths import read_json

WEIGHTS_FILE = "model.safetensors"  # what Trainer writes into each checkpoint-N folder


def checkpoint_scores(checkpoints_dir: str | Path, metric: str) -> list[tuple[float, Path]]:
    """(validation score, folder) of every complete checkpoint, best first."""
    found = []
    for folder in Path(checkpoints_dir).glob("checkpoint-*"):
        state_file, weights = folder / "trainer_state.json", folder / WEIGHTS_FILE
        if not state_file.is_file() or not weights.is_file():
            continue
        step = int(folder.name.rsplit("-", 1)[1])
        scores = [h[f"eval_{metric}"] for h in read_json(state_file)["log_history"]
                  if h.get("step") == step and f"eval_{metric}" in h]
        if scores:
            found.append((float(scores[-1]), folder))
    return sorted(found, key=lambda x: (-x[0], x[1].name))


def load_weights(folder: str | Path) -> dict:
    """A checkpoint's weights (safetensors) as a state dict."""
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / WEIGHTS_FILE))


def average_weights(state_dicts: Sequence[dict]) -> dict:
    """The element-wise mean of floating-point tensors; other tensors (ids, counters) from the first."""
    import torch

    if not state_dicts:
        raise ValueError("average_weights: no checkpoints to average.")
    keys = set(state_dicts[0])
    for i, sd in enumerate(state_dicts[1:], 1):
        if set(sd) != keys:
            raise ValueError(f"checkpoint {i} has other weights than checkpoint 0 "
                             f"({sorted(set(sd) ^ keys)[:5]}...): only checkpoints of one model "
                             "can be averaged.")
    out = {}
    for key, first in state_dicts[0].items():
        if first.is_floating_point():
            out[key] = torch.stack([sd[key].float() for sd in state_dicts]).mean(0).to(first.dtype)
        else:
            out[key] = first.clone()
    return out


def choose_average(candidates: Sequence[tuple[float, Path]], evaluate: Callable[[dict], float],
                   mode: str = "greedy") -> dict:
    """Average the candidates (best first) uniformly or greedily; report what was tried and chosen.

    `evaluate(state_dict)` returns the validation score of those weights. Greedy adds a
    checkpoint to the average only when the validation score improves.
    """
    if mode not in ("greedy", "uniform"):
        raise ValueError(f"AVERAGE_MODE={mode!r}: use 'greedy' or 'uniform'.")
    best_score, best_folder = candidates[0]
    tried = []
    if mode == "uniform":
        chosen = [folder for _, folder in candidates]
        weights = average_weights([load_weights(f) for f in chosen])
        score = evaluate(weights)
        tried.append({"chosen": [f.name for f in chosen], "validation": score})
    else:
        chosen, weights, score = [best_folder], None, best_score
        for _, folder in candidates[1:]:
            trial = average_weights([load_weights(f) for f in [*chosen, folder]])
            trial_score = evaluate(trial)
            tried.append({"chosen": [f.name for f in [*chosen, folder]],
                          "validation": trial_score})
            if trial_score > score:
                chosen, weights, score = [*chosen, folder], trial, trial_score
    kept = weights is not None and len(chosen) > 1 and score > best_score
    return {"mode": mode, "best_single": {"checkpoint": best_folder.name, "validation": best_score},
            "tried": tried, "kept": kept, "chosen": [f.name for f in chosen] if kept else [],
            "validation": score if kept else best_score, "weights": weights if kept else None}


def average_best_checkpoints(trainer, checkpoints_dir: str | Path, metric: str, k: int,
                             mode: str = "greedy") -> dict | None:
    """After training: average the best k checkpoints into trainer.model if validation improves.

    Returns the record for train_summary.json (None when k < 2: averaging is off).
    """
    if k < 2:
        return None
    candidates = checkpoint_scores(checkpoints_dir, metric)[:k]
    if len(candidates) < 2:
        return {"mode": mode, "kept": False, "chosen": [],
                "note": f"only {len(candidates)} checkpoint(s) with a validation score: nothing "
                        "to average (train more epochs)"}
    best = {k_: v.detach().clone() for k_, v in trainer.model.state_dict().items()}

    def evaluate(weights: dict) -> float:
        trainer.model.load_state_dict(weights, strict=False)
        # Its own prefix keeps these evaluations out of the learning curve's eval_* points.
        return float(trainer.evaluate(metric_key_prefix="average")[f"average_{metric}"])

    result = choose_average(candidates, evaluate, mode)
    weights = result.pop("weights")
    trainer.model.load_state_dict(weights if result["kept"] else best, strict=False)
    return result
