"""The stack as one self-contained MLflow pyfunc model: all node weights inside."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from PIL import Image

from taxonomist.data.pixels import image_to_array
from taxonomist.errors import DataError
from taxonomist.stack.predictor import StackPredictor

ARTIFACT_KEY = "stack"
IMAGE_COLUMN = "image"
# Requests are checked against this before predict() runs: one string column.
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("string", IMAGE_COLUMN)]))


class StackModel(mlflow.pyfunc.PythonModel):
    """Input: a DataFrame with a column ``image`` of base64-encoded image files.

    Output: one row per image with ``label`` (deepest class reached), ``path`` (classes
    from the root's children down) and ``probabilities`` (one per level of ``path``).
    """

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.predictor = StackPredictor.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        if IMAGE_COLUMN not in model_input:
            raise DataError(
                f"expected a column '{IMAGE_COLUMN}' of base64-encoded images, "
                f"got columns {list(model_input.columns)}"
            )
        size = self.predictor.image_size
        images = np.stack([_decode(b64, i, size) for i, b64 in enumerate(model_input["image"])])
        return predictions_frame(self.predictor.predict(images))


def predictions_frame(predictions) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": [p.label for p in predictions],
            "path": [p.path for p in predictions],
            "probabilities": [p.probs for p in predictions],
        }
    )


def encode_image(path: Path) -> str:
    """Base64 of an image file: what a client puts in the ``image`` column."""
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _decode(b64: str, row: int, size: int) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(base64.b64decode(b64, validate=True))) as image:
            return image_to_array(image, size)
    except Exception as err:  # binascii / PIL errors: say which row
        raise DataError(f"row {row}: not a base64-encoded image ({err})") from None
