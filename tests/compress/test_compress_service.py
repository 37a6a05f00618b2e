"""POST /compress and /validate on the real counting service (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from polytok.service import ServiceSettings, create_app

KEY = "test-key-123"
CONTEXT = (
    "Refunds are issued within 30 days of purchase if the item is unused. To request a refund, "
    "email support with your order number. Shipping is free for orders over fifty dollars. "
    "Express delivery costs ten dollars. Our office is closed on public holidays. The founder "
    "likes cycling and old movies. Gardening clubs meet on Saturdays in the town hall."
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    import uvicorn

    app = create_app(settings=ServiceSettings(api_key=KEY, max_body_bytes=20_000))
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers={"X-API-Key": KEY}, timeout=60) as c:
        yield c


def test_compress_validate_and_stats(client: httpx.Client) -> None:
    r = client.post(
        "/compress",
        json={"context": CONTEXT, "query": "how do I get a refund", "target_ratio": 0.4},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["compressed_tokens"] <= body["target_tokens"] < body["original_tokens"]
    assert body["encoding"] == "o200k_base" and body["exact"] is True
    assert "refund" in body["text"].lower() and 0.0 < body["quality"] <= 1.0
    for start, end in body["kept_spans"]:
        assert CONTEXT[start:end] in body["text"]
    count = client.post("/count-tokens", json={"text": body["text"], "model_id": "gpt-4o"})
    assert count.json()["count"] == body["compressed_tokens"]  # the same exact counter

    r2 = client.post(
        "/compress", json={"context": CONTEXT, "target_tokens": 30, "strategy": "lead"}
    )
    assert r2.status_code == 200 and r2.json()["compressed_tokens"] <= 30
    unchanged = client.post("/compress", json={"context": CONTEXT, "target_ratio": 1.0}).json()
    assert unchanged["unchanged"] is True and unchanged["text"] == CONTEXT

    v = client.post(
        "/validate",
        json={
            "original": CONTEXT,
            "compressed": body["text"],
            "query": "how do I get a refund",
            "thresholds": {"rouge-l": 0.1},
        },
    )
    assert v.status_code == 200, v.text
    vb = v.json()
    assert set(vb["scores"]) == {"rouge-l", "embedding", "query-retention"}
    broken = client.post(
        "/validate", json={"original": CONTEXT, "compressed": "x", "metrics": ["bertscore"]}
    ).json()
    assert broken["passed"] is False and "bertscore" in broken["failures"]

    stats = client.get("/stats").json()["sections"]
    comp = stats["compress"]
    assert comp["compressions"] == 3 and comp["unchanged"] == 1
    ratios = [body["ratio"], r2.json()["ratio"], 1.0]
    assert comp["mean_ratio"] == pytest.approx(sum(ratios) / 3)
    qualities = [body["quality"], r2.json()["quality"], unchanged["quality"]]
    assert comp["mean_quality"] == pytest.approx(sum(qualities) / 3)
    saved = sum(x["tokens_saved"] for x in (body, r2.json(), unchanged))
    assert comp["tokens_saved"] == saved > 0
    val = stats["validate"]
    assert val["validations"] == 2 and val["passed"] + val["failed"] == 2 and val["failed"] >= 1
    assert val["mean_quality"] == pytest.approx((vb["quality"] + broken["quality"]) / 2)


@pytest.mark.parametrize(
    ("payload", "status", "match"),
    [
        ({"context": "", "target_ratio": 0.5}, 422, "empty"),
        ({"context": CONTEXT, "target_ratio": 1.5}, 422, "less than or equal"),
        ({"context": CONTEXT, "target_ratio": 0}, 422, "greater than"),
        ({"context": CONTEXT}, 422, "exactly one"),
        ({"context": CONTEXT, "target_ratio": 0.5, "target_tokens": 9}, 422, "exactly one"),
        ({"context": CONTEXT, "target_ratio": 0.5, "model_id": "nope-9"}, 404, "unknown model"),
        ({"context": CONTEXT, "target_ratio": 0.5, "strategy": "best"}, 422, "mmr"),
        ({"context": CONTEXT, "target_ratio": 0.5, "extra": 1}, 422, "extra"),
        ({"context": CONTEXT, "target_tokens": 1}, 422, "smaller than every chunk"),
    ],
)
def test_compress_bad_inputs(client: httpx.Client, payload, status, match) -> None:
    r = client.post("/compress", json=payload)
    assert r.status_code == status, r.text
    assert match in r.text


def test_validate_bad_inputs(client: httpx.Client) -> None:
    r = client.post("/validate", json={"original": "", "compressed": "x"})
    assert r.status_code == 422 and "original is empty" in r.text
    r = client.post("/validate", json={"original": CONTEXT, "compressed": "x", "metrics": ["bleu"]})
    assert r.status_code == 422 and "unknown or no metrics" in r.text
    nan = b'{"original": "Some text here.", "compressed": "x", "thresholds": {"rouge-l": NaN}}'
    r = client.post("/validate", content=nan, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "finite" in r.text


def test_api_key_and_body_limit(server: str, client: httpx.Client) -> None:
    for path in ("/compress", "/validate"):
        r = httpx.post(server + path, json={"context": CONTEXT, "target_ratio": 0.5})
        assert r.status_code == 401
        r = httpx.post(
            server + path,
            json={"context": CONTEXT, "target_ratio": 0.5},
            headers={"X-API-Key": "wrong"},
        )
        assert r.status_code == 401
    big = client.post("/compress", json={"context": "word " * 10_000, "target_ratio": 0.5})
    assert big.status_code == 413
