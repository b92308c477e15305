"""00_label in a real browser (JupyterLab, headless Chromium): the labelling panel shows a text, and
labels given with its buttons are saved to OUT_PATH at once while the panel moves on."""

from __future__ import annotations

import pandas as pd
import pytest

from hackkit.data.label import read_labels_file

pytestmark = pytest.mark.browser

LABELS = ["refund", "login", "delivery"]
WORDS = {"refund": "I want my money back for order", "login": "I cannot sign in to my account",
         "delivery": "my parcel has not arrived yet, tracking number"}


def test_label_notebook_shows_the_panel_and_saves_the_labels_clicked(open_notebook, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    texts = tmp_path / "data" / "unlabelled.csv"
    texts.parent.mkdir()
    pd.DataFrame({"message": [f"{words} {i}" for words in WORDS.values() for i in range(4)]}).to_csv(
        texts, index=False)
    out = tmp_path / "data" / "my_labels.csv"  # absolute: a relative OUT_PATH means the repository's data/
    page = open_notebook("00_label.ipynb", parameters={
        "TEXTS_PATH": str(texts), "TEXT_COLUMN": "message", "LABELS": ",".join(LABELS),
        "OUT_PATH": str(out), "ROUND_SIZE": 4, "MAX_TEXTS": 0})
    try:
        accept = page.element("button.hackkit-label-accept", 180, "the labelling panel's Accept button")
        first = page.wait(lambda d: page.text(".hackkit-label-text"), 30, "the first text")
        proposed = page.text(".hackkit-label-proposed")
        assert first in texts.read_text() and proposed in LABELS
        assert "0 labelled" in page.text(".hackkit-label-status")
        accept.click()
        page.wait(lambda d: "1 labelled" in page.text(".hackkit-label-status"), 30, "the first label saved")
        assert read_labels_file(out)[["text", "label"]].values.tolist() == [[first, proposed]]
        second = page.text(".hackkit-label-text")
        assert second and second != first  # the panel moved on to the next text

        other = next(label for label in LABELS if label != page.text(".hackkit-label-proposed"))
        Select(page.driver.find_element(By.CSS_SELECTOR, ".widget-dropdown select")).select_by_visible_text(other)
        page.driver.find_element(By.CSS_SELECTOR, "button.hackkit-label-other").click()
        page.wait(lambda d: "2 labelled" in page.text(".hackkit-label-status"), 30, "the second label saved")
        assert read_labels_file(out)[["text", "label"]].values.tolist() == [[first, proposed], [second, other]]
        assert page.text(".hackkit-label-text") not in ("", first, second)
    finally:
        shot = page.screenshot(tmp_path / "00_label.png", centre_on=".hackkit-label-text")
    assert shot.stat().st_size > 10_000
