"""Command line: `python -m hackkit run|params`."""

from __future__ import annotations

import argparse
import sys

from hackkit.evaluate import headline
from hackkit.runs import load_params, notebook_parameters, run_pipeline


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m hackkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run 01 -> 03 with papermill into a new folder under runs/")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"), help="set a notebook parameter (repeatable)")
    run.add_argument("-f", "--parameters-file", help="YAML file of NAME: value parameters")
    run.add_argument("--name", default="", help="label appended to the run folder's name")
    sub.add_parser("params", help="list the notebook parameters, their defaults and meaning")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "params":
        for notebook, params in notebook_parameters().items():
            print(notebook)
            for key, p in params.items():
                print(f"  {key:<22} {p['default']!r:<45} {p['help']}")
        return 0
    try:
        params = load_params(args.parameters_file, [tuple(p) for p in args.parameter])
        run_dir = run_pipeline(params, name=args.name)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a notebook failed: run.json and the executed notebook say why
        print(f"error: run failed: {type(e).__name__}: {str(e).strip()[-1500:]}", file=sys.stderr)
        return 1
    scores = headline(run_dir)
    print(f"\nrun finished: {run_dir}")
    for key, value in scores.items():
        name = key.replace("_f1", "-F1").replace("_", " ")
        print(f"  {name if name.startswith('baseline') else 'test ' + name:<19}{value:.4f}")
    print(f"  metrics: {run_dir / 'metrics.json'}; notebooks: {run_dir}/*.ipynb")
    return 0
