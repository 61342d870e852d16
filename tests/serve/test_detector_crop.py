"""A stack built with ``detect.enabled`` crops what it serves as the cache cropped: over
HTTP (``taxonomist serve``'s app) and through the MLflow pyfunc, with a detector that
finds the drawn rectangles exactly."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from taxonomist.data.cropping import SETTINGS_FILE, WEIGHTS_FILE
from taxonomist.data.images import ImagePolicy
from taxonomist.data.pixels import crop_region, image_to_array
from taxonomist.serve.app import create_app
from taxonomist.serve.live import LiveFollower, ServedStack
from taxonomist.serve.settings import ServeConfig
from tests.serve.stacks import Registry, make_registry
from tests.tiny_detector import BOXES, BUILDER_ARGS, MODEL, drawn, finding_drawn_boxes, png

pytestmark = pytest.mark.slow  # builds and registers stacks
MIN_SCORE, MARGIN = 0.5, 0.1
OBJECT, BLANK = drawn(7, BOXES[0]), drawn(8, None)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("detector-project")
    detect = {"enabled": True, "model": MODEL, "weights": "detector.pt", "num_classes": 2,
              "labels": [1], "builder_args": BUILDER_ARGS, "min_score": MIN_SCORE,
              "margin": MARGIN}
    with finding_drawn_boxes(root / "detector.pt"):  # for every test of the module
        yield make_registry(root, seeds=(1,), detect=detect)


@pytest.fixture(scope="module")
def served(registry: Registry) -> ServedStack:
    follower = LiveFollower(registry.client(), registry.name, interval_s=3600)
    follower.refresh()
    assert follower.current is not None, follower.last_error
    return follower.current


def _answers(served: ServedStack, registry: Registry, *images: np.ndarray) -> list[dict]:
    follower = LiveFollower(registry.client(), registry.name, interval_s=3600)
    follower.current = served
    with TestClient(create_app(follower, ServeConfig(), ImagePolicy())) as client:
        sent = [base64.b64encode(png(image)).decode() for image in images]
        answer = client.post("/v1/predict", json={"images": sent})
    assert answer.status_code == 200, answer.text
    return answer.json()["predictions"]


def test_the_stack_carries_its_detector(registry: Registry, served: ServedStack) -> None:
    assert (served.model.folder / SETTINGS_FILE).is_file()
    assert (served.model.folder / WEIGHTS_FILE).read_bytes() == \
        (registry.root / "detector.pt").read_bytes()


def test_an_answer_says_where_the_object_was_and_the_walk_saw_only_it(
    registry: Registry, served: ServedStack
) -> None:
    found, blank = _answers(served, registry, OBJECT, BLANK)

    assert found["detect_score"] >= MIN_SCORE
    x0, y0, x1, y1 = found["box"]
    assert abs(x0 - BOXES[0][0]) + abs(y0 - BOXES[0][1]) < 16  # near the drawn square
    assert blank["box"] is None and blank["detect_score"] < MIN_SCORE
    # the classifiers saw the grown box, cut by this test's own arithmetic
    predictor, size = served.model.predictor, served.model.predictor.image_size
    region = crop_region(np.array(found["box"]), 64, 64, MARGIN).tolist()
    crop = image_to_array(Image.fromarray(OBJECT), size, tuple(region))
    whole = image_to_array(Image.fromarray(OBJECT), size)
    by_crop, by_whole = predictor.predict(np.stack([crop, whole]))
    assert [s["probability"] for s in found["walk"]] == pytest.approx(by_crop.probs)
    assert by_crop.probs != pytest.approx(by_whole.probs)
    by_blank = predictor.predict(image_to_array(Image.fromarray(BLANK), size)[None])[0]
    assert [s["probability"] for s in blank["walk"]] == pytest.approx(by_blank.probs)


def test_the_pyfunc_answers_with_the_same_box(registry: Registry, served: ServedStack) -> None:
    rows = pd.DataFrame({"image": [base64.b64encode(png(i)).decode() for i in (OBJECT, BLANK)]})
    out = served.model.predict(None, rows)
    found, blank = _answers(served, registry, OBJECT, BLANK)
    assert out["box"].tolist() == [found["box"], None]
    assert out["detect_score"].tolist() == pytest.approx([found["detect_score"],
                                                          blank["detect_score"]])
    assert out["probabilities"].iloc[0] == pytest.approx([s["probability"]
                                                           for s in found["walk"]])
