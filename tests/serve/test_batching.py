"""Micro-batching: concurrent requests share a forward, and each gets its own answer,
the one it would get alone, from the stack it was given."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from taxonomist.data.images import ImagePolicy
from taxonomist.serve.app import create_app
from taxonomist.serve.images import SentImage, decode_images
from taxonomist.serve.live import ServedStack
from taxonomist.serve.responses import predict_response
from taxonomist.serve.settings import ServeConfig
from tests.serve.conftest import Registry, follower_on, png, slow

PNG = {"Content-Type": "image/png"}
COLORS = ("red", "green", "blue", "black", "yellow")
HOLD_S = 1.0  # the first forward sleeps this long, so the next requests queue behind it


def unbatched(stack: ServedStack, color: str) -> dict:
    """``stack``'s answer for one ``png(color=...)``, predicted on its own, as JSON."""
    predictor = stack.model.predictor
    arrays, found = stack.model.prepare(decode_images([SentImage("x", png(color=color))],
                                                      ImagePolicy()))
    return predict_response(stack, predictor.predict(arrays), found).model_dump()["predictions"][0]


def forwards(metrics: str) -> dict[str, float]:
    """The forward-size histogram's cumulative buckets, count and sum from /metrics."""
    found = dict(re.findall(r'taxonomist_forward_images_bucket\{le="([^"]+)"\} (\S+)', metrics))
    for part in ("count", "sum"):
        found[part] = re.search(rf"taxonomist_forward_images_{part} (\S+)", metrics).group(1)
    return {key: float(value) for key, value in found.items()}


def post(client, color: str):
    return client.post("/v1/predict", content=png(color=color), headers=PNG)


def test_queued_requests_share_one_forward_with_their_own_answers(make_client,
                                                                   served: ServedStack) -> None:
    held = slow(served, HOLD_S)
    client = make_client(stack=held)
    with ThreadPoolExecutor(len(COLORS) + 1) as pool:
        first = pool.submit(post, client, "white")
        time.sleep(HOLD_S / 4)  # the first request holds the forward thread
        replies = [pool.submit(post, client, color) for color in COLORS]
        replies = [reply.result() for reply in replies]
    assert first.result().status_code == 200
    for color, reply in zip(COLORS, replies, strict=True):
        assert reply.status_code == 200, reply.text
        assert reply.json()["predictions"] == [unbatched(served, color)]
    sizes = forwards(client.get("/metrics").text)
    assert (sizes["count"], sizes["sum"]) == (2, 1 + len(COLORS))
    assert (sizes["1.0"], sizes["4.0"], sizes["8.0"]) == (1, 1, 2)  # sizes 1 and 5


def test_requests_on_two_stacks_never_share_a_forward(registry: Registry, served: ServedStack,
                                                      served_v2: ServedStack) -> None:
    v1, v2 = slow(served, HOLD_S), slow(served_v2, HOLD_S)
    follower = follower_on(registry, v1)
    app = create_app(follower, ServeConfig(), ImagePolicy())
    with TestClient(app) as client, ThreadPoolExecutor(5) as pool:
        pool.submit(post, client, "white")
        time.sleep(HOLD_S / 4)
        on_v1 = [pool.submit(post, client, color) for color in COLORS[:2]]
        time.sleep(HOLD_S / 4)  # both decoded and queued on v1
        follower.current = v2  # a swap while they wait
        on_v2 = [pool.submit(post, client, color) for color in COLORS[2:4]]
        on_v1, on_v2 = [r.result() for r in on_v1], [r.result() for r in on_v2]
        sizes = forwards(client.get("/metrics").text)
    for stack, colors, replies in ((served, COLORS[:2], on_v1), (served_v2, COLORS[2:4], on_v2)):
        for color, reply in zip(colors, replies, strict=True):
            assert reply.json()["stack"]["version"] == stack.version
            assert reply.json()["predictions"] == [unbatched(stack, color)]
    assert (sizes["count"], sizes["sum"], sizes["2.0"]) == (3, 5, 3)  # 1, then 2 and 2


def test_a_lone_request_does_not_wait_for_company(make_client) -> None:
    # Waiting out batch_max_wait_ms would take past the timeout: a 503, not this 200.
    client = make_client(batch_max_wait_ms=60_000, request_timeout_s=5)
    assert post(client, "white").status_code == 200


def test_a_full_queue_is_503(make_client, served: ServedStack) -> None:
    client = make_client(stack=slow(served, HOLD_S), max_batch=1, batch_max_queued=1)
    with ThreadPoolExecutor(3) as pool:
        pool.submit(post, client, "white")
        time.sleep(HOLD_S / 4)
        waiting = pool.submit(post, client, "red")
        time.sleep(HOLD_S / 4)
        refused = post(client, "blue")
    assert waiting.result().status_code == 200
    assert refused.status_code == 503, refused.text
    body = refused.json()
    assert body["error"] == "busy" and "serve.batch_max_queued (1)" in body["detail"]
    assert body["limit"] == {"batch_max_queued": 1}
