"""Messages for leakage: sets across splits, near-duplicates across sets, and rows ingest
rejected because their bytes were already stored under another label."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from taxonomist.checks.phrases import (
    EXAMPLES,
    REINGEST,
    RESPLIT,
    Message,
    failing_count,
    failing_rows,
    more,
)


def _set_leak(meta: Mapping, result: dict, column: str) -> list[Message]:
    """Sets with images in train and in test: the test score rewards memorising them."""
    rows, total = failing_rows(result), failing_count(result)
    shown = "; ".join(
        f"set '{row['set_id']}': {row['path_train']} in train, {row['path_test']} in test"
        for row in rows[:EXAMPLES]
    )
    text = (
        f"splits: {total} set(s) with images in both train and test ({shown}"
        f"{more(total, min(len(rows), EXAMPLES))}); every view of one object must stay in "
        f"one split, and data/splits.parquet no longer matches the manifest's set_ids: "
        f"{RESPLIT}"
    )
    return [Message(("splits", "set_leak"), text)]


def _set_mixed(meta: Mapping, result: dict, column: str) -> list[Message]:
    """Sets in val and another split: early stopping sees images of training sets."""
    rows, total = failing_rows(result), failing_count(result)
    shown = "; ".join(f"set '{row['set_id']}' in {row['splits']}" for row in rows[:EXAMPLES])
    text = (
        f"splits: {total} set(s) in more than one split ({shown}"
        f"{more(total, min(len(rows), EXAMPLES))}); validation scores are optimistic "
        f"for them: {RESPLIT}"
    )
    return [Message(("splits", "set_mixed"), text)]


def _near_duplicate_leak(meta: Mapping, result: dict, column: str) -> list[Message]:
    rows, total = failing_rows(result), failing_count(result)
    text = (
        f"splits: {total} near-duplicate pair(s) across train and test (perceptual hashes "
        f"at most {meta.get('max_distance')} bits apart, in different sets): "
        f"{_pairs(rows)}{more(total, min(len(rows), EXAMPLES))}; the test score rewards "
        f"memorising them: if they show one object, give them one set_id in the source "
        f"manifest and {REINGEST}, then {RESPLIT}; or drop one of each pair"
    )
    return [Message(("splits", "near_duplicate_leak"), text)]


def _near_duplicates(meta: Mapping, result: dict, column: str) -> list[Message]:
    rows, total = failing_rows(result), failing_count(result)
    text = (
        f"manifest: {total} near-duplicate pair(s) in different sets (perceptual hashes at "
        f"most {meta.get('max_distance')} bits apart, not across train and test): "
        f"{_pairs(rows)}{more(total, min(len(rows), EXAMPLES))}; if a pair shows one "
        f"object, give both one set_id in the source manifest so the split keeps them "
        f"together"
    )
    return [Message(("manifest", "near_duplicates"), text)]


def _pairs(rows: list[dict]) -> str:
    return "; ".join(str(row["pair"]) for row in rows[:EXAMPLES])


def _rejected_conflicts(meta: Mapping, result: dict, column: str) -> list[Message]:
    """Ingest kept the first label of some bytes and rejected the rows that disagree."""
    rows, total = failing_rows(result), failing_count(result)
    shown = "; ".join(
        f"{row.get('path')} labelled '{row.get('label')}': {row.get('reason')}"
        for row in rows[:EXAMPLES]
    )
    text = (
        f"ingest: {total} row(s) rejected as label conflicts, the same bytes under two "
        f"labels (data/rejects.csv): {shown}{more(total, min(len(rows), EXAMPLES))}; the "
        f"manifest kept the first label, which may be the wrong one"
    )
    return [Message(("rejects", "label_conflict"), text)]


WRITERS: dict[str, Callable[[Mapping, dict, str], list[Message]]] = {
    "set_leak": _set_leak,
    "set_mixed": _set_mixed,
    "near_duplicate_leak": _near_duplicate_leak,
    "near_duplicate": _near_duplicates,
    "label_conflict": _rejected_conflicts,
}
