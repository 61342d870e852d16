"""The live stack's view of stored images: how sure it is at one node, its guess, and its
probability of each leaf under a node.

``models:/<taxonomy>.stack@live`` is loaded exactly as serving loads it, and each stored
image is read as the served stack reads a request: held to the image policy saved with
the stack (:func:`taxonomist.data.images.decode_checked`), then prepared as the cache
prepares it, cropped by the stack's detector when it has one
(:func:`taxonomist.data.cropping.prepare_images`). Images go through the
stack :data:`CHUNK` at a time, so memory stays flat whatever the number of images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from taxonomist.config import MlflowConfig, Paths
from taxonomist.data.cropping import Cropper, prepare_images
from taxonomist.data.images import ImagePolicy, decode_checked
from taxonomist.data.rejects import Rejected
from taxonomist.errors import DataError
from taxonomist.stack.decoding import leaf_probabilities
from taxonomist.stack.predictor import Prediction, StackPredictor
from taxonomist.tracking.client import client_for
from taxonomist.tracking.live_alias import live_version
from taxonomist.tracking.names import LIVE_ALIAS, stack_model_name
from taxonomist.tracking.versions import load_served_model

CHUNK = 256  # images decoded, then predicted, at a time


@dataclass(frozen=True)
class LiveStack:
    """The stack version holding ``@live``, loaded.

    Attributes:
        name, version: e.g. ``digits.stack`` and ``"3"``.
        predictor: its node classifiers, calibrated as they were registered.
        policy: the image policy saved with it (ingest's ``data.formats`` and
            ``data.max_pixels``).
        cropper: its detector, when it was built with one (images are cropped as served).
    """

    name: str
    version: str
    predictor: StackPredictor
    policy: ImagePolicy
    cropper: Cropper | None

    @property
    def title(self) -> str:
        return f"{self.name} v{self.version} (@{LIVE_ALIAS})"


def load_live(mlflow: MlflowConfig, taxonomy: str, paths: Paths) -> LiveStack | None:
    """The stack of ``taxonomy`` holding ``@live`` in the project's MLflow store, loaded
    as serving loads it; None when no version holds it."""
    client, name = client_for(mlflow, paths), stack_model_name(taxonomy)
    version = live_version(client, name)
    if version is None:
        return None
    model = load_served_model(client, name, version)
    return LiveStack(name, version, model.predictor, model.policy, model.cropper)


def require_live(mlflow: MlflowConfig, taxonomy: str, paths: Paths, needed_for: str
                 ) -> LiveStack:
    """:func:`load_live`, for what cannot do without it.

    Raises:
        DataError: no version holds ``@live``, saying what ``needed_for`` and what to run.
    """
    stack = load_live(mlflow, taxonomy, paths)
    if stack is None:
        raise DataError(f"{needed_for} needs the live stack, and no version of "
                        f"{stack_model_name(taxonomy)} holds @{LIVE_ALIAS} in this project's "
                        f"MLflow store; run `dvc repro` (its promote stage moves @{LIVE_ALIAS}) "
                        "or `taxonomist promote`, then try again")
    return stack


def node_confidence(stack: LiveStack, rows: pd.DataFrame, node: str, root: Path) -> pd.Series:
    """Per row of ``rows`` (manifest rows), the calibrated probability of ``node``'s
    likeliest child: how sure the stack is at ``node``, wherever its walk would go above."""
    sure = [stack.predictor.node_probabilities(node, images).max(axis=1)
            for images in stored_arrays(rows, stack, root)]
    return pd.Series(np.concatenate(sure) if sure else [], index=rows.index, dtype=float)


def leaves_under(stack: LiveStack, rows: pd.DataFrame, node: str, root: Path
                 ) -> pd.DataFrame:
    """Per row of ``rows`` (manifest rows), the stack's calibrated probability of each
    leaf under ``node``, given that the image is under ``node``: the product of the node
    probabilities on the leaf's path from ``node`` down, whichever way the walk would
    have gone above it.

    Returns:
        One row per row of ``rows`` (same index), one column per leaf under ``node`` in
        the taxonomy's order; a row is NaN where the probability of reaching ``node``
        underflowed to 0.
    """
    taxonomy = stack.predictor.taxonomy
    under = [i for i, leaf in enumerate(taxonomy.leaves) if node in taxonomy.path(leaf)[:-1]]
    chunks = [leaf_probabilities(taxonomy, stack.predictor.node_outputs(images, everywhere=True))
              [:, under] for images in stored_arrays(rows, stack, root)]
    leaves = np.concatenate(chunks) if chunks else np.zeros((0, len(under)))
    # each leaf's product from the root, over theirs: the factors above ``node`` cancel
    with np.errstate(invalid="ignore", divide="ignore"):
        given_node = leaves / leaves.sum(axis=1, keepdims=True)
    return pd.DataFrame(given_node, index=rows.index,
                        columns=[taxonomy.leaves[i] for i in under])


def live_guesses(stack: LiveStack, rows: pd.DataFrame, root: Path) -> list[Prediction]:
    """The stack's walk for each of ``rows``, in their order."""
    return [guess for images in stored_arrays(rows, stack, root)
            for guess in stack.predictor.predict(images)]


def stored_arrays(rows: pd.DataFrame, stack: LiveStack, root: Path) -> Iterator[np.ndarray]:
    """The stored images of ``rows``, :data:`CHUNK` at a time, as the stack's input."""
    for images in decoded_chunks(rows, stack.policy, root):
        yield stack_input(stack, images)


def stack_input(stack: LiveStack, images: list[Image.Image]) -> np.ndarray:
    """Decoded images as the stack reads them: cropped by its detector, at its size."""
    return prepare_images(images, stack.predictor.image_size, stack.cropper)[0]


def decoded_chunks(rows: pd.DataFrame, policy: ImagePolicy, root: Path
                   ) -> Iterator[list[Image.Image]]:
    """The stored images of ``rows`` decoded under ``policy``, :data:`CHUNK` at a time,
    so that one read of each file serves every use of it."""
    for start in range(0, len(rows), CHUNK):
        files = rows["stored"].iloc[start:start + CHUNK]
        yield [stored_image(root / f, policy) for f in files]


def stored_image(file: Path, policy: ImagePolicy) -> Image.Image:
    """A stored image, decoded only once its header passed ``policy``.

    Raises:
        DataError: the file is gone, or ``policy`` refuses it, naming the file.
    """
    try:
        return decode_checked(file.read_bytes(), policy)
    except FileNotFoundError:
        raise DataError(f"{file}: stored image is missing; restore it with `dvc checkout "
                        "data/images` or rerun `taxonomist ingest`") from None
    except Rejected as err:
        raise DataError(f"{file}: {err.reason}; it passed ingest, so the store is damaged "
                        "or the policy changed: restore it with `dvc checkout "
                        "data/images`") from None
