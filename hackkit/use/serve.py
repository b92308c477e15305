"""A small HTTP API around a Predictor: POST /predict as the model's task defines it (its typed
request, answer and limits, stated at /openapi.json and /docs), GET /health, a test page at /."""

from __future__ import annotations

import html
import socket
from pathlib import Path

from hackkit.base import RequestRejected
from hackkit.runfolder import Run
from hackkit.use.predict import Predictor


# An oversized body is read and dropped up to this many bytes before the 413 (see limit_body); a
# bigger one is cut off, and its client may see a reset connection instead of the answer.
DRAIN_LIMIT = 256 * 2**20


def _error(status: int, message: str):
    """A JSON error response {"error": message}."""
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=status, content={"error": message})


def _problem(error: dict) -> str:
    """One validation error as `"field": what is wrong` (a check's own message as it wrote it)."""
    where = ".".join(str(part) for part in error["loc"][1:]) or "body"
    if error["type"] == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})"
    if error["type"] == "missing":
        return f'missing "{where}"'
    if error["type"] == "value_error":  # raised by a request model's own check: it names the field
        return str(error["ctx"]["error"])
    return f'"{where}": {error["msg"]}'


def create_app(predictor: Predictor, **limits: int):
    """The FastAPI app serving `predictor`; `limits` overrides its task's (e.g. max_texts=16)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse
    from pydantic import BaseModel, Field, create_model

    name = predictor.model_dir.parent.name
    route = predictor.task.predict_route(predictor, name, **limits)
    app = FastAPI(title=f"hackkit: {name}", description=f"{predictor.task.name}, labels "
                  f"{predictor.labels}")

    class ErrorAnswer(BaseModel):
        """A refused request: what was wrong and what to send instead."""

        error: str

    answer = create_model("Predictions", __doc__="One prediction per input, in input order.",
                          run=(str, Field(description="the run folder whose model answered")),
                          predictions=(list[route.result_model or dict], ...))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(_problem(e).rstrip(".") for e in exc.errors())
        return _error(422, f"invalid request ({problems}). {route.hint}".strip())

    @app.exception_handler(RequestRejected)
    async def rejected(request: Request, exc: RequestRejected):
        return _error(exc.status, exc.message)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        # Judged from the header, so a huge upload is refused without parsing it. Its bytes are
        # still read (and dropped), up to DRAIN_LIMIT: answering and closing while the client is
        # still sending resets the connection, and the client never sees the 413.
        size = request.headers.get("content-length", "0")
        if size.isdigit() and int(size) > route.body_limit:
            drained = 0
            async for chunk in request.stream():
                drained += len(chunk)
                if drained > DRAIN_LIMIT:
                    break
            return _error(413, f"request body of {size} bytes; the limit is {route.body_limit} "
                               f"bytes ({route.body_limit / 2**20:.1f} MiB).")
        return await call_next(request)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "run": name, "task": predictor.task.name, "labels": predictor.labels,
                "device": predictor.device, "input": route.input, "int8": predictor.int8,
                **route.limits}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return route.page.format(title=html.escape(f"hackkit demo: {name}"),
                                 labels=html.escape(", ".join(predictor.labels)))

    refused = {"model": ErrorAnswer}
    app.add_api_route(
        "/predict", route.endpoint, methods=["POST"], response_model=answer,
        summary=f"Predict with {name}", openapi_extra=route.openapi_extra or None,
        responses={413: {**refused, "description": "Too many or too large inputs"},
                   415: {**refused, "description": "Not an input this model reads"},
                   422: {**refused, "description": "Invalid request"}})
    return app


def serve_usage(run_dir: str | Path, port: int = 8000) -> str:
    """The command that serves a run's model, and a call to it with its task's example input."""
    run = Run(run_dir)
    return (f"python -m hackkit serve {run.path} --port {port}\n"
            + run.task().api_example(f"localhost:{port}"))


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (0: any free port), taken before the model loads: a port in use
    is said at once, and with port 0 nothing can take the port between choosing and serving."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror}); another "
                      "program uses it. Give another --port, or --port 0 for any free one.") from e
    return sock


def serve_model(run: str = "", host: str = "127.0.0.1", port: int = 8000, device: str = "auto",
                int8: bool = False, **limits: int) -> None:
    """Load the run's model once (int8: dynamically quantised, CPU) and serve it until interrupted;
    port 0 takes any free port, and the line printed before serving names it."""
    import uvicorn

    sock = listening_socket(host, port)
    predictor = Predictor.from_run(run, device=device, int8=int8)
    bound = sock.getsockname()[1]
    print(f"serving {predictor.model_dir} on http://{host}:{bound} (POST /predict, GET /health)",
          flush=True)
    config = uvicorn.Config(create_app(predictor, **limits), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
