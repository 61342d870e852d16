"""From failed great-expectations results to the report's errors and warnings.

Each failed result names its check in ``meta["check"]``; that check words it (see
:meth:`~.base.Check.messages`). Works on the result objects' attributes only, so this
module does not import great-expectations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from taxonomist.checks.base import Failure, Message
from taxonomist.checks.registry import check_named
from taxonomist.checks.wording import existing_files

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def sort_messages(
    results: Iterable[Any], conf: Path = Path("conf"), classifier_dir: str = "classifiers"
) -> tuple[list[str], list[str]]:
    """Split the failed results' messages into errors and warnings by their severity.

    A subject with an error gets no warning as well: a class below ``min_images`` is
    also below ``recommended_images``, and one message about it is enough. Warnings that
    differ only in the class they name (and its numbers) become one line naming every
    class (:func:`collapse_alike`). A file a message names that ``conf`` lacks is
    replaced by the one the key comes from (:func:`~.wording.existing_files`).

    Args:
        results: ``ExpectationValidationResult`` objects, from any number of suites.
        conf: the project's ``conf/`` folder (stages run in the project root).
        classifier_dir: the folder under ``conf`` holding the classifier files.

    Returns:
        ``(errors, warnings)``, each in the order of ``results``.

    Raises:
        LookupError: a failed result names no registered check (a bug, not bad data).
    """
    errors: list[Message] = []
    warnings: list[Message] = []
    for result in results:
        if not result.success:
            severity = result.expectation_config.severity
            is_warning = str(getattr(severity, "value", severity)) == "warning"
            (warnings if is_warning else errors).extend(messages_for(result))
    blocked = {message.subject for message in errors}
    warnings = collapse_alike([m for m in warnings if m.subject not in blocked])
    return (
        [existing_files(message.text, conf, classifier_dir) for message in errors],
        [existing_files(message.text, conf, classifier_dir) for message in warnings],
    )


def collapse_alike(messages: list[Message]) -> list[Message]:
    """Messages the same but for their subject and numbers, as one line naming each subject.

    Ten classes below ``recommended_images`` read as one finding about ten classes, with
    the first message as the example, instead of ten lines to compare by eye.

    Example:
        ``"the same for 3 classes (round: zero, six; curved: two), e.g. node 'round',
        class 'zero': 442 images, fewer than recommended_images 1000; ..."``
    """
    alike: dict[str, list[Message]] = {}
    for message in messages:
        alike.setdefault(_shape(message), []).append(message)
    return [group[0] if len(group) == 1 else _one_line(group) for group in alike.values()]


def _shape(message: Message) -> str:
    """The text with its subject's names and every number blanked out."""
    text = message.text
    for name in message.subject:
        text = re.sub(rf"\b{re.escape(name)}\b", "<name>", text)
    return NUMBER.sub("#", text)


def _one_line(group: list[Message]) -> Message:
    by_parent: dict[tuple[str, ...], list[str]] = {}
    for message in group:
        *parent, name = message.subject[:2]  # (node, class); what follows is alike
        by_parent.setdefault(tuple(parent), []).append(name)
    named = "; ".join(
        f"{'/'.join(parent)}: {', '.join(names)}" if parent else ", ".join(names)
        for parent, names in by_parent.items()
    )
    kind = "classes" if all(len(m.subject) >= 2 for m in group) else "findings"
    first = group[0]
    return Message(first.subject, f"the same for {len(group)} {kind} ({named}), e.g. {first.text}")


def messages_for(result: Any) -> list[Message]:
    """The messages for one failed ``ExpectationValidationResult``.

    Raises:
        LookupError: its ``meta["check"]`` names no registered check.
    """
    config = result.expectation_config
    column = str(config.kwargs.get("column", ""))
    problem = _exception_message(result.exception_info)
    if problem:
        where = f"on {column} " if column else ""
        return [
            Message((config.type, column), f"check {config.type} {where}could not run: {problem}")
        ]
    meta = dict(config.meta or {})
    check = check_named(str(meta.get("check", "")))
    return check.messages(Failure(dict(result.result), column, meta))


def _exception_message(info: Any) -> str:
    """The error a check raised, if any; great-expectations nests it per metric."""
    if not isinstance(info, Mapping):
        return ""
    if "raised_exception" in info:
        return str(info.get("exception_message") or "") if info["raised_exception"] else ""
    return "; ".join(filter(None, (_exception_message(v) for v in info.values())))
