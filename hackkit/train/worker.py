"""One of NPROC training processes: `python -m torch.distributed.run ... -m hackkit.train.worker RUN_DIR`.

hackkit.train.distributed.launch_training starts these; each reads the TrainConfig the launcher wrote
into the run folder, joins the process group and trains through the METHOD's own function, which
asks hackkit.train.distributed whether it is rank 0 (the one that writes the run folder's files).
"""

from __future__ import annotations

import sys

from hackkit.params import TrainConfig
from hackkit.paths import read_json
from hackkit.runfolder import Run
from hackkit.train.distributed import init_worker
from hackkit.train.methods import train_model


def main(argv: list[str]) -> int:
    """Train this process's share of the run in argv[0]; exit code 0 when done."""
    import torch.distributed as dist

    if len(argv) != 1:
        print("usage: python -m torch.distributed.run --nproc_per_node N -m hackkit.train.worker "
              "RUN_DIR", file=sys.stderr)
        return 2
    run = Run(argv[0])
    config = TrainConfig(**read_json(run.train_config))
    init_worker(config)
    try:
        train_model(run.path, config)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
