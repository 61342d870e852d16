"""POST /v1/predict under random and mutated requests, over a real stack: every answer is a
prediction or a JSON refusal naming what was wrong; never a 500 or a traceback, and
memory stays bounded (strategies: tests/fuzzing.py)."""

from __future__ import annotations

import base64
import resource

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxonomist.data.images import ImagePolicy
from tests.fuzzing import VALID_IMAGES, hostile_images, mutated, nested_json

POLICY = ImagePolicy(max_pixels=1_000_000)
MEMORY_MB = 256
RAW_TYPES = ["image/png", "image/jpeg", "image/webp", "application/octet-stream"]
CONTENT_TYPES = st.sampled_from([*RAW_TYPES, "text/plain", "", "image/gif",
                                 "application/json; charset=latin-1", "multipart/form-data",
                                 "IMAGE/PNG; x=y"]).map(str.encode) | st.binary(max_size=40)
# A function-scoped client serves every example of a test: it is only read from.
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def client(make_client):
    return make_client(policy=POLICY, max_body_bytes=200_000, max_batch=4)


def answered(reply) -> None:
    """A prediction, or a 4xx/503/504 JSON refusal that says what was wrong."""
    assert reply.status_code != 500 and "Traceback" not in reply.text, reply.text
    body = reply.json()
    if reply.status_code == 200:
        assert body["predictions"], body
        return
    assert 400 <= reply.status_code < 500 or reply.status_code in (503, 504), reply.text
    assert body["error"] and body["detail"], body


def multipart(boundary: bytes, parts: list[bytes]) -> bytes:
    return b"".join(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="f"; '
                    b'filename="x.png"\r\nContent-Type: image/png\r\n\r\n' + part + b"\r\n"
                    for part in parts) + b"--" + boundary + b"--\r\n"


@FUZZ
@given(body=hostile_images(), content_type=CONTENT_TYPES)
def test_a_raw_body(client, body: bytes, content_type: bytes) -> None:
    answered(client.post("/v1/predict", content=body, headers={"Content-Type": content_type}))


@FUZZ
@given(images=st.lists(hostile_images(), min_size=1, max_size=3),
       boundary=st.binary(min_size=1, max_size=70).filter(lambda b: b"\r" not in b),
       declared=st.none() | st.binary(max_size=20), cut=st.integers(0, 400))
def test_a_malformed_multipart_form(client, images, boundary, declared, cut) -> None:
    body = multipart(boundary, images)
    body = mutated_at(body, cut)
    sent = boundary if declared is None else declared
    header = b"multipart/form-data; boundary=" + sent
    answered(client.post("/v1/predict", content=body, headers={"Content-Type": header}))


def mutated_at(body: bytes, cut: int) -> bytes:
    """The body whole (cut 0), or cut short by ``cut`` bytes."""
    return body if cut == 0 else body[:-cut]


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers()
                           | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)
BASE64ISH = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0123456789+/=-_ \n\x00é",
                    max_size=200)


@FUZZ
@given(images=st.lists(hostile_images().map(lambda b: base64.b64encode(b).decode())
                       | BASE64ISH, min_size=1, max_size=3),
       wrapped=st.booleans())
def test_a_json_batch_of_malformed_base64(client, images: list[str], wrapped: bool) -> None:
    answered(client.post("/v1/predict", json={"images": images} if wrapped else images))


@FUZZ
@given(sent=JSON_VALUES)
def test_json_of_any_shape(client, sent) -> None:
    answered(client.post("/v1/predict", json={"images": sent}))
    answered(client.post("/v1/predict", json=sent))


@pytest.mark.parametrize("depth", [100, 10_000, 90_000])
def test_deeply_nested_json(client, depth: int) -> None:
    reply = client.post("/v1/predict", content=nested_json(depth),
                        headers={"Content-Type": "application/json"})
    answered(reply)
    assert reply.json()["error"] == "bad_json", reply.text


@FUZZ
@given(body=mutated(b'{"images": ["' + base64.b64encode(VALID_IMAGES["PNG"]) + b'"]}'))
def test_mutated_json_text(client, body: bytes) -> None:
    answered(client.post("/v1/predict", content=body,
                         headers={"Content-Type": "application/json"}))


def test_fuzzing_keeps_memory_bounded(client) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    test_a_raw_body(client)
    test_a_json_batch_of_malformed_base64(client)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < MEMORY_MB
