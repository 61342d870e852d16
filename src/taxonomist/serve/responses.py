"""The JSON the API responds with, as pydantic models (they are the OpenAPI schema too)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from taxonomist.data.cropping import Found
from taxonomist.serve.live import ServedStack
from taxonomist.stack.predictor import Prediction


class Step(BaseModel):
    """One level of the walk: the classifier at ``node`` chose ``label``."""

    node: str = Field(description="the inner node whose classifier decided")
    label: str = Field(description="the child it chose")
    probability: float
    threshold: float = Field(description="the node's threshold, which it cleared")


class Stopped(BaseModel):
    """Where the walk ended and why."""

    at: str = Field(description="the class the walk ended on (the root if the first "
                    "classifier was unsure)")
    depth: int = Field(description="levels walked down from the root")
    reason: Literal["leaf", "below_threshold", "unfamiliar"] = Field(description=(
        "leaf: the walk reached one; below_threshold: a node was unsure; unfamiliar: the "
        "image is unlike the root's training images (stopping.unfamiliar_quantile)"))
    best: str | None = Field(None, description="below_threshold: the likeliest child")
    probability: float | None = Field(None, description="below_threshold: its probability")
    threshold: float | None = Field(None, description="below_threshold: the node's threshold")


class ImageAnswer(BaseModel):
    label: str | None = Field(description="the deepest class reached; null if the root's "
                              "classifier was unsure")
    walk: list[Step]
    stopped: Stopped
    box: list[int] | None = Field(None, description=(
        "where the stack's detector found the object, [x0, y0, x1, y1] in the sent image's "
        "pixels (the classifiers saw this box grown by detect.margin); null when the "
        "stack has no detector or it found nothing above detect.min_score (the whole "
        "image was classified)"))
    detect_score: float | None = Field(None, description=(
        "the detector's best score; null when the stack has no detector"))


class NodeModel(BaseModel):
    model: str = Field(description="the registered node model, e.g. digits.round")
    version: str


class StackInfo(BaseModel):
    name: str
    version: str
    digest: str = Field(description="sha256 of the stack's files")


class PredictResponse(BaseModel):
    """The answer to one request: every image was predicted by the same stack."""

    stack: StackInfo
    nodes: dict[str, NodeModel]
    predictions: list[ImageAnswer]


class Health(BaseModel):
    status: Literal["ok", "loading"]
    model: str
    version: str | None = None
    digest: str | None = None
    loaded_at: str | None = None
    live: str | None = Field(None, description="where @live pointed at the last poll")
    last_error: str | None = Field(None, description="why the last poll failed, if it did")


def predict_response(stack: ServedStack, predictions: list[Prediction],
                     found: list[Found | None]) -> PredictResponse:
    return PredictResponse(
        stack=StackInfo(name=stack.name, version=stack.version, digest=stack.digest),
        nodes={n: NodeModel(model=v.model, version=v.version) for n, v in stack.nodes.items()},
        predictions=[_image_answer(stack, p, f)
                     for p, f in zip(predictions, found, strict=True)],
    )


def _image_answer(stack: ServedStack, prediction: Prediction, found: Found | None
                  ) -> ImageAnswer:
    predictor = stack.model.predictor
    deciders = [predictor.taxonomy.root, *prediction.path]  # who chose each step
    walk = [Step(node=node, label=label, probability=prob, threshold=predictor.thresholds[node])
            for node, label, prob in zip(deciders[: len(prediction.path)], prediction.path,
                                         prediction.probs, strict=True)]
    end = prediction.path[-1] if prediction.path else predictor.taxonomy.root
    stop = prediction.stop
    stopped = Stopped(at=end, depth=len(prediction.path), reason="leaf") if stop is None else \
        Stopped(at=end, depth=len(prediction.path), reason=stop.reason, best=stop.best,
                probability=stop.probability, threshold=stop.threshold)
    return ImageAnswer(label=prediction.label, walk=walk, stopped=stopped,
                       box=list(found.box) if found and found.box else None,
                       detect_score=found.score if found else None)
