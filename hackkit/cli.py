"""Command line: `python -m hackkit run|params|doctor|sweep|leaderboard|serve|export|distill`.

Each command imports its modules inside its own function, on purpose: `params` or `leaderboard`
should not pay for loading torch and transformers, which `serve` and `distill` need."""

from __future__ import annotations

import argparse
import sys

from hackkit.params import DataConfig, check_params, load_params, notebook_parameters
from hackkit.paths import read_json


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m hackkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run 01 -> 03 with papermill into a new folder under runs/")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"), help="set a notebook parameter (repeatable)")
    run.add_argument("-f", "--parameters-file", help="YAML file of NAME: value parameters")
    run.add_argument("--name", default="", help="label appended to the run folder's name")
    run.add_argument("--resume", metavar="RUN_DIR", default="",
                     help="finish an interrupted or failed run in its folder, with its parameters")
    run.add_argument("--nproc", type=int, default=None, metavar="N",
                     help="train the one model with N data-parallel processes (torchrun; the GPUs "
                          "to use, or CPU processes); the same as -p NPROC N")
    run.add_argument("--dry-run", action="store_true",
                     help="check everything and print what each notebook would do, with the "
                          "training plan measured on a few batches; train nothing, write no run")
    sub.add_parser("params", help="list the notebook parameters, their defaults and meaning")
    doctor = sub.add_parser("doctor", help="check a data file and print a fix for each problem")
    doctor.add_argument("data", help="the data file, e.g. data/support_intents.csv")
    doctor.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="a 01_explore parameter, e.g. -p TEXT_COLUMN body")
    sweep = sub.add_parser("sweep", help="run 01 -> 03 once per setting of a sweep file; resumable")
    sweep.add_argument("file", help="sweep YAML: name, fixed, grid, settings and/or search")
    sweep.add_argument("--dry-run", action="store_true", help="check and list the settings; run none")
    sweep.add_argument("--workers", type=int, default=1,
                       help="search: worker processes on this machine sharing the study (default 1)")
    sweep.add_argument("--storage", default="",
                       help="search: Optuna storage URL (e.g. postgresql://...) shared by machines; "
                            "default: a journal file in runs/sweeps/<name>/")
    sweep.add_argument("--worker", type=int, default=-1, help=argparse.SUPPRESS)  # set by --workers
    sweep.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    board = sub.add_parser("leaderboard", help="rank all runs by a metric; write a CSV")
    board.add_argument("--metric", default="",
                       help="test metric to rank by (default: each task's main metric)")
    board.add_argument("--csv", default=None, help="where to write it (default runs/leaderboard.csv)")
    board.add_argument("--sweep", default="", help="only the runs of this sweep")
    serve = sub.add_parser("serve", help="serve a run's model over HTTP: POST /predict, GET /health")
    serve.add_argument("run", nargs="?", default="", help="run folder (default: latest with a model)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    serve.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    serve.add_argument("--int8", action="store_true",
                       help="serve a dynamically int8-quantised copy (CPU; faster, about as accurate)")
    distill = sub.add_parser("distill", help="train a smaller student from a run's model into a new run")
    distill.add_argument("run", help="the teacher: a finished text-classification run folder")
    distill.add_argument("--student", default="",
                         help="model to train (default: the teacher with every other layer kept)")
    distill.add_argument("--layers", type=int, default=0,
                         help="layers of the teacher the default student keeps, evenly spaced, the "
                              "top one included (default 0: every other one)")
    distill.add_argument("--ffn", type=int, default=0,
                         help="feed-forward units the default student keeps in each layer, those "
                              "with the largest weights (default 0: all; MiniLM has 1536)")
    distill.add_argument("--temperature", type=float, default=2.0,
                         help="softens the teacher's outputs (default 2.0)")
    distill.add_argument("--alpha", type=float, default=0.5,
                         help="weight of the teacher's soft labels vs the gold labels (default 0.5)")
    distill.add_argument("--embedding-weight", type=float, default=1.0,
                         help="weight of matching the teacher's sentence embedding (its head's "
                              "input; cosine distance) beside its outputs (default 1.0; 0: off)")
    distill.add_argument("--unlabelled", default="",
                         help="file of extra texts (column `text`) the teacher labels for training")
    distill.add_argument("--epochs", type=float, default=0.0,
                         help="student epochs (default: the teacher's EPOCHS)")
    distill.add_argument("--minutes", type=float, default=-1.0,
                         help="the student's time budget (default: the teacher's "
                              "TIME_BUDGET_MINUTES; 0: no limit)")
    distill.add_argument("--name", default="", help="label of the new run folder")
    export = sub.add_parser("export", help="write the model card; with --onnx also an ONNX copy")
    export.add_argument("run", nargs="?", default="", help="run folder (default: latest with a model)")
    export.add_argument("--onnx", action="store_true", help="also export the model to ONNX and check it against PyTorch")
    return parser


def _doctor(data: str, pairs: list[tuple[str, str]]) -> int:
    """Print the data doctor's report; exit code 2 when it found blocking problems."""
    from hackkit.data.doctor import diagnose

    params = check_params(load_params(None, pairs), notebook_parameters(("01_explore.ipynb",)))
    report = diagnose(DataConfig.from_params({**params, "DATA_PATH": data}))
    print(report.text())
    return 2 if report.errors else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "params":
        for notebook, params in notebook_parameters().items():
            print(notebook)
            for key, p in params.items():
                print(f"  {key:<22} {p['default']!r:<45} {p['help']}")
        return 0
    if args.command in ("sweep", "leaderboard"):
        return _sweep(args) if args.command == "sweep" else _leaderboard(args)
    if args.command in ("serve", "export", "distill"):
        try:
            return {"serve": _serve, "export": _export, "distill": _distill}[args.command](args)
        except (ValueError, FileNotFoundError, FileExistsError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    from hackkit.runs.pipeline import dry_run, resume_run, run_pipeline

    try:
        if args.command == "doctor":
            return _doctor(args.data, [tuple(p) for p in args.parameter])
        pairs = [tuple(p) for p in args.parameter]
        if args.command == "run" and args.nproc is not None:
            pairs.append(("NPROC", str(args.nproc)))  # checked like any parameter
        if args.command == "run" and args.dry_run:
            if args.resume:
                raise ValueError("--dry-run checks a new run; drop --resume.")
            dry_run(load_params(args.parameters_file, pairs))
            return 0
        if args.resume:
            if args.parameter or args.parameters_file or args.name or args.nproc is not None:
                raise ValueError("--resume reuses the run's own parameters and name; drop -p, -f, "
                                 "--nproc and --name (or start a new run with them).")
            run_dir = resume_run(args.resume)
        else:
            params = load_params(args.parameters_file, pairs)
            run_dir = run_pipeline(params, name=args.name)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a notebook failed: run.json and the executed notebook say why
        print(f"error: run failed: {type(e).__name__}: {str(e).strip()[-1500:]}", file=sys.stderr)
        return 1
    from hackkit.runfolder import Run
    from hackkit.use.evaluate import headline_scores

    print(f"\nrun finished: {run_dir}")
    for key, value in headline_scores(run_dir).items():
        name = key.replace("_f1", "-F1").replace("_", " ")
        print(f"  {name if name.startswith('baseline') else 'test ' + name:<24}{value:.4f}")
    print(f"  metrics: {Run(run_dir).metrics}; notebooks: {run_dir}/*.ipynb")
    verdict = read_json(Run(run_dir).metrics).get("verdict")
    if verdict:  # prominent: a model that loses to the baseline must not go unnoticed
        flag = "" if verdict["beats_baseline"] and not verdict["problems"] else "!! "
        print(f"\n{flag}{verdict['message']}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """`sweep FILE`: exit 0 when every setting is done, 1 when some failed, 2 on bad input."""
    from hackkit.runs.sweep import checked_plan, run_sweep, run_worker, sweep_dir

    try:
        if args.worker >= 0:  # one of the processes `--workers N` started
            run_worker(args.file, args.worker, args.storage, args.deadline,
                       log=lambda line: print(line, flush=True))
            return 0
        if args.dry_run:
            spec, trials = checked_plan(args.file)
            state_file = sweep_dir(spec.name) / "state.json"
            done = read_json(state_file)["trials"] if state_file.is_file() else {}
            for t in trials:
                status = done.get(t.key, {}).get("status", "new")
                print(f"{t.label:<12} {status:<8} {t.params}")
            kind = "search space ends" if spec.search else "settings"
            print(f"{len(trials)} {kind} checked; sweep state: {sweep_dir(spec.name)}")
            return 0
        state = run_sweep(args.file, storage=args.storage, workers=args.workers)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; run `python -m hackkit sweep {args.file}` again to resume.",
              file=sys.stderr)
        return 130
    print(f"next: python -m hackkit leaderboard --sweep {state['name']}")
    return 1 if state["summary"]["failed"] else 0


def _leaderboard(args: argparse.Namespace) -> int:
    """`leaderboard`: print the ranked table per task + data and write it as CSV."""
    import pandas as pd

    from hackkit.runs.leaderboard import leaderboard, leaderboard_view, write_leaderboard

    try:
        board = leaderboard(metric=args.metric, sweep=args.sweep)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = leaderboard_view(board)
    if isinstance(table, str):
        print(table)
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 40,
                           "display.float_format", "{:.4f}".format):
        for group, part in table.groupby(level="group", sort=False):
            print(f"\n== {group} (ranked by test {part['ranked_by'].iloc[0]}) ==")
            print(part.droplevel("group").to_string())
    print(f"\nwrote {write_leaderboard(board, args.csv)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """`serve`: run the HTTP API until interrupted."""
    from hackkit.use.serve import serve_model

    serve_model(args.run, host=args.host, port=args.port, device=args.device, int8=args.int8)
    return 0


def _distill(args: argparse.Namespace) -> int:
    """`distill RUN`: train a student into a new run folder, score it like 03, print where it is."""
    from hackkit.runs.distill import distill_run
    from hackkit.train.distillation import DistillConfig

    summary = distill_run(args.run, DistillConfig(
        student=args.student, temperature=args.temperature, alpha=args.alpha,
        unlabelled=args.unlabelled, epochs=args.epochs, time_budget_minutes=args.minutes,
        layers=args.layers, ffn=args.ffn, embedding_weight=args.embedding_weight),
        name=args.name)
    print(f"student run: {summary['run_dir']}")
    for key, value in summary["test"].items():
        print(f"  test {key:<20}{value:.4f}")
    return 0


def _export(args: argparse.Namespace) -> int:
    """`export`: model card, and optionally ONNX with its parity check against PyTorch."""
    from hackkit.runfolder import find_run
    from hackkit.use.export import export_run

    result = export_run(find_run(args.run, needs="model"), onnx=args.onnx)
    print(f"model card: {result['model_card']}")
    if args.onnx:
        check = result["check"]
        print(f"ONNX: {result['onnx']}; max |logit difference| "
              f"{check['max_abs_logit_difference']:.2e} (tolerance {check['tolerance']}) on "
              f"{check['texts']} test texts; texts/s {check['texts_per_second']}")
        if not check["within_tolerance"] or not check["same_predicted_labels"]:
            print("error: ONNX outputs differ from PyTorch beyond the tolerance", file=sys.stderr)
            return 1
    return 0
