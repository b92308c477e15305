"""Image classification on the sample shapes: frozen-feature baseline vs fine-tuning vs from scratch.

In one process, on the same stratified train/test split of data/shapes and the same image size:
(a) logistic regression on frozen pooled EfficientNet-Lite0 features, (b) fine-tuning the ImageNet-
pretrained network with transformers' Trainer, (c) the same network and budget from random weights.
The budget is EPOCHS epochs capped at MINUTES of training each (the same cap for (b) and (c)), so the
run fits a few minutes on a shared 2-core CPU; the figures record the steps each one reached.
Prints test accuracy and seconds for each, and writes them to OUT/results.json.

    python benchmarks/bench_images.py [--size 128] [--epochs 2] [--minutes 2] [--out /tmp/bench-images]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from hackkit.tasks.images import classifier, reading, transforms


def finetune(model, spec, train_items, args, out: Path) -> tuple[float, int]:
    """Train with Trainer for the fixed budget; return seconds and optimiser steps done."""
    from transformers import Trainer, TrainerCallback, TrainingArguments

    class TimeCap(TrainerCallback):
        """Stop after args.minutes of training (no evaluation: this benchmark scores the test split)."""

        def on_train_begin(self, targs, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, targs, state, control, **kwargs):
            if time.perf_counter() - self.start > args.minutes * 60:
                control.should_training_stop = True
            return control

    targs = TrainingArguments(
        output_dir=str(out), num_train_epochs=args.epochs, learning_rate=args.lr,
        per_device_train_batch_size=args.batch_size, weight_decay=0.01, warmup_steps=0.1,
        lr_scheduler_type="cosine", save_strategy="no", eval_strategy="no", logging_steps=5,
        seed=args.seed, use_cpu=True, report_to="none", remove_unused_columns=False,
        dataloader_num_workers=0)
    trainer = Trainer(model=model, args=targs, train_dataset=train_items,
                      data_collator=transforms.ImageCollator(spec, seed=args.seed),
                      callbacks=[TimeCap()])
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start, trainer.state.global_step


def accuracy(model, spec, test) -> float:
    """Test accuracy of a classifier over the test frame."""
    proba = classifier.predict_image_proba(model, spec, list(test["path"]))
    labels = [model.config.id2label[i] for i in proba.argmax(1)]
    return float(np.mean(np.array(labels) == test["label"].to_numpy()))


def main() -> None:
    """Run the three approaches and print/write their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-images"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    frame = reading.load_images(reading.sample_images())
    train, test = train_test_split(frame, test_size=0.25, stratify=frame["label"], random_state=args.seed)
    labels = sorted(frame["label"].unique())
    items = transforms.image_items(train, labels, augment=True)
    results = {"images": {"train": len(train), "test": len(test)}, "labels": labels, "size": args.size,
               "epochs": args.epochs, "minutes_cap": args.minutes, "batch_size": args.batch_size, "learning_rate": args.lr,
               "threads": torch.get_num_threads(), "chance": 1 / len(labels)}

    start = time.perf_counter()
    model, spec = classifier.load_image_classifier(classifier.DEFAULT_IMAGE_MODEL, labels, size=args.size)
    feats_train = classifier.image_features(model, spec, list(train["path"]))
    feats_test = classifier.image_features(model, spec, list(test["path"]))
    probe = classifier.fit_feature_baseline(feats_train, train["label"], seed=args.seed)
    acc = float(np.mean(probe.predict(feats_test) == test["label"].to_numpy()))
    results["frozen_features_logreg"] = {"accuracy": acc, "seconds": time.perf_counter() - start}
    print(f"(a) frozen features + logistic regression: accuracy {acc:.3f}", flush=True)

    for name, pretrained in (("finetune_pretrained", True), ("from_scratch", False)):
        model, spec = classifier.load_image_classifier(classifier.DEFAULT_IMAGE_MODEL, labels, size=args.size,
                                               pretrained=pretrained, seed=args.seed)
        seconds, steps = finetune(model, spec, items, args, args.out / name)
        acc = accuracy(model, spec, test)
        epochs = steps * args.batch_size / len(items)
        results[name] = {"accuracy": acc, "seconds": seconds, "steps": steps, "epochs_done": round(epochs, 2)}
        print(f"({'b' if pretrained else 'c'}) {name}: accuracy {acc:.3f} in {seconds:.0f} s, "
              f"{steps} steps ({epochs:.2f} epochs)", flush=True)

    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
