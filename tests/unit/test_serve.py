"""The HTTP API, started for real with `python -m hackkit serve` and queried over HTTP."""

from __future__ import annotations

import httpx
import pytest

import hackkit as hk
from helpers import served


@pytest.fixture(scope="module")
def api(tiny_run):
    """The server in its own process on a free port; stopped by its PID afterwards."""
    with served(tiny_run) as url:
        yield url


def test_health_names_the_run_and_labels(api, tiny_run):
    r = httpx.get(f"{api}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["run"] == tiny_run.name
    assert body["labels"] == hk.load_splits(tiny_run)[1] and body["task"] == "text-classification"


def test_predict_many_matches_the_predictor(api, tiny_run):
    texts = ["I want my money back", "the app crashes on start", "where is my parcel"]
    r = httpx.post(f"{api}/predict", json={"texts": texts})
    assert r.status_code == 200
    got = r.json()["predictions"]
    expected = hk.Predictor.from_run(tiny_run, device="cpu").predict(texts)
    assert [p["label"] for p in got] == [p["label"] for p in expected]
    for g, e in zip(got, expected):
        assert g["score"] == pytest.approx(e["score"], abs=1e-5)
        assert sum(g["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_predict_one_text_as_a_string(api):
    r = httpx.post(f"{api}/predict", json={"texts": "one message"})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 1


@pytest.mark.parametrize("payload, status, message", [
    ({"texts": []}, 422, '"texts" is empty'),
    ({"texts": ["ok", "   "]}, 422, "text 1 is empty or blank"),
    ({"texts": ["x"] * 65}, 413, "65 texts in one request; the limit is 64"),
    ({"texts": ["ok", "y" * 5001]}, 413, "text 1 has 5001 characters; the limit is 5000"),
    ({"texts": 42}, 422, '"texts" must be a string or a list of strings, not int'),
    ({"texts": ["ok", 7]}, 422, '"texts": texts: item 1 is int'),
    ({"message": "hi"}, 422, 'missing "texts"'),
    ({}, 422, 'missing "texts"'),
    (["a", "list"], 422, "invalid request"),
])
def test_bad_input_gets_a_clear_4xx(api, payload, status, message):
    r = httpx.post(f"{api}/predict", json=payload)
    assert r.status_code == status
    assert message in r.json()["error"]


def test_not_json_and_oversized_bodies_are_refused(api):
    r = httpx.post(f"{api}/predict", content=b"texts=hello", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "invalid request (the body is not valid JSON" in r.json()["error"]
    # The body limit leaves room for 64 texts of 5,000 emoji, each spelt as 12 bytes of JSON.
    r = httpx.post(f"{api}/predict", content=b"x" * 4_000_000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "the limit is 3905536 bytes (3.7 MiB)" in r.json()["error"]


def test_a_20_mb_body_gets_a_413_naming_the_limit_not_a_reset_connection(api):
    # Over a real socket: answered before the client finished sending, the server used to close
    # with the body unread, and the client saw "connection reset" instead of the answer.
    r = httpx.post(f"{api}/predict", content=b"x" * 20_000_000, timeout=60,
                   headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == ("request body of 20000000 bytes; the limit is 3905536 bytes "
                                 "(3.7 MiB).")
    assert httpx.get(f"{api}/health").status_code == 200  # and the server goes on serving


def test_openapi_states_the_request_and_the_answer(api):
    schema = httpx.get(f"{api}/openapi.json").json()
    post = schema["paths"]["/predict"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TextsRequest"}
    request = schema["components"]["schemas"]["TextsRequest"]
    assert request["required"] == ["texts"]
    many, one = request["properties"]["texts"]["anyOf"]
    assert (many["minItems"], many["maxItems"], one["maxLength"], one["pattern"]) == (1, 64, 5000, r"\S")
    answer = schema["components"]["schemas"]["Predictions"]
    assert answer["required"] == ["run", "predictions"]
    assert answer["properties"]["predictions"]["items"] == {"$ref": "#/components/schemas/LabelPrediction"}
    assert schema["components"]["schemas"]["LabelPrediction"]["required"] == ["label", "score", "probabilities"]
    refused = {"$ref": "#/components/schemas/ErrorAnswer"}
    assert all(post["responses"][code]["content"]["application/json"]["schema"] == refused
               for code in ("413", "415", "422"))
    assert httpx.get(f"{api}/docs").status_code == 200


# Requests at and just past each limit the schema states: the API takes exactly what it allows.
@pytest.mark.parametrize("body", [
    {"texts": "one message"}, {"texts": ["a"] * 64}, {"texts": ["é" * 5000]}, {"texts": ["\t x"]},
    {}, {"text": "one message"}, {"texts": []}, {"texts": ["a"] * 65}, {"texts": ["é" * 5001]},
    {"texts": ["\u00a0\t"]}, {"texts": [None]}, {"texts": 3}, {"texts": "ok", "extra": 1},
])
def test_the_schema_and_the_api_agree_on_what_is_valid(api, body):
    import jsonschema

    schema = httpx.get(f"{api}/openapi.json").json()
    validator = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/TextsRequest",
                                                 "components": schema["components"]})
    r = httpx.post(f"{api}/predict", json=body, timeout=60)
    assert (r.status_code == 200) == validator.is_valid(body), r.text
    assert r.status_code in (200, 413, 422)


def test_the_page_at_root_has_a_form_that_posts_to_predict(api):
    r = httpx.get(api)
    assert r.status_code == 200 and "<textarea" in r.text and 'fetch("predict"' in r.text


def test_serve_without_a_model_is_a_clear_error(tmp_path, capsys):
    from hackkit.cli import main

    assert main(["serve", str(tmp_path)]) == 2
    assert "has no model yet. Run 02_finetune" in capsys.readouterr().err


def test_a_port_in_use_is_named_before_the_model_loads_and_port_0_takes_a_free_one():
    import socket

    from hackkit.use.serve import listening_socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"--port {port}: cannot listen on 127.0.0.1:{port} .* "
                                          r"Give another --port, or --port 0"):
            listening_socket("127.0.0.1", port)
    with listening_socket("127.0.0.1", 0) as sock:
        assert sock.getsockname()[1] > 0
