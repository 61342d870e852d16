"""``--apply`` edits conf/classifiers/NODE.yaml the way a person would: a small diff."""

from __future__ import annotations

import difflib
from pathlib import Path

from taxonomist.config import compose_config
from taxonomist.sweep import apply_values

ROUND = """\
# Four digits that are easy to confuse (6/8/9/0).
epochs: 8   # a few more than the default
optim:
  name: adamw
  lr: 0.003   # tuned by hand, 2026-10
augment:
  - RandomAffine: {degrees: 10, p: 0.5}
"""


def _diff(before: str, after: str) -> list[str]:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_changes_only_the_winning_values_and_keeps_comments(project: Path) -> None:
    path = project / "conf" / "classifiers" / "round.yaml"
    path.write_text(ROUND)
    current = compose_config().classifiers["round"]
    values = {"optim.lr": 0.0003, "epochs": 8, "backbone.name": "resnet18"}

    changes = apply_values(path, "round", values, current)

    assert [str(c) for c in changes] == [
        "optim.lr: 0.003 -> 0.0003", "backbone.name: 'resnet10t' -> 'resnet18'",
    ]
    assert _diff(ROUND, path.read_text()) == [
        "-  lr: 0.003   # tuned by hand, 2026-10",
        "+  lr: 0.0003  # tuned by hand, 2026-10",  # the comment keeps its column
        "+backbone:",
        "+  name: resnet18",
    ]
    round_ = compose_config().classifiers["round"]
    assert (round_.optim.lr, round_.backbone.name, round_.epochs) == (0.0003, "resnet18", 8)


def test_creates_the_file_of_a_node_that_had_none(project: Path) -> None:
    path = project / "conf" / "classifiers" / "straight.yaml"
    assert not path.exists()
    current = compose_config().classifiers["straight"]
    augment = [{"RandomHorizontalFlip": {"p": 0.5}}]

    apply_values(path, "straight", {"augment": augment, "optim.lr": 0.01}, current)

    assert path.read_text() == (
        "# straight's classifier: overrides of _default.yaml.\n"
        "augment:\n"
        "  - RandomHorizontalFlip:\n"
        "      p: 0.5\n"
        "optim:\n"
        "  lr: 0.01\n"
    )
    straight = compose_config().classifiers["straight"]
    assert straight.augment == augment and straight.optim.lr == 0.01


def test_leaves_the_file_alone_when_the_current_definition_won(project: Path) -> None:
    path = project / "conf" / "classifiers" / "round.yaml"
    before = path.read_bytes()
    current = compose_config().classifiers["round"]
    values = {"optim.lr": current.optim.lr, "epochs": current.epochs}
    assert apply_values(path, "round", values, current) == []
    assert path.read_bytes() == before
