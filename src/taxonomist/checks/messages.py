"""Turn failed great-expectations results into messages a user can act on.

Each message says what was checked, what was found (the node and class, or the rows),
the threshold, and how to fix it. Works on the result objects' attributes only, so this
module does not import great-expectations. The wording of each kind of check is in
:mod:`~.coverage_messages` and :mod:`~.leakage_messages`; the manifest's is here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from taxonomist.checks import coverage_messages, leakage_messages
from taxonomist.checks.phrases import (
    EXAMPLES,
    REINGEST,
    Message,
    failing_count,
    failing_rows,
    images,
    more,
    paths,
    quoted,
)
from taxonomist.checks.tables import REQUIRED_COLUMNS

__all__ = ["Message", "messages_for", "sort_messages"]

def sort_messages(results: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Split the failed results' messages into errors and warnings by their severity.

    A subject with an error gets no warning as well: a class below ``min_images`` is
    also below ``recommended_images``, and one message about it is enough.

    Args:
        results: ``ExpectationValidationResult`` objects, from any number of suites.

    Returns:
        ``(errors, warnings)``, each in the order of ``results``.
    """
    errors: list[Message] = []
    warnings: list[Message] = []
    for result in results:
        if not result.success:
            severity = result.expectation_config.severity
            is_warning = str(getattr(severity, "value", severity)) == "warning"
            (warnings if is_warning else errors).extend(messages_for(result))
    blocked = {message.subject for message in errors}
    return (
        [message.text for message in errors],
        [message.text for message in warnings if message.subject not in blocked],
    )


def messages_for(result: Any) -> list[Message]:
    """The messages for one failed ``ExpectationValidationResult``."""
    config = result.expectation_config
    column = str(config.kwargs.get("column", ""))
    problem = _exception_message(result.exception_info)
    if problem:
        where = f"on {column} " if column else ""
        return [
            Message((config.type, column), f"check {config.type} {where}could not run: {problem}")
        ]
    meta = dict(config.meta or {})
    write = _WRITERS.get(meta.get("check", ""))
    if write is None:
        return [Message((config.type, column), f"check {config.type} failed: {result.result}")]
    return write(meta, dict(result.result), column)


def _missing_columns(meta: Mapping, result: dict, column: str) -> list[Message]:
    missing = result.get("details", {}).get("mismatched", {}).get("missing", [])
    return [
        Message(
            ("manifest", "columns"),
            f"manifest: missing column(s) {quoted(missing)} (expected "
            f"{', '.join(REQUIRED_COLUMNS)}); it was written by an older or a different "
            f"ingest: {REINGEST} to rewrite it",
        )
    ]


def _missing(meta: Mapping, result: dict, column: str) -> list[Message]:
    fix = {
        "id": f"ingest sets the id to the sha256 of the image's bytes: {REINGEST}",
        "label": f"give them a label in the source manifest, then {REINGEST}",
    }.get(column, f"fill in {column}, then {REINGEST}")
    text = f"manifest: {images(failing_count(result))} without {column} ({paths(result)}); {fix}"
    return [Message(("manifest", "missing", column), text)]


def _duplicates(meta: Mapping, result: dict, column: str) -> list[Message]:
    rows = failing_rows(result)
    labels: dict[Any, set[str]] = defaultdict(set)
    for row in rows:
        labels[row.get(column)].add(str(row.get("label", "")))
    conflicts = [value for value, found in labels.items() if len(found) > 1]
    messages = [_label_conflict(value, rows, column) for value in conflicts[:EXAMPLES]]
    repeated = Counter(row.get(column) for row in rows if row.get(column) not in conflicts)
    if not repeated:
        return messages
    shown = [
        f"'{value}' ({times} rows: {paths(result, column, value)})"
        for value, times in repeated.most_common(EXAMPLES)
    ]
    text = (
        f"manifest: {len(repeated)} {column}(s) used by more than one row: "
        f"{', '.join(shown)}{more(len(repeated))}; every image needs its own {column}: "
        f"{REINGEST}, which keeps one row per image"
    )
    return [*messages, Message(("manifest", "unique", column), text)]


def _label_conflict(value: Any, rows: list[dict], column: str) -> Message:
    same = [row for row in rows if row.get(column) == value]
    labelled = ", ".join(f"{row.get('path', '?')} as '{row.get('label')}'" for row in same)
    text = (
        f"manifest: label conflict: the same bytes ({column} '{value}') are labelled "
        f"differently: {labelled}; decide on one label, fix the other rows in the source "
        f"manifest, then {REINGEST}"
    )
    return Message(("manifest", "conflict", str(value)), text)


def _unknown_labels(meta: Mapping, result: dict, column: str) -> list[Message]:
    labels = Counter(str(v) for v in result.get("unexpected_list", []))
    shown = [f"'{label}' ({images(n)})" for label, n in labels.most_common(EXAMPLES)]
    text = (
        f"manifest: {column}(s) that are not classes of taxonomy '{meta.get('taxonomy')}': "
        f"{', '.join(shown)}{more(len(labels))}; add the class to {meta.get('file')}, or "
        f"fix the labels in the source manifest and {REINGEST}"
    )
    return [Message(("manifest", "known", column), text)]


def _no_split(meta: Mapping, result: dict, column: str) -> list[Message]:
    text = (
        f"splits: {images(failing_count(result))} of the manifest in no split "
        f"({paths(result)}); data/splits.parquet is older than the manifest: run "
        f"`taxonomist split` (`dvc repro split`), which adds new images and keeps the rest"
    )
    return [Message(("splits", "missing"), text)]


def _bad_phash(meta: Mapping, result: dict, column: str) -> list[Message]:
    text = (
        f"manifest: {images(failing_count(result))} with a phash that is not 16 hex digits "
        f"({paths(result)}); they are left out of the near-duplicate check: {REINGEST} "
        f"to hash them again"
    )
    return [Message(("manifest", "phash"), text)]


def _bad_bbox(meta: Mapping, result: dict, column: str) -> list[Message]:
    text = (
        f"manifest: {images(failing_count(result))} whose bbox is empty or outside the image "
        f"({paths(result)}); a box needs 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height "
        f"in pixels of the upright image: fix it in the source manifest, then {REINGEST}"
    )
    return [Message(("manifest", "bbox"), text)]


Writer = Callable[[Mapping, dict, str], list[Message]]
_WRITERS: dict[str, Writer] = {
    "columns": _missing_columns,
    "missing": _missing,
    "unique": _duplicates,
    "known_label": _unknown_labels,
    "no_split": _no_split,
    "phash": _bad_phash,
    "bbox": _bad_bbox,
    **coverage_messages.WRITERS,
    **leakage_messages.WRITERS,
}



def _exception_message(info: Any) -> str:
    """The error a check raised, if any; great-expectations nests it per metric."""
    if not isinstance(info, Mapping):
        return ""
    if "raised_exception" in info:
        return str(info.get("exception_message") or "") if info["raised_exception"] else ""
    return "; ".join(filter(None, (_exception_message(v) for v in info.values())))
