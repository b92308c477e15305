"""The demo widget's logic, driven by calling its callbacks directly (no browser)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pandas as pd
import pytest

import hackkit as hk
from hackkit.tasks.labels import probability_bars_html
from hackkit.tasks.ner import highlight_spans_html
from hackkit.use.demo import Debouncer
from helpers import NER, TEXT


@pytest.fixture(scope="module")
def predictor(tiny_run) -> hk.Predictor:
    return hk.Predictor.from_run(tiny_run, device="cpu")


@pytest.fixture
def app(predictor, tmp_path) -> hk.DemoApp:
    return hk.DemoApp(predictor, out_dir=tmp_path / "scored", delay=0.05)


def test_probability_bars_are_sorted_and_escaped():
    page = probability_bars_html({"low": 0.1, "<b>high</b>": 0.7, "mid": 0.2})
    assert page.index("&lt;b&gt;high&lt;/b&gt;") < page.index("mid") < page.index("low")
    assert "70.0%" in page and "width:210px" in page and "<b>high" not in page


def test_spans_are_highlighted_in_order_with_the_text_escaped():
    text = "Acme <Corp> hired Jo Smith"
    spans = [{"start": 18, "end": 26, "label": "PER", "score": 0.91},
             {"start": 0, "end": 11, "label": "ORG"}]
    page = highlight_spans_html(text, spans)
    assert page.index("Acme &lt;Corp&gt;") < page.index(" hired ") < page.index("Jo Smith")
    assert page.count("<mark") == 2 and 'title="PER 91%"' in page
    assert "<Corp>" not in page


@pytest.mark.parametrize("spans, message", [
    ([{"start": 3, "end": 2, "label": "X"}], "0 <= start < end <= 5"),
    ([{"start": 0, "end": 9, "label": "X"}], "0 <= start < end <= 5"),
    ([{"start": 0, "end": 3, "label": "X"}, {"start": 2, "end": 4, "label": "Y"}], "overlaps"),
])
def test_bad_spans_are_rejected(spans, message):
    with pytest.raises(ValueError, match=message):
        highlight_spans_html("hello", spans)


def test_each_task_shows_its_own_result():
    page = NER.result_html({"text": "Acme hires", "entities": [{"start": 0, "end": 4, "label": "ORG"}]},
                           "Acme hires")
    assert "<mark" in page and "hackkit-demo-label" not in page
    page = TEXT.result_html({"label": "refund", "score": 0.9, "probabilities": {"refund": 0.9,
                                                                              "login": 0.1}}, "x")
    assert '<b class="hackkit-demo-label">refund</b>' in page and "<mark" not in page


def test_predict_button_shows_the_predictors_label(app, predictor):
    app.input.text.value = "I was charged twice for one order"
    app.button.click()
    expected = predictor.predict(app.input.text.value)[0]
    assert f'<b class="hackkit-demo-label">{expected["label"]}</b>' in app.result.value
    assert app.result.value.count('class="hackkit-bars"') == 1


def test_empty_text_asks_for_a_message(app):
    app.input.text.value = "   "
    assert app.show() is None and "Type a message" in app.result.value


def test_example_is_predicted_when_the_app_opens(predictor, tmp_path):
    app = hk.DemoApp(predictor, out_dir=tmp_path, example="where is my parcel")
    assert "hackkit-demo-label" in app.result.value


def test_debouncer_runs_once_with_the_last_arguments():
    calls, done = [], threading.Event()
    # A pause as long as the delay between two of the calls below would fire early: on a loaded
    # machine a thread can wait 0.1 s for a core, so the delay is generous.
    debounced = Debouncer(lambda x: (calls.append(x), done.set()), delay=1.0)
    for text in ["w", "wh", "whe", "where"]:
        debounced(text)
    assert done.wait(5)
    time.sleep(0.2)
    assert calls == ["where"]


def test_typing_predicts_live_unless_switched_off(app):
    app.live.value = False
    app.input.text.value = "refund"
    time.sleep(0.3)
    assert app.result.value == ""
    app.live.value = True
    app.input.text.value = "refund please"
    deadline = time.monotonic() + 10
    while "hackkit-demo-label" not in app.result.value and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "hackkit-demo-label" in app.result.value


def test_scoring_a_path_offers_the_result_for_download(app, predictor, write):
    app.path.value = str(write("inbox.csv", pd.DataFrame({"text": ["refund", "login", "parcel"]})))
    out = app.score()
    assert out is not None and out.parent == app.out_dir
    assert "Scored 3 rows" in app.file_result.value
    assert 'download="inbox_scored.csv" href="data:text/csv;base64,' in app.file_result.value
    assert set(pd.read_csv(out)["predicted"]) <= set(predictor.labels)


def test_scoring_an_upload_saves_it_first(app):
    app.upload.value = ({"name": "up.csv", "type": "text/csv", "size": 20, "last_modified": datetime.now(timezone.utc),
                         "content": memoryview(b"body\nhello there\n")},)
    app.column.value = "body"
    out = app.score()
    assert out.name == "up_scored.csv" and (app.out_dir / "up.csv").is_file()


def test_scoring_errors_are_shown_not_raised(app, write):
    assert app.score() is None and "Upload a file or type its path" in app.file_result.value
    app.path.value = str(write("inbox.csv", pd.DataFrame({"message": ["a"]})))
    assert app.score() is None and "TEXT_COLUMN=&#x27;text&#x27;: no such column" in app.file_result.value
