"""Training as a sweep trial: tracked like any run, published nowhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Trial:
    """What makes a ``train_node`` call a sweep trial rather than the ``train@NODE`` stage.

    A trial trains and logs exactly like the stage, but writes no ``models/<node>/`` and
    registers no model version, so a sweep never changes what ``dvc repro`` and the stack
    see.

    Attributes:
        folder: the trial's own scratch folder. Checkpoints go here instead of
            ``checkpoints/<node>/``, so trials running side by side never share files and
            never discard the checkpoints of an interrupted ``train@NODE`` run.
        name: the MLflow run name, e.g. ``"round #3"``.
        tags: added to the MLflow run, e.g. ``{"mlflow.parentRunId": parent_id}``.
    """

    folder: Path
    name: str
    tags: dict[str, str] = field(default_factory=dict)
