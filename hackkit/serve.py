"""A small HTTP API around a Predictor: POST /predict, GET /health, and a test page at /."""

from __future__ import annotations

import html

from hackkit.predict import Predictor

MAX_TEXTS = 64  # texts per request
MAX_CHARS = 5000  # characters per text; the model reads at most max_length tokens anyway

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto">
<h2>{title}</h2><p>Labels: {labels}</p>
<textarea id="t" rows="4" style="width:100%" placeholder="Type a message"></textarea>
<p><button id="b">Predict</button></p><pre id="r"></pre>
<script>
document.getElementById("b").onclick = async () => {{
  const r = await fetch("predict", {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{texts: document.getElementById("t").value}})}});
  document.getElementById("r").textContent = JSON.stringify(await r.json(), null, 2);
}};
</script></body></html>"""


def _error(status: int, message: str):
    """A JSON error response {"error": message}."""
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=status, content={"error": message})


def create_app(predictor: Predictor, max_texts: int = MAX_TEXTS, max_chars: int = MAX_CHARS):
    """The FastAPI app serving `predictor`, with limits on the number and length of texts."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse

    name = predictor.model_dir.parent.name
    app = FastAPI(title=f"hackkit: {name}", description=f"{predictor.task.name}, labels "
                  f"{predictor.labels}")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(422, f"invalid request ({where}). Send JSON like "
                           '{"texts": ["first message", "second"]} or {"texts": "one message"}.')

    body_limit = max_texts * max_chars * 4 + 65536  # 4: UTF-8 bytes per character at most

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        # Checked before the body is read, so a huge upload is refused without parsing it.
        size = request.headers.get("content-length", "0")
        if size.isdigit() and int(size) > body_limit:
            return _error(413, f"request body of {size} bytes; the limit is {body_limit}.")
        return await call_next(request)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "run": name, "task": predictor.task.name, "labels": predictor.labels,
                "device": predictor.device, "int8": predictor.int8, "max_texts": max_texts,
                "max_chars": max_chars}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.format(title=html.escape(f"hackkit demo: {name}"),
                           labels=html.escape(", ".join(predictor.labels)))

    @app.post("/predict")
    def predict(body: dict):  # sync: FastAPI runs it in a worker thread, off the event loop
        texts = body.get("texts", body.get("text"))
        if texts is None:
            return _error(422, 'missing "texts": send {"texts": ["a message", ...]}.')
        if not isinstance(texts, (str, list)):
            return _error(422, f'"texts" must be a string or a list of strings, not '
                               f"{type(texts).__name__}.")
        try:  # the Predictor's own input check: one place says what an input may be
            texts = predictor.check(texts)
        except ValueError as e:
            return _error(422, f'"texts": {e}')
        if not texts:
            return _error(422, '"texts" is empty: send at least one text.')
        if len(texts) > max_texts:
            return _error(413, f"{len(texts)} texts in one request; the limit is {max_texts}. "
                               "Split them over several requests.")
        too_long = [i for i, t in enumerate(texts) if len(str(t)) > max_chars]
        if too_long:
            return _error(413, f"text {too_long[0]} has {len(texts[too_long[0]])} characters; "
                               f"the limit is {max_chars}. Shorten it.")
        empty = [i for i, t in enumerate(texts) if not str(t).strip() or t == []]
        if empty:
            return _error(422, f"text {empty[0]} is empty or blank; send some words.")
        return {"run": name, "predictions": predictor.predict(texts)}

    return app


def serve_model(run: str = "", host: str = "127.0.0.1", port: int = 8000, device: str = "auto",
          max_texts: int = MAX_TEXTS, max_chars: int = MAX_CHARS, int8: bool = False) -> None:
    """Load the run's model once (int8: dynamically quantised, CPU) and serve it until interrupted."""
    import uvicorn

    predictor = Predictor.from_run(run, device=device, int8=int8)
    print(f"serving {predictor.model_dir} on http://{host}:{port} (POST /predict, GET /health)",
          flush=True)
    uvicorn.run(create_app(predictor, max_texts, max_chars), host=host, port=port,
                log_level="warning")
