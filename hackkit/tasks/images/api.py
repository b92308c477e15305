"""POST /predict for an image model: multipart/form-data with one or more files named `images`,
each checked (count, size, a readable image) before the model runs; and the test page at / that
uploads one. Imported when an image model is served."""

from __future__ import annotations

import io

from fastapi import Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from hackkit.base import PredictRoute, RequestRejected
from hackkit.tasks.labels import LabelPrediction

MAX_IMAGES = 16  # images per request
MAX_IMAGE_BYTES = 10_000_000  # per image file; a phone photo is 2-5 MB

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
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


class ImagePrediction(LabelPrediction):
    """One uploaded image's prediction, named by its file."""

    file: str = Field(description="the uploaded file's name")


def image_route(predictor, run: str, max_images: int = MAX_IMAGES,
                max_image_bytes: int = MAX_IMAGE_BYTES) -> PredictRoute:
    """Uploads of at most max_images images of max_image_bytes each; a file that is no image: 415."""

    async def predict(request: Request):
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise RequestRejected(415, "send the images as multipart/form-data files named 'images', "
                                       "e.g. curl -F images=@photo.jpg http://host:port/predict.")
        async with request.form(max_files=max_images + 1) as form:
            files = [f for f in form.getlist("images") if hasattr(f, "read")]
            if not files:
                raise RequestRejected(422, "no 'images' file in the form: send -F images=@photo.jpg.")
            if len(files) > max_images:
                raise RequestRejected(413, f"{len(files)} images in one request; the limit is "
                                           f"{max_images}.")
            contents = []
            for f in files:
                data = await f.read(max_image_bytes + 1)
                if len(data) > max_image_bytes:
                    raise RequestRejected(413, f"{f.filename}: larger than {max_image_bytes} bytes; "
                                               "send a smaller image.")
                if not data:
                    raise RequestRejected(422, f"{f.filename}: empty file (0 bytes).")
                contents.append((f.filename, data))
        from PIL import Image, UnidentifiedImageError

        for filename, data in contents:  # a quick header check, before the model runs
            try:
                with Image.open(io.BytesIO(data)) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError, SyntaxError) as e:
                raise RequestRejected(415, f"{filename}: not an image Pillow can read ({e}); send a "
                                           "JPEG, PNG or WebP file.") from e
        try:
            results = await run_in_threadpool(predictor.predict, [d for _, d in contents])
        except ValueError as e:  # decodes the header but not the pixels: a damaged file
            raise RequestRejected(422, str(e)) from e
        return {"run": run, "predictions": [dict(r, file=f) for (f, _), r in zip(contents, results)]}

    # FastAPI cannot see a multipart body read by hand; the schema says what the endpoint reads.
    body = {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["images"],
        "properties": {"images": {
            "type": "array", "items": {"type": "string", "format": "binary"},
            "minItems": 1, "maxItems": max_images,
            "description": f"up to {max_images} image files (JPEG, PNG, WebP, ...) of at most "
                           f"{max_image_bytes} bytes each"}}}}}}
    return PredictRoute(
        endpoint=predict, result_model=ImagePrediction, input="image",
        limits={"max_images": max_images, "max_image_bytes": max_image_bytes},
        body_limit=max_images * max_image_bytes + 65536, page=PAGE,
        hint="Send the images as multipart/form-data files named 'images'.",
        openapi_extra={"requestBody": body})
