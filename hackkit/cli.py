"""Command line: `python -m hackkit run|params|serve|export`."""

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
    serve = sub.add_parser("serve", help="serve a run's model over HTTP: POST /predict, GET /health")
    serve.add_argument("run", nargs="?", default="", help="run folder (default: latest with a model)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    export = sub.add_parser("export", help="write the model card; with --onnx also an ONNX copy")
    export.add_argument("run", nargs="?", default="", help="run folder (default: latest with a model)")
    export.add_argument("--onnx", action="store_true", help="export model.onnx and check it")
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
    if args.command in ("serve", "export"):
        try:
            return _serve(args) if args.command == "serve" else _export(args)
        except (ValueError, FileNotFoundError, FileExistsError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
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
    print(f"  test accuracy      {scores['accuracy']:.4f}")
    print(f"  test macro-F1      {scores['macro_f1']:.4f}")
    print(f"  baseline macro-F1  {scores['baseline_macro_f1']:.4f}")
    print(f"  metrics: {run_dir / 'metrics.json'}; notebooks: {run_dir}/*.ipynb")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """`serve`: run the HTTP API until interrupted."""
    from hackkit.serve import serve_model

    serve_model(args.run, host=args.host, port=args.port, device=args.device)
    return 0


def _export(args: argparse.Namespace) -> int:
    """`export`: model card, and optionally ONNX with its parity check against PyTorch."""
    from hackkit.export import export_run
    from hackkit.paths import run_dir_for

    result = export_run(run_dir_for(args.run, needs="model"), onnx=args.onnx)
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
