"""The frozen embedding pass in fp32 against bf16 autocast, and the multi-label probe fitted in one
process against one per core, on real texts.

Embeds the first --rows texts of DATA with the default encoder (MiniLM) at --max-length tokens, in
fp32 and under bf16 autocast (what `precision="auto"` picks on a CPU with native bf16), the two
timed in turns for --rounds rounds; prints texts/s of each, the ratio and the cosine between the
two precisions' vectors. With --labels COLUMN (labels joined by ';'), it then fits the multi-label
probe (one logistic regression per label) on the bf16 vectors in one process and with one process
per core, and prints both times.

    python benchmarks/bench_embedding_precision.py \
        ../shared/benchdata/reuters21578/reuters21578_modapte.parquet --labels labels
"""

from __future__ import annotations

import argparse
import statistics
import time

from hackkit.device import cpu_has_bf16
from hackkit.models.embeddings import embed
from hackkit.models.resolve import resolve_model
from hackkit.params import DEFAULT_MODEL
from hackkit.tables import read_input
from hackkit.tasks.multilabel import fit_probe, label_matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--text", default="text", help="the text column")
    parser.add_argument("--labels", default="", help="a column of labels joined by ';': time the probe")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    frame = read_input(args.data)[0].head(args.rows)
    texts = [str(t) for t in frame[args.text]]
    location = resolve_model(DEFAULT_MODEL).location
    print(f"{len(texts)} texts of {args.data}, max_length {args.max_length}, "
          f"native bf16 on this CPU: {cpu_has_bf16()}")
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    vectors = {}
    for _ in range(args.rounds):
        for precision in ("fp32", "bf16"):
            start = time.perf_counter()
            vectors[precision] = embed(texts, location, args.max_length, precision=precision,
                                       progress=False)
            seconds[precision].append(time.perf_counter() - start)
    speed = {p: len(texts) / statistics.median(s) for p, s in seconds.items()}
    cosine = (vectors["fp32"] * vectors["bf16"]).sum(axis=1)
    print(f"fp32 {speed['fp32']:.1f} texts/s, bf16 {speed['bf16']:.1f} texts/s: "
          f"{speed['bf16'] / speed['fp32']:.2f}x; cosine bf16 to fp32 mean {cosine.mean():.6f}, "
          f"min {cosine.min():.6f} (median of {args.rounds} rounds, model load included)")
    if args.labels:
        rows = [[x.strip() for x in str(v).split(";") if x.strip()] for v in frame[args.labels]]
        labels = sorted({x for row in rows for x in row})
        gold = label_matrix(rows, labels)
        times = {}
        for jobs in (1, -1):
            start = time.perf_counter()
            fit_probe(vectors["bf16"], gold, n_jobs=jobs)
            times[jobs] = time.perf_counter() - start
        print(f"probe over {len(labels)} labels: one process {times[1]:.1f} s, one per core "
              f"{times[-1]:.1f} s: {times[1] / times[-1]:.1f}x")


if __name__ == "__main__":
    main()
