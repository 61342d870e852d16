"""POST /v1/predict in its three shapes, /health, /metrics and /docs, over a real stack."""

from __future__ import annotations

import base64

from taxonomist.serve.live import LiveFollower, ServedStack
from taxonomist.serve.settings import ServeConfig
from taxonomist.stack.predictor import StackPredictor
from tests.serve.conftest import Registry, png, with_predictor


def check_answer(body: dict, served: ServedStack, images: int) -> None:
    assert body["stack"] == {"name": "digits.stack", "version": served.version,
                             "digest": served.digest}
    assert body["nodes"]["digit"] == {"model": "digits.digit", "version": "1"}
    assert set(body["nodes"]) == set(served.model.predictor.taxonomy.inner_nodes)
    assert len(body["predictions"]) == images
    for answer in body["predictions"]:
        walk = answer["walk"]
        assert [step["node"] for step in walk][0] == "digit"
        assert [s["label"] for s in walk][-1] == answer["label"]  # the walk ends on the label
        assert all(0 < step["probability"] <= 1 for step in walk)
        assert answer["stopped"] == {"at": answer["label"], "depth": len(walk),
                                     "reason": "leaf", "best": None, "probability": None,
                                     "threshold": None}
        assert answer["box"] is None and answer["detect_score"] is None  # no detector


def test_raw_body_multipart_and_base64_batch(make_client, served: ServedStack) -> None:
    client = make_client()
    raw = client.post("/v1/predict", content=png(), headers={"Content-Type": "image/png"})
    assert raw.status_code == 200, raw.text
    assert raw.headers["X-Taxonomist-Stack-Version"] == served.version
    check_answer(raw.json(), served, 1)
    form = client.post("/v1/predict", files=[("file", ("a.png", png(), "image/png")),
                                             ("file", ("b.jpg", png(fmt="JPEG"), "image/jpeg"))])
    assert form.status_code == 200, form.text
    check_answer(form.json(), served, 2)
    batch = [base64.b64encode(png(color=c)).decode() for c in ("red", "green", "blue")]
    sent = client.post("/v1/predict", json={"images": batch})
    assert sent.status_code == 200, sent.text
    check_answer(sent.json(), served, 3)
    assert client.post("/v1/predict", json=batch).json() == sent.json()  # the bare list


def test_a_walk_that_stops_says_where_and_which_threshold(make_client, served) -> None:
    predictor = served.model.predictor
    unsure = dict.fromkeys(predictor.thresholds, 0.0) | {"digit": 1.01}
    stopping = StackPredictor(predictor.taxonomy, predictor.nodes, unsure)
    client = make_client(stack=with_predictor(served, stopping))
    answer = client.post("/v1/predict", content=png(),
                         headers={"Content-Type": "image/png"}).json()["predictions"][0]
    assert answer["label"] is None and answer["walk"] == []
    stopped = answer["stopped"]
    assert stopped["at"] == "digit" and stopped["depth"] == 0
    assert stopped["reason"] == "below_threshold" and stopped["threshold"] == 1.01
    assert stopped["best"] in predictor.taxonomy.children["digit"]
    assert 0 < stopped["probability"] < 1.01


def test_an_unfamiliar_image_is_refused_with_the_reason(make_client, served) -> None:
    import numpy as np

    from taxonomist.stack.familiarity import Familiarity

    predictor = served.model.predictor
    features = predictor.root_features(np.zeros((1, 8, 8, 3), np.uint8))
    nothing_is_familiar = Familiarity(features, np.eye(features.shape[1]), -1.0, 1.0)
    refusing = StackPredictor(predictor.taxonomy, predictor.nodes, predictor.stopping,
                              nothing_is_familiar)
    client = make_client(stack=with_predictor(served, refusing))
    answer = client.post("/v1/predict", content=png(),
                         headers={"Content-Type": "image/png"}).json()["predictions"][0]
    assert answer["label"] is None and answer["walk"] == []
    assert answer["stopped"]["reason"] == "unfamiliar" and answer["stopped"]["at"] == "digit"


def test_health_is_503_until_a_stack_is_loaded(registry: Registry, make_client) -> None:
    from fastapi.testclient import TestClient

    from taxonomist.data.images import ImagePolicy
    from taxonomist.serve.app import create_app

    follower = LiveFollower(registry.client(), "digits.nothing", interval_s=3600)
    with TestClient(create_app(follower, ServeConfig(), ImagePolicy())) as client:
        waiting = client.get("/health")
        assert waiting.status_code == 503
        assert waiting.json()["status"] == "loading" and waiting.json()["version"] is None
        refused = client.post("/v1/predict", content=png(), headers={"Content-Type": "image/png"})
        assert refused.status_code == 503 and refused.json()["error"] == "not_ready"


def test_health_names_the_version_and_digest(make_client, served: ServedStack) -> None:
    health = make_client().get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["version"] == served.version
    assert body["digest"] == served.digest and body["digest"].startswith("sha256:")


def test_metrics_follow_prometheus_conventions(make_client, served: ServedStack) -> None:
    client = make_client()
    client.post("/v1/predict", content=png(), headers={"Content-Type": "image/png"})
    client.post("/v1/predict", content=b"x", headers={"Content-Type": "text/plain"})
    client.get("/no/such/page")
    text = client.get("/metrics").text
    ok = 'method="POST",route="/v1/predict",status="200"'
    assert f"taxonomist_http_requests_total{{{ok}}} 1.0" in text
    assert 'route="/v1/predict",status="415"' in text
    assert 'route="unmatched",status="404"' in text  # never the raw path
    assert f'taxonomist_http_request_duration_seconds_bucket{{le="0.005",{ok}}}' in text
    assert 'taxonomist_predictions_total{depth="2",stopped="leaf"} 1.0' in text
    assert "# TYPE taxonomist_model_swaps_total counter" in text
    assert "# TYPE taxonomist_model_info gauge" in text


def test_openapi_docs_describe_predict(make_client) -> None:
    client = make_client()
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert {"image/png", "multipart/form-data", "application/json"} <= set(body)
    assert "PredictResponse" in schema["components"]["schemas"]
