"""The stack as one self-contained MLflow pyfunc model: all node weights inside."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types import ColSpec, Schema
from PIL import Image

from taxonomist.contracts.files import write_text_atomic
from taxonomist.data.cropping import Cropper, Found, prepare_images
from taxonomist.data.images import ImagePolicy, decode_checked
from taxonomist.data.rejects import Rejected
from taxonomist.errors import DataError
from taxonomist.stack.predictor import StackPredictor

ARTIFACT_KEY = "stack"
POLICY_FILE = "image_policy.json"  # the project's data.formats and data.max_pixels
IMAGE_COLUMN = "image"
# Requests are checked against this before predict() runs: one string column.
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("string", IMAGE_COLUMN)]))


class StackModel(mlflow.pyfunc.PythonModel):
    """Input: a DataFrame with a column ``image`` of base64-encoded image files.

    Output: one row per image with ``label`` (deepest class reached), ``path`` (classes
    from the root's children down), ``probabilities`` (one per level of ``path``), and
    ``box`` and ``detect_score``: where the stack's detector found the object (see
    :func:`predictions_frame`).

    Every image is held to the image policy ingest used (the project's ``data.formats``
    and ``data.max_pixels``, saved with the stack; the defaults for a stack saved
    without): formats, pixel count read from the header, a decompression bomb refused,
    not decoded. A refused row makes
    the whole request fail with the row and the reason as MLflow's error message (HTTP
    400 from ``mlflow models serve``), not a stack trace.
    """

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        # Kept so a server can fingerprint the stack and read its nodes' versions.
        self.folder = Path(context.artifacts[ARTIFACT_KEY])
        self.predictor = StackPredictor.load(self.folder)
        self.policy = load_policy(self.folder)
        self.cropper = Cropper.load(self.folder)

    def prepare(self, images: list[Image.Image]) -> tuple[np.ndarray, list[Found | None]]:
        """Decoded images as the node classifiers' input, cropped to the detector's box
        when the stack has a detector (exactly as the cache cropped its training images)."""
        return prepare_images(images, self.predictor.image_size, self.cropper)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            images = self._images(model_input)
        except DataError as err:  # MLflow answers its own exception as the message, alone
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None
        arrays, found = self.prepare(images)
        return predictions_frame(self.predictor.predict(arrays), found)

    def _images(self, model_input: pd.DataFrame) -> list[Image.Image]:
        if IMAGE_COLUMN not in model_input:
            raise DataError(
                f"expected a column '{IMAGE_COLUMN}' of base64-encoded images, "
                f"got columns {list(model_input.columns)}"
            )
        rows = enumerate(model_input[IMAGE_COLUMN])
        return [_decode(b64, i, self.policy) for i, b64 in rows]


def save_policy(folder: Path, policy: ImagePolicy) -> None:
    """Keep ingest's image policy with the stack, for whatever serves it."""
    text = json.dumps({"formats": list(policy.formats), "max_pixels": policy.max_pixels})
    write_text_atomic(folder / POLICY_FILE, text)


def load_policy(folder: Path) -> ImagePolicy:
    """The policy :func:`save_policy` kept; the defaults for a stack saved without one."""
    file = folder / POLICY_FILE
    if not file.is_file():
        return ImagePolicy()
    saved = json.loads(file.read_text())
    return ImagePolicy(tuple(saved["formats"]), int(saved["max_pixels"]))


def predictions_frame(predictions, found: list[Found | None]) -> pd.DataFrame:
    """One row per image; ``box`` (x0, y0, x1, y1 in the sent image's pixels) and
    ``detect_score`` are None for a stack without a detector, ``box`` also when the
    detector found nothing above its ``min_score`` (the whole image was classified)."""
    return pd.DataFrame(
        {
            "label": [p.label for p in predictions],
            "path": [p.path for p in predictions],
            "probabilities": [p.probs for p in predictions],
            "box": [list(f.box) if f and f.box else None for f in found],
            "detect_score": [f.score if f else None for f in found],
        }
    )


def encode_image(path: Path) -> str:
    """Base64 of an image file: what a client puts in the ``image`` column."""
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _decode(b64: str, row: int, policy: ImagePolicy) -> Image.Image:
    try:
        return decode_checked(base64.b64decode(b64, validate=True), policy)
    except (binascii.Error, ValueError, TypeError) as err:
        raise DataError(f"row {row}: not a base64-encoded image ({err})") from None
    except Rejected as err:
        if err.kind == "unreadable":
            raise DataError(f"row {row}: not a base64-encoded image ({err.reason})") from None
        raise DataError(f"row {row}: {err.reason}") from None
