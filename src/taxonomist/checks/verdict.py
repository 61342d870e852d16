"""From failed great-expectations results to the report's errors and warnings.

Each failed result names its check in ``meta["check"]``; that check words it (see
:meth:`~.base.Check.messages`). Works on the result objects' attributes only, so this
module does not import great-expectations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from taxonomist.checks.base import Failure, Message
from taxonomist.checks.registry import check_named


def sort_messages(results: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Split the failed results' messages into errors and warnings by their severity.

    A subject with an error gets no warning as well: a class below ``min_images`` is
    also below ``recommended_images``, and one message about it is enough.

    Args:
        results: ``ExpectationValidationResult`` objects, from any number of suites.

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
    return (
        [message.text for message in errors],
        [message.text for message in warnings if message.subject not in blocked],
    )


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
