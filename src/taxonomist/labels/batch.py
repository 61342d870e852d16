"""A batch: images of one node sent out for labelling, and the record import checks against.

``taxonomist label export NODE`` picks the images (at random, balanced across the
current labels, or ``uncertain``: those the live stack is least sure of at NODE), then
writes, under ``labels/batches/<batch>/``:

- ``batch.json``: the node, the classes a worker may answer, the strategy, when, and
  for ``uncertain`` the stack version whose confidence chose the images;
- ``tasks.csv``: one row per image (``task_id`` is the image's sha256 id);
- ``mturk_input.csv``: Mechanical Turk's input file, one HIT per image, with the fields
  ``batch``, ``task_id``, ``node``, ``classes`` and ``image_url`` (a presigned URL that
  expires after ``crowd.url_ttl_s``; a ``file://`` URL for a folder source);
- ``label_studio_tasks.json`` and ``label_studio_config.xml``: the same tasks for Label
  Studio, with ``s3://`` URIs it presigns itself, and a labelling config of the classes.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pandas as pd

from taxonomist.contracts.files import write_text_atomic
from taxonomist.contracts.manifest import in_use
from taxonomist.data.sources import Source
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy

TASK_COLUMNS = ("task_id", "id", "path", "label")
MTURK_FIELDS = ("batch", "task_id", "node", "classes", "image_url")
# the field name of the answer in the HIT's form and in Label Studio's config
ANSWER = "label"
# candidate manifest rows -> how sure the live stack is about each (same index)
Confidence = Callable[[pd.DataFrame], pd.Series]


class Pick(StrEnum):
    """Which images of the node a batch asks about."""

    random = "random"
    balanced = "balanced"  # as many of each current label as there are (round robin)
    uncertain = "uncertain"  # the live stack's least confident at the node first


@dataclass(frozen=True)
class Batch:
    """What was sent out: ``batch.json``."""

    batch: str
    node: str
    classes: tuple[str, ...]
    strategy: str
    created_at: str
    url_ttl_s: int
    ranked_by: str | None = None  # uncertain: the live stack, e.g. "digits.stack v3 (@live)"

    @classmethod
    def read(cls, batches: Path, batch: str, where: str) -> Batch:
        """The batch record, or an error naming the batches there are.

        Raises:
            DataError: no such batch under ``batches`` (``where`` names the row asking).
        """
        # Only a batch found here: a name from a results file never becomes a path
        # outside the folder (``../``, ``/``, a NUL byte).
        known = sorted(p.parent.name for p in batches.glob("*/batch.json"))
        if batch not in known:
            known_text = ", ".join(known) or "none yet"
            raise DataError(f"{where}: batch {batch!r} was never exported from this project "
                            f"(batches in {batches}: {known_text}); import the results of a "
                            "batch `taxonomist label export` wrote here")
        fields = json.loads((batches / batch / "batch.json").read_text(encoding="utf-8"))
        return cls(**{**fields, "classes": tuple(fields["classes"])})

    def tasks(self, batches: Path) -> pd.DataFrame:
        return pd.read_csv(batches / self.batch / "tasks.csv", dtype=str, keep_default_na=False)


def classes_of(node: str, taxonomy: Taxonomy) -> tuple[str, ...]:
    """The answers a worker may give about an image of ``node``: the leaves under it, so a
    crowd label is as precise as the taxonomy."""
    return tuple(leaf for leaf in taxonomy.leaves if node in taxonomy.path(leaf)[:-1])


def under_node(manifest: pd.DataFrame, node: str, taxonomy: Taxonomy) -> pd.DataFrame:
    """Images in use labelled under ``node`` (or with ``node`` itself)."""
    rows = in_use(manifest)
    under = rows["label"].map(lambda label: label in taxonomy and node in taxonomy.path(label))
    return rows[under]


def candidates(manifest: pd.DataFrame, node: str, taxonomy: Taxonomy) -> pd.DataFrame:
    """Images in use labelled under ``node`` that no crowd or expert has decided yet."""
    rows = under_node(manifest, node, taxonomy)
    return rows[~rows["label_source"].isin(["crowd", "expert"])]


def pick(rows: pd.DataFrame, n: int, strategy: Pick, seed: str,
         confidence: pd.Series | None = None) -> pd.DataFrame:
    """``n`` of ``rows`` (all when fewer), drawn by ``strategy``, reproducibly per ``seed``.

    Args:
        confidence: for ``uncertain``, per row (same index) how sure the live stack is;
            the least sure come first, ties in the seeded random order.

    Raises:
        ValueError: ``uncertain`` without ``confidence``.
    """
    order = list(rows.index)
    random.Random(seed).shuffle(order)
    if strategy is Pick.uncertain:
        if confidence is None:
            raise ValueError("Pick.uncertain needs the live stack's confidence per row")
        order = sorted(order, key=confidence.__getitem__)  # stable: ties stay shuffled
    elif strategy is Pick.balanced:
        by_label = rows.loc[order].groupby("label", sort=True).groups
        queues = [list(index) for index in by_label.values()]
        order = [q[i] for i in range(max(map(len, queues), default=0)) for q in queues
                 if i < len(q)]
    return rows.loc[order[:n]]


def new_batch_id(batches: Path, node: str, now: datetime) -> str:
    """``NODE-YYYYmmddTHHMMSSZ``, with ``-2``, ``-3``... when that second is taken."""
    stem = f"{node}-{now:%Y%m%dT%H%M%SZ}"
    batch, n = stem, 1
    while (batches / batch).exists():
        n += 1
        batch = f"{stem}-{n}"
    return batch


def export_batch(manifest: pd.DataFrame, node: str, n: int, strategy: Pick,
                 taxonomy: Taxonomy, source: Source, batches: Path, ttl_s: int,
                 seed: int, confidence: Confidence | None = None,
                 ranked_by: str | None = None) -> Batch:
    """Pick ``n`` images of ``node`` and write the batch's files (see the module's doc).

    Args:
        confidence: for ``uncertain``, how sure the live stack is at ``node`` about
            each of the candidate rows it is given
            (:func:`taxonomist.labels.live.node_confidence`).
        ranked_by: for ``uncertain``, which stack version that confidence is from.

    Raises:
        DataError: no image of ``node`` is left to ask about.
    """
    rows = candidates(manifest, node, taxonomy)
    if rows.empty:
        raise DataError(f"no image labelled under {node!r} is left to ask about: each is "
                        "excluded or already decided by the crowd or the expert")
    now = datetime.now(UTC)
    batch = Batch(new_batch_id(batches, node, now), node, classes_of(node, taxonomy),
                  strategy.value, now.isoformat(timespec="seconds"), ttl_s,
                  ranked_by if strategy is Pick.uncertain else None)
    sure = confidence(rows) if strategy is Pick.uncertain and confidence is not None else None
    chosen = pick(rows, n, strategy, f"{seed}:{batch.batch}", sure)
    tasks = pd.DataFrame({"task_id": chosen["id"], "id": chosen["id"], "path": chosen["path"],
                          "label": chosen["label"]})
    folder = batches / batch.batch
    write_text_atomic(folder / "tasks.csv", tasks.to_csv(index=False))
    write_text_atomic(folder / "batch.json", json.dumps(asdict(batch), indent=2) + "\n")
    write_links(batch, tasks, source, batches)
    return batch


def write_links(batch: Batch, tasks: pd.DataFrame, source: Source, batches: Path) -> None:
    """The files that point workers at the images: new presigned URLs on every call, so
    rerunning it (``label export --refresh BATCH``) replaces expired links."""
    folder = batches / batch.batch
    write_text_atomic(folder / "mturk_input.csv", _mturk_input(batch, tasks, source))
    write_text_atomic(folder / "label_studio_tasks.json", _label_studio_tasks(batch, tasks,
                                                                              source))
    write_text_atomic(folder / "label_studio_config.xml", _label_studio_config(batch))


def _mturk_input(batch: Batch, tasks: pd.DataFrame, source: Source) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MTURK_FIELDS)
    for task in tasks.itertuples():
        writer.writerow([batch.batch, task.task_id, batch.node, "|".join(batch.classes),
                         source.share_url(task.path, batch.url_ttl_s)])
    return out.getvalue()


def _label_studio_tasks(batch: Batch, tasks: pd.DataFrame, source: Source) -> str:
    items = [{"data": {"image": source.storage_uri(task.path), "batch": batch.batch,
                       "task_id": task.task_id, "node": batch.node}}
             for task in tasks.itertuples()]
    return json.dumps(items, indent=2) + "\n"


def _label_studio_config(batch: Batch) -> str:
    choices = "\n".join(f"    <Choice value={quoteattr(c)}/>" for c in batch.classes)
    return (f'<View>\n  <Image name="image" value="$image"/>\n'
            f'  <Choices name="{ANSWER}" toName="image" choice="single" required="true">\n'
            f"{choices}\n  </Choices>\n</View>\n")
