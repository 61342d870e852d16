"""The live stack as evidence in ``label import``: what it says about a batch's images.

For each image of the batch, the stack's calibrated probability of each of the batch's
classes (the leaves under its node, :func:`taxonomist.labels.live.leaves_under`), read
from the stored image as serving reads it. Only about images it did not train on: an
image in the train split (``data/splits.parquet``) has a label the stack was fitted to,
so its prediction there would be the label echoed back, not evidence; the stack is left
out for it, and the workers alone decide. Val, test and images not split yet are heard.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from taxonomist.config import Paths
from taxonomist.data.manifest import read_manifest
from taxonomist.labels.aggregate import ModelOpinion
from taxonomist.labels.batch import Batch
from taxonomist.labels.live import LiveStack, leaves_under
from taxonomist.labels.queue import TRAIN, read_splits

# a batch and the ids of its tasks -> the stack's opinion of those it may speak about
Opinion = Callable[[Batch, pd.Series], ModelOpinion]


def stack_opinion(stack: LiveStack, paths: Paths) -> Opinion:
    """What ``stack`` says about a batch's tasks: the held-out ones (see the module's doc).

    Raises (when called):
        DataError: a stored image is missing or refused by the stack's image policy.
    """
    manifest = read_manifest(paths.manifest, columns=("id", "stored"))
    trained_on = {image for image, split in read_splits(paths.splits).items() if split == TRAIN}

    def opinion(batch: Batch, task_ids: pd.Series) -> ModelOpinion:
        asked = manifest[manifest["id"].isin(set(task_ids) - trained_on)]
        said = leaves_under(stack, asked, batch.node, paths.root)
        said.index = asked["id"]
        return ModelOpinion(stack.title, said.reindex(columns=list(batch.classes),
                                                      fill_value=0.0).dropna())

    return opinion
