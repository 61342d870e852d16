"""The expert's dashboard on disk: ``reports/labels/queue.html``, its thumbnails in
``reports/labels/queue_files/`` (linked relatively, so the page works opened as a file,
offline) and ``reports/labels/decisions.csv``, prefilled for ``taxonomist label apply``.

Every thumbnail is made before anything is written, and the page is written last, so a
refused image leaves the previous queue as it was.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomist.config import Paths
from taxonomist.contracts.files import write_atomic, write_text_atomic
from taxonomist.data.images import ImagePolicy
from taxonomist.data.pixels import to_rgb
from taxonomist.labels.live import LiveStack, decoded_chunks, stack_input, stored_image
from taxonomist.labels.out_of_fold import PixelNeighbours, grey_features, out_of_fold_doubt
from taxonomist.labels.queue import LIKELY_ERROR, in_scope, queue_rows, read_crowd, read_splits
from taxonomist.report.gallery import thumbnail_png
from taxonomist.report.render import html_environment
from taxonomist.stack.predictor import Prediction
from taxonomist.taxonomy import Taxonomy

TEMPLATE = "label_queue.html.j2"
DECISION_COLUMNS = ("image", "label", "excluded", "suggested", "path", "current_label")
SUGGESTED = "yes"  # ``suggested``: the label is the models' suggestion, not yet a decision


@dataclass(frozen=True)
class QueuePage:
    """What the page shows.

    Attributes:
        rows: the queue (:func:`taxonomist.labels.queue.queue_rows`), at most the limit.
        total: how many images were queued before the limit.
        node: the node whose images these are.
        stack: the live stack that guessed, e.g. ``digits.stack v3 (@live)``; None when
            no stack is live (the model's columns are then empty).
    """

    rows: pd.DataFrame
    total: int
    node: str
    stack: str | None


def label_queue(manifest: pd.DataFrame, node: str, taxonomy: Taxonomy, paths: Paths,
                stack: LiveStack | None, limit: int, out_of_fold: PixelNeighbours | None = None,
                policy: ImagePolicy | None = None) -> QueuePage:
    """The ``limit`` most disputed images under ``node``, the crowd checked first (cheap),
    then the models' evidence, from one read of every image in scope.

    Args:
        stack: the live stack, whose walks are the guesses; None: no guesses.
        out_of_fold: the model of the out-of-fold doubt
            (:mod:`taxonomist.labels.out_of_fold`); None: no doubt.
        policy: the image policy the images are decoded under without a live stack (with
            one, the stack's own); None: :class:`ImagePolicy`'s defaults.

    Raises:
        DataError: a label file names an image not in ``manifest``, or a stored image is
            missing or refused.
    """
    crowd = read_crowd(paths, manifest)
    scope = in_scope(manifest, node, taxonomy, crowd)
    guesses, features = _read_images(scope, paths.root, stack, out_of_fold, policy)
    doubt = (out_of_fold_doubt(features, scope, node, taxonomy, out_of_fold)
             if out_of_fold is not None else None)
    ranked = queue_rows(scope, taxonomy, crowd, read_splits(paths.splits), guesses, doubt)
    return QueuePage(ranked.head(limit), len(ranked), node, stack.title if stack else None)


def _read_images(scope: pd.DataFrame, root: Path, stack: LiveStack | None,
                 out_of_fold: PixelNeighbours | None, policy: ImagePolicy | None
                 ) -> tuple[list[Prediction] | None, np.ndarray]:
    """The stack's walks and the grey pixels of ``scope``'s images, each file decoded
    once; nothing is read when neither is asked for."""
    if stack is None and out_of_fold is None:
        return None, np.zeros((0, 0))
    guesses: list[Prediction] = []
    features = []
    decode_under = stack.policy if stack else (policy or ImagePolicy())
    for images in decoded_chunks(scope, decode_under, root):
        if stack is not None:
            guesses += stack.predictor.predict(stack_input(stack, images))
        if out_of_fold is not None:
            features.append(grey_features(images, out_of_fold.size))
    pixels = np.concatenate(features) if features else np.zeros((0, 0))
    return (guesses if stack else None), pixels


def write_queue(page: QueuePage, paths: Paths, policy: ImagePolicy) -> None:
    """Write the page, its thumbnails and the decisions CSV (see the module's doc).

    Raises:
        DataError: a queued image's stored file is missing or refused by ``policy``.
    """
    thumbnails = {thumbnail_name(row.id): thumbnail_png(to_rgb(stored_image(
        paths.root / row.stored, policy)), fast=True) for row in page.rows.itertuples()}
    _replace_folder(paths.label_queue_thumbnails, thumbnails)
    table = decisions(page.rows)
    write_atomic(paths.label_decisions, lambda tmp: table.to_csv(tmp, index=False))
    write_text_atomic(paths.label_queue, render_queue(page, paths))


def thumbnail_name(image_id: str) -> str:
    return f"{image_id[:16]}.png"


def apply_command(paths: Paths) -> str:
    """The command that lands the decisions, with the CSV relative to the project."""
    return f"taxonomist label apply {paths.label_decisions.relative_to(paths.root)}"


def decisions(rows: pd.DataFrame) -> pd.DataFrame:
    """A decisions CSV for :func:`taxonomist.labels.decisions.apply_decisions`: one row per
    queued image, labelled as the crowd aggregated it; else, for a likely error, as the
    models suggest (``suggested`` is then :data:`SUGGESTED`, and ``label apply`` takes it
    only once the expert accepts it); else as it is now. ``path`` and ``current_label``
    are for the expert to read and are ignored by ``label apply``."""
    crowd = rows["crowd_label"] != ""
    suggested = ~crowd & (rows["suggestion"] != "") & (rows["suggestion"] != rows["label"])
    label = rows["crowd_label"].where(crowd, rows["suggestion"].where(suggested, rows["label"]))
    return pd.DataFrame({"image": rows["id"], "label": label, "excluded": "",
                         "suggested": suggested.map({True: SUGGESTED, False: ""}),
                         "path": rows["path"], "current_label": rows["label"]},
                        columns=list(DECISION_COLUMNS))


def render_queue(page: QueuePage, paths: Paths) -> str:
    """The page's HTML (Jinja2, HTML-escaped), thumbnails linked relative to it."""
    folder = Path(os.path.relpath(paths.label_queue_thumbnails, paths.label_queue.parent))
    rows = page.rows.astype(object).where(page.rows.notna(), None).to_dict("records")
    for row in rows:
        row["thumbnail"] = (folder / thumbnail_name(row["id"])).as_posix()
    return html_environment().get_template(TEMPLATE).render(
        page=page, rows=rows, apply=apply_command(paths), likely_error=LIKELY_ERROR,
        decisions=paths.label_decisions.relative_to(paths.root).as_posix())


def _replace_folder(folder: Path, files: dict[str, bytes]) -> None:
    """``folder`` holding exactly ``files``, swapped in whole: no stale thumbnail stays."""
    fresh = folder.with_name(f".{folder.name}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    for name, data in files.items():
        (fresh / name).write_bytes(data)
    shutil.rmtree(folder, ignore_errors=True)
    fresh.rename(folder)
