"""The demo's input for an image model: an upload or a path, and a preview beside the result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hackkit.base import DemoInput


class ImagePicker(DemoInput):
    """An image upload (predicted at once) or a path (predicted on the button), with a preview."""

    title = "One image"
    prompt = "Upload an image or type its path to see the prediction."

    def __init__(self, example: str | Path | None = None) -> None:
        import ipywidgets as w

        self.upload = w.FileUpload(accept="image/*", multiple=False, description="Image")
        self.path = w.Text(value=str(example or ""), placeholder="data/shapes/star/star_001.jpg",
                           description="Image path", layout=w.Layout(width="36em"))
        self.preview = w.Image(width=224)
        self.upload.add_class("hackkit-demo-image-upload")  # stable hooks for the browser test
        self.preview.add_class("hackkit-demo-preview")
        self.widget = w.HBox([self.upload, self.path])

    def read(self) -> bytes | str | None:
        """The uploaded file's bytes, else the path typed, else None."""
        if self.upload.value:
            return bytes(self.upload.value[0]["content"])
        return self.path.value.strip() or None

    def observe(self, callback: Callable[[], None]) -> None:
        """Call back when a file is uploaded."""
        self.upload.observe(lambda _: callback(), names="value")

    def arrange(self, controls, result):
        """Upload, path and button in a row; the preview beside the result."""
        import ipywidgets as w

        return w.VBox([w.HBox([self.upload, self.path, controls]), w.HBox([self.preview, result])])

    def shown(self, item) -> None:
        """Preview the image just predicted."""
        self.preview.value = bytes(item if isinstance(item, (bytes, bytearray)) else Path(item).read_bytes())
