"""Turn failed great-expectations results into messages a user can act on.

Each message says what was checked, what was found (the node and class, or the rows),
the threshold, and how to fix it. Works on the result objects' attributes only, so this
module does not import great-expectations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from taxonomist.checks.tables import REQUIRED_COLUMNS

EXAMPLES = 5  # rows or values named in one message
REINGEST = "re-run `taxonomist ingest` (`dvc repro ingest`)"


class Message(NamedTuple):
    """One finding: what it is about (e.g. a node and class) and the text for the user."""

    subject: tuple[str, ...]
    text: str


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
            f"manifest: missing column(s) {_quoted(missing)} (expected "
            f"{', '.join(REQUIRED_COLUMNS)}); it was written by an older or a different "
            f"ingest: {REINGEST} to rewrite it",
        )
    ]


def _missing(meta: Mapping, result: dict, column: str) -> list[Message]:
    fix = {
        "id": f"ingest sets the id to the sha256 of the image's bytes: {REINGEST}",
        "label": f"give them a label in the source manifest, then {REINGEST}",
    }.get(column, f"fill in {column}, then {REINGEST}")
    found = _images(result.get("unexpected_count", 0))
    text = f"manifest: {found} without {column} ({_paths(result)}); {fix}"
    return [Message(("manifest", "missing", column), text)]


def _duplicates(meta: Mapping, result: dict, column: str) -> list[Message]:
    repeated = Counter(result.get("unexpected_list", []))
    shown = [
        f"'{value}' ({times} rows: {_paths(result, column, value)})"
        for value, times in repeated.most_common(EXAMPLES)
    ]
    text = (
        f"manifest: {len(repeated)} {column}(s) used by more than one row: "
        f"{', '.join(shown)}{_more(len(repeated))}; every image needs its own {column}: "
        f"{REINGEST}, which keeps one row per image"
    )
    return [Message(("manifest", "unique", column), text)]


def _unknown_labels(meta: Mapping, result: dict, column: str) -> list[Message]:
    labels = Counter(str(v) for v in result.get("unexpected_list", []))
    shown = [f"'{label}' ({_images(n)})" for label, n in labels.most_common(EXAMPLES)]
    text = (
        f"manifest: {column}(s) that are not classes of taxonomy '{meta.get('taxonomy')}': "
        f"{', '.join(shown)}{_more(len(labels))}; add the class to {meta.get('file')}, or "
        f"fix the labels in the source manifest and {REINGEST}"
    )
    return [Message(("manifest", "known", column), text)]


def _too_few(meta: Mapping, result: dict, column: str) -> list[Message]:
    return [
        Message(
            (row["node"], row["class"]),
            f"node '{row['node']}', class '{row['class']}': {_images(int(row['count']))}, "
            f"fewer than min_images {row['min_images']}; add images of '{row['class']}', or "
            f"lower min_images in conf/classifiers/{row['node']}.yaml",
        )
        for row in result.get("unexpected_index_list", [])
    ]


def _below_recommended(meta: Mapping, result: dict, column: str) -> list[Message]:
    return [
        Message(
            (row["node"], row["class"]),
            f"node '{row['node']}', class '{row['class']}': {_images(int(row['count']))}, "
            f"fewer than recommended_images {row['recommended_images']}; more images of "
            f"'{row['class']}' usually help, or lower recommended_images in "
            f"conf/classifiers/{row['node']}.yaml",
        )
        for row in result.get("unexpected_index_list", [])
    ]


def _unbalanced(meta: Mapping, result: dict, column: str) -> list[Message]:
    return [
        Message(
            (row["node"],),
            f"node '{row['node']}': classes unbalanced, '{row['largest_class']}' "
            f"{row['largest_count']} / '{row['smallest_class']}' {row['smallest_count']} "
            f"images = {_ratio(row)}, above max_imbalance {float(row['max_imbalance']):g}; "
            f"add images of '{row['smallest_class']}', or raise max_imbalance in "
            f"conf/classifiers/{row['node']}.yaml (and keep `balance: weights` or `sampler` "
            f"to compensate)",
        )
        for row in result.get("unexpected_index_list", [])
    ]


_WRITERS: dict[str, Callable[[Mapping, dict, str], list[Message]]] = {
    "columns": _missing_columns,
    "missing": _missing,
    "unique": _duplicates,
    "known_label": _unknown_labels,
    "min_images": _too_few,
    "recommended_images": _below_recommended,
    "max_imbalance": _unbalanced,
}


def _images(count: int) -> str:
    return "no images (0)" if count == 0 else f"{count} image{'' if count == 1 else 's'}"


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _more(total: int) -> str:
    return f" and {total - EXAMPLES} more" if total > EXAMPLES else ""


def _ratio(row: Mapping) -> str:
    return f"{float(row['ratio']):.1f}" if int(row["smallest_count"]) else "infinite"


def _paths(result: dict, column: str = "", value: Any = None) -> str:
    """Paths of a few failing rows (of those whose ``column`` is ``value``, if given)."""
    rows = [
        row
        for row in result.get("unexpected_index_list", [])
        if not column or row.get(column) == value
    ]
    paths = [str(row["path"]) for row in rows if "path" in row]
    return ", ".join(paths[:EXAMPLES]) + _more(len(paths)) if paths else "no path column"


def _exception_message(info: Any) -> str:
    """The error a check raised, if any; great-expectations nests it per metric."""
    if not isinstance(info, Mapping):
        return ""
    if "raised_exception" in info:
        return str(info.get("exception_message") or "") if info["raised_exception"] else ""
    return "; ".join(filter(None, (_exception_message(v) for v in info.values())))
