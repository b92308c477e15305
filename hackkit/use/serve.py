"""A small HTTP API around a Predictor: POST /predict, GET /health, and a test page at /."""

from __future__ import annotations

import html
import io

from hackkit.use.predict import Predictor

MAX_TEXTS = 64  # texts per request
MAX_CHARS = 5000  # characters per text; the model reads at most max_length tokens anyway
MAX_IMAGES = 16  # images per request
MAX_IMAGE_BYTES = 10_000_000  # per image file; a phone photo is 2-5 MB

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


IMAGE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto">
<h2>{title}</h2><p>Labels: {labels}</p>
<p><input id="f" type="file" accept="image/*"> <button id="b">Predict</button></p><pre id="r"></pre>
<script>
document.getElementById("b").onclick = async () => {{
  const form = new FormData();
  for (const file of document.getElementById("f").files) form.append("images", file);
  const r = await fetch("predict", {{method: "POST", body: form}});
  document.getElementById("r").textContent = JSON.stringify(await r.json(), null, 2);
}};
</script></body></html>"""


def _error(status: int, message: str):
    """A JSON error response {"error": message}."""
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=status, content={"error": message})


def create_app(predictor: Predictor, max_texts: int = MAX_TEXTS, max_chars: int = MAX_CHARS,
               max_images: int = MAX_IMAGES, max_image_bytes: int = MAX_IMAGE_BYTES):
    """The FastAPI app serving `predictor`, with limits on the number and size of its inputs."""
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

    images = predictor.task.input_kind == "image"
    body_limit = (max_images * max_image_bytes if images
                  else max_texts * max_chars * 4) + 65536  # 4: UTF-8 bytes per character at most

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        # Checked before the body is read, so a huge upload is refused without parsing it.
        size = request.headers.get("content-length", "0")
        if size.isdigit() and int(size) > body_limit:
            return _error(413, f"request body of {size} bytes; the limit is {body_limit}.")
        return await call_next(request)

    @app.get("/health")
    def health() -> dict:
        limits = ({"max_images": max_images, "max_image_bytes": max_image_bytes} if images
                  else {"max_texts": max_texts, "max_chars": max_chars})
        return {"status": "ok", "run": name, "task": predictor.task.name, "labels": predictor.labels,
                "device": predictor.device, "input": predictor.task.input_kind,
                "int8": predictor.int8, **limits}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (IMAGE_PAGE if images else PAGE).format(title=html.escape(f"hackkit demo: {name}"),
                           labels=html.escape(", ".join(predictor.labels)))

    if images:
        _image_route(app, predictor, name, max_images, max_image_bytes)
        return app

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


def _image_route(app, predictor: Predictor, name: str, max_images: int, max_image_bytes: int) -> None:
    """POST /predict for image models: multipart/form-data with one or more `images` files."""
    from fastapi import Request
    from starlette.concurrency import run_in_threadpool

    async def predict_images(request):
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _error(415, "send the images as multipart/form-data files named 'images', e.g. "
                               "curl -F images=@photo.jpg http://host:port/predict.")
        async with request.form(max_files=max_images + 1) as form:
            files = [f for f in form.getlist("images") if hasattr(f, "read")]
            if not files:
                return _error(422, "no 'images' file in the form: send -F images=@photo.jpg.")
            if len(files) > max_images:
                return _error(413, f"{len(files)} images in one request; the limit is {max_images}.")
            contents = []
            for f in files:
                data = await f.read(max_image_bytes + 1)
                if len(data) > max_image_bytes:
                    return _error(413, f"{f.filename}: larger than {max_image_bytes} bytes; send a "
                                       "smaller image.")
                if not data:
                    return _error(422, f"{f.filename}: empty file (0 bytes).")
                contents.append((f.filename, data))
        from PIL import Image, UnidentifiedImageError

        for filename, data in contents:  # a quick header check, before the model runs
            try:
                with Image.open(io.BytesIO(data)) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError, SyntaxError) as e:
                return _error(415, f"{filename}: not an image Pillow can read ({e}); send a JPEG, PNG "
                                   "or WebP file.")
        try:
            results = await run_in_threadpool(predictor.predict, [d for _, d in contents])
        except ValueError as e:  # decodes the header but not the pixels: a damaged file
            return _error(422, str(e))
        return {"run": name, "predictions": [dict(r, file=f) for (f, _), r in zip(contents, results)]}

    # Set here, not as an annotation: with postponed annotations FastAPI cannot see a local import.
    predict_images.__annotations__ = {"request": Request}
    app.post("/predict")(predict_images)


def serve_model(run: str = "", host: str = "127.0.0.1", port: int = 8000, device: str = "auto",
          max_texts: int = MAX_TEXTS, max_chars: int = MAX_CHARS, int8: bool = False) -> None:
    """Load the run's model once (int8: dynamically quantised, CPU) and serve it until interrupted."""
    import uvicorn

    predictor = Predictor.from_run(run, device=device, int8=int8)
    print(f"serving {predictor.model_dir} on http://{host}:{port} (POST /predict, GET /health)",
          flush=True)
    uvicorn.run(create_app(predictor, max_texts, max_chars), host=host, port=port,
                log_level="warning")
