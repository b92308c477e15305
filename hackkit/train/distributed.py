"""Data-parallel training of one run across NPROC processes, through torch's own launcher.

`NPROC = 1` (the default) trains in the notebook's process. With `NPROC = N > 1`,
`launch_training` writes the TrainConfig into the run folder and starts
`python -m torch.distributed.run --standalone --nproc_per_node N -m hackkit.train.worker RUN_DIR`;
each worker builds the same model and encoded splits, and transformers' Trainer (which reads
RANK / WORLD_SIZE itself) wraps the model in DistributedDataParallel on the `gloo` backend (CPU)
or `nccl` (one CUDA GPU per process). Rank 0 writes the model folder and the training summary as a
single-process run does; the notebook reads the summary and carries on.

BATCH_SIZE stays the number of examples per optimizer step: each process takes BATCH_SIZE / NPROC
of them and DDP averages the gradients, so NPROC changes where the work runs, not what is trained.
The helpers below are what the training code asks when it may be one of several processes.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from hackkit.device import resolve_device
from hackkit.paths import write_json
from hackkit.runfolder import Run
from hackkit.summary import TrainSummary

WORKER_MODULE = "hackkit.train.worker"  # what every process runs: `python -m hackkit.train.worker RUN_DIR`
LOG_TAIL_LINES = 40  # lines of the workers' output quoted when they fail


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, number of processes), from torchrun's environment; (0, 1) outside it."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this process writes the run folder's files (rank 0, or the only process)."""
    return rank_and_world()[0] == 0


def _initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def backend_for(device: str) -> str:
    """The process-group backend for a device: nccl between CUDA GPUs, gloo on CPUs."""
    return "nccl" if device == "cuda" else "gloo"


def cpu_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_process(nproc: int) -> int:
    """CPU threads for each of nproc processes, so that together they do not oversubscribe."""
    return max(1, cpu_cores() // nproc)


def check_processes(config) -> tuple[int, int]:
    """(rank, world size), after checking this process is one of NPROC workers (or NPROC is 1)."""
    rank, world = rank_and_world()
    if world != config.nproc:
        raise ValueError(
            f"NPROC={config.nproc}, but this process is one of {world}. Train through "
            f"hk.train_model(run_dir, config), which starts the {config.nproc} processes with "
            "torchrun, or set NPROC=1 to train in this process."
        )
    return rank, world


def barrier() -> None:
    """Wait for every process (nothing to wait for in a single process)."""
    if _initialized():
        import torch.distributed as dist

        dist.barrier()


def slowest(value: float) -> float:
    """The smallest of every process's value (the value itself in a single process)."""
    if not _initialized():
        return value
    import torch
    import torch.distributed as dist

    device = f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return float(tensor.item())


def process_report(device: str) -> dict[str, Any] | None:
    """Each process's rank, pid, device and threads (gathered to all); None in a single process."""
    if not _initialized():
        return None
    import torch
    import torch.distributed as dist

    rank, world = rank_and_world()
    mine = {"rank": rank, "pid": os.getpid(), "threads": torch.get_num_threads(),
            "device": f"cuda:{torch.cuda.current_device()}" if device == "cuda" else device}
    everyone: list[Any] = [None] * world
    dist.all_gather_object(everyone, mine)
    return {"processes": world, "backend": dist.get_backend(), "ranks": everyone}


class AgreeToStop(TrainerCallback):
    """When one process decides to stop, evaluate or save, every process does the same.

    The time budget (rank 0's clock), early stopping and a search pruner decide in one
    process; without this, the others would wait for it in the next gradient exchange forever.
    Added last, so it sees what every other callback decided.
    """

    def _agree(self, control, flags: tuple[str, ...]):
        import torch
        import torch.distributed as dist

        if not _initialized():
            return control
        device = f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"
        votes = torch.tensor([float(getattr(control, f)) for f in flags], device=device)
        dist.all_reduce(votes, op=dist.ReduceOp.MAX)
        for flag, vote in zip(flags, votes.tolist()):
            setattr(control, flag, bool(vote))
        return control

    def on_step_end(self, args, state, control, **kwargs):
        return self._agree(control, ("should_training_stop", "should_evaluate", "should_save"))

    def on_evaluate(self, args, state, control, **kwargs):
        return self._agree(control, ("should_training_stop",))


def agree_to_stop_callback() -> AgreeToStop:
    """The callback that keeps every process's stop / evaluate / save decisions the same."""
    return AgreeToStop()


def init_worker(config) -> str:
    """Inside a torchrun worker: pin the device and threads, join the process group; its backend."""
    import torch
    import torch.distributed as dist

    check_processes(config)
    device = resolve_device(config.device)
    if device == "cuda":  # one GPU per process, before anything touches CUDA
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    else:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or
                                  threads_per_process(config.nproc)))
    backend = backend_for(device)
    if not dist.is_initialized():  # Trainer (accelerate) reuses this group
        dist.init_process_group(backend=backend)
    return backend


def check_launch(config) -> str:
    """Check that NPROC processes can train on this machine's devices; return the device."""
    import torch

    config.validate()
    device = resolve_device(config.device)
    if device == "mps":
        raise ValueError(f"NPROC={config.nproc} trains with several processes on CUDA GPUs or "
                         "CPUs; Apple's MPS backend has one device. Set NPROC=1, or DEVICE='cpu'.")
    if device == "cuda" and torch.cuda.device_count() < config.nproc:
        raise ValueError(
            f"NPROC={config.nproc} needs {config.nproc} CUDA GPUs (one process per GPU, nccl); "
            f"{torch.cuda.device_count()} visible. Set NPROC to at most "
            f"{torch.cuda.device_count()}, or DEVICE='cpu' for CPU processes (gloo).")
    return device


# A worker's exception as torch prints it ("[rank0]: ValueError: ..."), not torchrun's own report.
_ERROR_LINE = re.compile(r"^(\[rank\d+\]:\s*)?([\w.]*(Error|Exception|Interrupt)\b: .*)$")


def first_error(log: str) -> str:
    """The first exception line of the workers' output, e.g. "ValueError: LORA_TARGETS=...", or ""."""
    for line in log.splitlines():
        found = _ERROR_LINE.match(line.strip())
        if found and "ChildFailedError" not in found.group(2):
            return found.group(2)
    return ""


def torchrun_command(run_dir: str | Path, nproc: int) -> list[str]:
    """torch's own launcher, on this machine only, running one worker per process."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", str(nproc), "-m", WORKER_MODULE, str(Path(run_dir).resolve())]


def launch_training(run_dir: str | Path, config) -> TrainSummary:
    """Train one model with NPROC processes (torchrun); stream their output; return the summary."""
    run = Run(run_dir)
    device = check_launch(config)
    threads = threads_per_process(config.nproc)
    if device == "cpu" and config.nproc > cpu_cores():
        print(f"note: NPROC={config.nproc} processes on {cpu_cores()} CPU cores: each gets one "
              "thread and they take turns; NPROC at most the number of cores is faster.")
    write_json(run.train_config, asdict(config))  # what every worker reads
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("OMP_NUM_THREADS", str(threads))  # torchrun would set 1; a user's value wins
    command = torchrun_command(run.path, config.nproc)
    print(f"training with {config.nproc} processes ({backend_for(device)}, BATCH_SIZE "
          f"{config.batch_size} = {config.batch_size // config.nproc} per process x "
          f"{config.nproc}): {' '.join(command[1:])}", flush=True)
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
    started = time.monotonic()
    with run.distributed_log.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, cwd=str(Path.cwd()))
        try:
            for line in proc.stdout:
                log.write(line)
                tail.append(line.rstrip("\n"))
                print(line, end="", flush=True)
            code = proc.wait()
        finally:  # interrupted (Ctrl-C in the notebook): stop torchrun, which stops its workers
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    if code != 0 or not run.train_summary.is_file():
        cause = first_error(run.distributed_log.read_text(encoding="utf-8", errors="replace"))
        listed = "\n".join(tail)
        raise RuntimeError(
            f"NPROC={config.nproc}: the training processes failed (torchrun exit code {code})"
            f"{': ' + cause if cause else ''}. The whole log is {run.distributed_log}; "
            f"NPROC=1 trains in this process instead. Last lines:\n{listed}")
    summary = TrainSummary.read(run.train_summary)
    summary.distributed = {**(summary.distributed or {}),
                           "launch_seconds": round(time.monotonic() - started, 2)}
    summary.write(run.train_summary)
    return summary
