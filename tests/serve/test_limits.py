"""Every limit fails closed: a 4xx/5xx JSON error naming what was wrong and the limit."""

from __future__ import annotations

import asyncio
import base64
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from taxonomist.data.images import ImagePolicy
from taxonomist.serve.compute import BoundedPool, Deadline
from taxonomist.serve.live import ServedStack
from tests.serve.conftest import png, slow, with_predictor

PNG = {"Content-Type": "image/png"}


def refused(reply, status: int, error: str, *words: str) -> dict:
    """The reply is the JSON refusal asked for, mentioning ``words``, without a trace."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"] == error, body
    for word in words:
        assert word in body["detail"], body["detail"]
    assert "Traceback" not in reply.text and ".py" not in reply.text
    return body


def declaring(width: int, height: int) -> bytes:
    """A small PNG drawn with PIL whose header then claims ``width`` x ``height``.

    Its pixel data stays that of a 16 x 16 image, so decoding it would fail as corrupt:
    a 413 (not a 422) shows the size was refused from the header, before any decoding.
    """
    data = bytearray(png((16, 16)))
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes of fields
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def test_body_over_the_limit_by_content_length(make_client) -> None:
    body = refused(make_client(max_body_bytes=1000).post(
        "/v1/predict", content=b"\0" * 5000, headers=PNG), 413, "body_too_large", "5,000")
    assert body["limit"] == {"max_body_bytes": 1000}


def test_body_over_the_limit_while_streaming(make_client) -> None:
    chunks = (b"\0" * 600 for _ in range(10))  # no Content-Length: sent chunked
    refused(make_client(max_body_bytes=1000).post("/v1/predict", content=chunks, headers=PNG),
            413, "body_too_large", "serve.max_body_bytes")


def test_decompression_bomb_is_refused_from_its_header(make_client) -> None:
    client = make_client(policy=ImagePolicy(max_pixels=1_000_000))
    body = refused(client.post("/v1/predict", content=declaring(40_000, 40_000), headers=PNG),
                   413, "image_too_large", "40000x40000", "1,000,000")
    assert body["limit"]["max_pixels"] == 1_000_000


def test_pixels_over_the_policy(make_client) -> None:
    client = make_client(policy=ImagePolicy(max_pixels=32 * 32))
    refused(client.post("/v1/predict", content=png((40, 40)), headers=PNG),
            413, "image_too_large", "40x40")


def test_format_outside_the_policy(make_client) -> None:
    client = make_client(policy=ImagePolicy(formats=("PNG",)))
    body = refused(client.post("/v1/predict", content=png(fmt="JPEG"),
                               headers={"Content-Type": "image/jpeg"}),
                   415, "image_format", "JPEG", "accepted formats are PNG")
    assert body["limit"]["formats"] == ["PNG"]
    gif = base64.b64encode(png(fmt="GIF")).decode()
    refused(make_client().post("/v1/predict", json={"images": [gif]}), 415, "image_format",
            "image 1", "GIF")


def test_wrong_content_type(make_client) -> None:
    body = refused(make_client().post("/v1/predict", content=b"hello",
                                      headers={"Content-Type": "text/plain"}),
                   415, "unsupported_media_type", "text/plain", "image/png")
    assert "application/json" in body["limit"]["accepted"]


@pytest.mark.parametrize(("sent", "error", "words"), [
    ("not base64 at all!", "bad_base64", ("image 2", "not base64")),
    (base64.b64encode(b"just some text, not an image").decode(), "image_unreadable",
     ("image 2", "not an image")),
])
def test_base64_that_is_not_an_image(make_client, sent, error, words) -> None:
    good = base64.b64encode(png()).decode()
    refused(make_client().post("/v1/predict", json={"images": [good, sent]}), 422, error, *words)


def test_malformed_json_batch(make_client) -> None:
    refused(make_client().post("/v1/predict", json={"pictures": []}), 422, "bad_json", "images")


def test_batch_over_the_limit(make_client) -> None:
    client = make_client(max_batch=2)
    images = [base64.b64encode(png()).decode()] * 3
    body = refused(client.post("/v1/predict", json={"images": images}), 413, "batch_too_large",
                   "3 images", "serve.max_batch (2)")
    assert body["limit"] == {"max_batch": 2}
    files = [("file", (f"{i}.png", png(), "image/png")) for i in range(3)]
    refused(client.post("/v1/predict", files=files), 413, "bad_form", "at most 2 files")


def test_prediction_past_the_timeout_is_504(make_client, served: ServedStack) -> None:
    client = make_client(stack=slow(served, 2.0), request_timeout_s=0.3)
    started = time.monotonic()
    body = refused(client.post("/v1/predict", content=png(), headers=PNG), 504, "timeout",
                   "serve.request_timeout_s (0.3 s)")
    assert time.monotonic() - started < 1.5  # answered at the deadline, not after the work
    assert body["limit"]["request_timeout_s"] == 0.3


def test_a_forward_still_busy_at_the_timeout_is_503(make_client, served: ServedStack) -> None:
    client = make_client(stack=slow(served, 1.5), request_timeout_s=0.5)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.post, "/v1/predict", content=png(), headers=PNG)
        time.sleep(0.1)  # the first holds the forward; the second waits for it
        second = pool.submit(client.post, "/v1/predict", content=png(), headers=PNG)
        replies = first.result(), second.result()
    refused(replies[0], 504, "timeout")
    refused(replies[1], 503, "busy", "stack stayed busy", "serve.request_timeout_s (0.5 s)")


def test_no_free_decoding_thread_before_the_timeout_is_503() -> None:
    async def two_requests() -> list:
        pool = BoundedPool(max_concurrency=1)
        slow_decode = pool.run(lambda: time.sleep(1.0), Deadline.after(0.3))
        waiting = pool.run(lambda: None, Deadline.after(0.3))
        return await asyncio.gather(slow_decode, waiting, return_exceptions=True)

    started, waited = asyncio.run(two_requests())
    assert (started.status, waited.status) == (504, 503)
    assert "all 1 decoding threads stayed busy" in waited.detail
    assert waited.limit == {"request_timeout_s": 0.3, "max_concurrency": 1}


def test_a_crash_answers_500_without_a_trace(make_client, served: ServedStack) -> None:
    broken = with_predictor(served, None)
    refused(make_client(stack=broken).post("/v1/predict", content=png(), headers=PNG),
            500, "internal_error", "its log has the details")
