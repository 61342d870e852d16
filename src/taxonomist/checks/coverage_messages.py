"""Messages for coverage and bias: too few images, imbalance, one-source classes, and
splits that differ from train. Subjects are ``(node, class)`` or ``(node,)``, so a class
with an error is not also warned about (see :func:`~.messages.sort_messages`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping

from taxonomist.checks.phrases import RESPLIT, Message, images, share
from taxonomist.checks.tables import ALL


def _too_few(meta: Mapping, result: dict, column: str) -> list[Message]:
    """One message per class, naming every split (and the total) that falls short."""
    short: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in result.get("unexpected_index_list", []):
        short[(row["node"], row["class"])].append(row)
    return [_too_few_text(node, cls, rows) for (node, cls), rows in short.items()]


def _too_few_text(node: str, cls: str, rows: list[dict]) -> Message:
    by_split = {row.get("split", ALL): int(row["count"]) for row in rows}
    total = by_split.pop(ALL, None)
    if total is None:
        where = ", ".join(f"{images(n)} in {split}" for split, n in by_split.items())
        why = " (the split keeps whole sets together, so a class with few sets can miss a split)"
    else:
        splits = ", ".join(f"{split} {n}" for split, n in by_split.items())
        where, why = f"{images(total)} in all splits" + (f" ({splits})" if splits else ""), ""
    text = (
        f"node '{node}', class '{cls}': {where}, fewer than min_images "
        f"{rows[0]['min_images']}{why}; add images of '{cls}', or lower min_images in "
        f"conf/classifiers/{node}.yaml"
    )
    return Message((node, cls), text)


def _below_recommended(meta: Mapping, result: dict, column: str) -> list[Message]:
    return [
        Message(
            (row["node"], row["class"]),
            f"node '{row['node']}', class '{row['class']}': {images(int(row['count']))}, "
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


def _ratio(row: Mapping) -> str:
    return f"{float(row['ratio']):.1f}" if int(row["smallest_count"]) else "infinite"


def _dominant(meta: Mapping, result: dict, column: str) -> list[Message]:
    """A class from (almost) one source or month, which the node as a whole is not."""
    return [
        Message(
            (row["node"], row["class"], row["of"]),
            f"node '{row['node']}', class '{row['class']}': {share(row['share'])} of its "
            f"images come from {row['of']} '{row['value']}' (of the node's images: "
            f"{share(row['node_share'])}), above max_{row['of']}_share "
            f"{float(row['limit']):g}; the model can learn the {row['of']} instead of the "
            f"class: add images of '{row['class']}' from other {row['of']}s, or raise "
            f"max_{row['of']}_share in conf/classifiers/{row['node']}.yaml",
        )
        for row in result.get("unexpected_index_list", [])
    ]


def _divergent(meta: Mapping, result: dict, column: str) -> list[Message]:
    """A split whose classes or sources are spread differently from train's."""
    return [
        Message(
            (row["node"], row["split"], row["of"]),
            f"node '{row['node']}', split '{row['split']}': its {row['of']} distribution "
            f"differs from train's by {float(row['distance']):.2f} (Jensen-Shannon distance), "
            f"above max_split_divergence {float(row['limit']):g}; most of all "
            f"{row['of']} '{row['value']}': {share(row['share'])} of {row['split']} vs "
            f"{share(row['train_share'])} of train; {_divergence_fix(row)}",
        )
        for row in result.get("unexpected_index_list", [])
    ]


def _divergence_fix(row: Mapping) -> str:
    where = f"conf/classifiers/{row['node']}.yaml"
    if row["of"] == "class":
        return f"with more sets per class this evens out; or {RESPLIT}; or raise it in {where}"
    return (
        f"the split does not stratify by source: add images of the under-represented "
        f"source, or {RESPLIT}; or raise it in {where}"
    )


WRITERS: dict[str, Callable[[Mapping, dict, str], list[Message]]] = {
    "min_images": _too_few,
    "recommended_images": _below_recommended,
    "max_imbalance": _unbalanced,
    "dominant": _dominant,
    "divergence": _divergent,
}
