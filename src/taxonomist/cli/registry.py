"""rollback, history and ``report --markdown``: they read or move @live, not DVC stages,
so they run whatever the state of params.yaml (no stale-params check)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from taxonomist.cli.common import composed

Run = Callable[[argparse.Namespace], int | None]


def add_registry_verbs(verbs: argparse._SubParsersAction) -> None:
    """``rollback`` and ``history``, and ``--markdown`` on the ``report`` verb already added."""
    rollback = verbs.add_parser("rollback", help="move @live back and tell people why")
    rollback.add_argument("--to", metavar="VERSION", help="default: the previous live version")
    rollback.add_argument("--reason", required=True, help="why, for the history and the message")
    rollback.set_defaults(run=_rollback)
    verbs.add_parser("history", help="the versions that held @live: who, when, why").set_defaults(
        run=_history
    )
    report = verbs.choices["report"]
    report.add_argument(
        "--markdown", action="store_true",
        help="print a Markdown summary for a pull request instead (writes nothing)",
    )
    report.set_defaults(run=_markdown_or(report.get_default("run")))


def _rollback(args: argparse.Namespace) -> None:
    from taxonomist.rollback import announce_rollback, roll_back_live

    config, paths = composed(args)
    rolled = roll_back_live(config, paths, to=args.to, reason=args.reason)
    came_from = f"from v{rolled.event.previous} " if rolled.event.previous else ""
    print(f"{rolled.model}: @live moved {came_from}back to v{rolled.event.version}")
    if rolled.card_note:
        print(f"note: {rolled.card_note}")
    notification = announce_rollback(config, paths, rolled)
    print(f"notified: {notification.title}")


def _history(args: argparse.Namespace) -> None:
    from taxonomist.report.history import format_history, history_rows
    from taxonomist.tracking.client import client_for
    from taxonomist.tracking.names import stack_model_name

    config, paths = composed(args)
    client, name = client_for(config.project.mlflow, paths), stack_model_name(config.taxonomy.name)
    metric = config.project.promotion.metric
    print(format_history(name, history_rows(client, name, metric), metric))


def _markdown_or(staged: Run) -> Run:
    """The report stage, or with ``--markdown`` the pull request's summary instead."""

    def run(args: argparse.Namespace) -> int | None:
        if not args.markdown:
            return staged(args)
        from taxonomist.report.markdown import markdown_summary

        config, paths = composed(args)
        print(markdown_summary(paths, config.taxonomy), end="")
        return 0

    return run
