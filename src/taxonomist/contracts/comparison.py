"""The statistics block of ``reports/promotion.json``: the paired comparison and the checks.

``comparison`` holds challenger minus live on the primary metric, image by image (a
bootstrap interval and an exact McNemar test); ``checks`` holds one non-inferiority test
per node's accuracy and per class's recall, Holm-corrected. When a block is present,
every key is required: a missing, renamed or mistyped one raises
:class:`~taxonomist.errors.DataError` naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from taxonomist.contracts.files import required, typed
from taxonomist.errors import DataError

STAGE = "promote"  # the DVC stage that writes promotion.json, named in every error
SOURCE = "reports/promotion.json"


class Status(StrEnum):
    """The result of one node's or class's non-inferiority check."""

    OK = "ok"  # shown non-inferior within its margin
    REGRESSION = "regression"  # shown worse by more than its margin
    INCONCLUSIVE = "inconclusive"  # neither, on these images


class Scope(StrEnum):
    """What a check is about: a node's accuracy in the stack, a class's recall, or a
    figure of the whole stack that the primary metric is conditioned on."""

    NODE = "node"
    CLASS = "class"
    STACK = "stack"  # e.g. precision where walks stop, under coverage_at_precision


def parse_choice(kind: type[StrEnum], raw: Any, key: str, source: str) -> Any:
    """``raw`` as a member of ``kind``; anything else names the values there are."""
    try:
        return kind(raw)
    except ValueError:
        names = ", ".join(member.value for member in kind)
        raise DataError(
            f"{source}: {key} must be one of {names}, got '{raw}'; "
            f"rerun `dvc repro {STAGE}` to rewrite it"
        ) from None


@dataclass(frozen=True)
class PairedComparison:
    """The ``comparison`` block: challenger minus live on the primary metric, image by image.

    Attributes:
        difference: mean correctness of the challenger minus that of live.
        ci_low, ci_high: bootstrap percentile interval of the difference, resampling
            whole ``set_id`` groups when there are any (views of one object move together).
        confidence: the interval's level, e.g. 0.95.
        p_value: exact McNemar test on the images only one of the two got right.
        n_images: the test images both stacks were run on.
        challenger_only_correct, live_only_correct: those discordant images.
        resampled: what the bootstrap resampled: ``"set_id"`` groups or ``"image"``.
    """

    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    n_images: int
    challenger_only_correct: int
    live_only_correct: int
    resampled: str

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, block: Mapping[str, Any], source: str = SOURCE) -> PairedComparison:
        """Raises: DataError: a key is missing or of the wrong type (named with the file)."""
        values = {}
        for name, kind in _fields_and_kinds(cls).items():
            raw = required(block, name, source, STAGE, "comparison.")
            values[name] = typed(raw, kind, f"comparison.{name}", source, STAGE)
        return cls(**values)


@dataclass(frozen=True)
class Check:
    """One node's accuracy or one class's recall, challenger vs live, after Holm correction.

    Attributes:
        scope: :attr:`Scope.NODE` or :attr:`Scope.CLASS`.
        name: the node or the class.
        challenger, live: each stack's accuracy or recall on the same images.
        difference: challenger minus live.
        margin: how far the challenger may fall behind and still count as non-inferior.
        n_images: the images the check counted.
        p_value: one-sided, for a drop beyond the margin.
        p_value_adjusted: ``p_value`` after Holm's correction over every check.
        status: what the check showed.
    """

    scope: Scope
    name: str
    challenger: float
    live: float
    difference: float
    margin: float
    n_images: int
    p_value: float
    p_value_adjusted: float
    status: Status

    @property
    def failed(self) -> bool:
        return self.status != Status.OK

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return data | {"scope": self.scope.value, "status": self.status.value}

    @classmethod
    def from_json(cls, item: Any, source: str = SOURCE, where: str = "checks[]") -> Check:
        """Raises: DataError: not an object, or a key is missing or wrong (all named)."""
        if not isinstance(item, Mapping):
            raise DataError(f"{source}: '{where}' must be an object, got {item!r}; "
                            f"rerun `dvc repro {STAGE}` to rewrite it")
        values: dict[str, Any] = {}
        for name, kind in _fields_and_kinds(cls).items():
            raw = required(item, name, source, STAGE, f"{where}.")
            if kind in (Scope, Status):
                values[name] = parse_choice(kind, raw, f"{where}.{name}", source)
            else:
                values[name] = typed(raw, kind, f"{where}.{name}", source, STAGE)
        return cls(**values)


def checks_from_json(items: Any, key: str, source: str) -> list[Check]:
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise DataError(f"{source}: '{key}' must be a list, got {items!r}; "
                        f"rerun `dvc repro {STAGE}` to rewrite it")
    return [Check.from_json(item, source, f"{key}[{i}]") for i, item in enumerate(items)]


def as_object(block: Any, key: str, source: str) -> Mapping[str, Any]:
    if not isinstance(block, Mapping):
        raise DataError(f"{source}: '{key}' must be an object, got {block!r}; "
                        f"rerun `dvc repro {STAGE}` to rewrite it")
    return block


def _fields_and_kinds(cls: type) -> dict[str, Any]:
    """Each field of a record with one plain type, and the type (resolved from text)."""
    kinds = {"float": float, "int": int, "str": str, "Scope": Scope, "Status": Status}
    return {name: kinds[f.type] for name, f in cls.__dataclass_fields__.items()}
