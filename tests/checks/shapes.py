"""A four-class taxonomy, its thresholds, and manifests with chosen counts per label."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from taxonomist.config.schema import ClassifierConfig
from taxonomist.taxonomy import Taxonomy

TAXONOMY = Taxonomy.from_tree(
    "shapes",
    {"shape": {"round": ["circle", "oval"], "angular": ["square", "triangle"]}},
    "conf/taxonomy/shapes.yaml",
)
CLASSIFIERS = {
    node: ClassifierConfig(min_images=3, recommended_images=5, max_imbalance=3.0)
    for node in TAXONOMY.inner_nodes
}
# Every class at or above recommended_images, balanced; "round" labels only the
# inner node, so those images count at "shape" and nowhere below.
GOOD = {"circle": 6, "oval": 6, "square": 6, "triangle": 6, "round": 2}


def make_manifest(images_per_label: Mapping[str, int]) -> pd.DataFrame:
    """A manifest as ingest writes it, ``n`` rows for each label."""
    labels = [label for label, n in images_per_label.items() for _ in range(n)]
    rows = range(len(labels))
    return pd.DataFrame(
        {
            "id": [f"{i:064x}" for i in rows],
            "path": [f"images/{i:03d}.png" for i in rows],
            "label": labels,
            "source": "test",
            "set_id": [f"set{i // 2}" for i in rows],
            "taken_at": pd.Timestamp("2024-01-01"),
            "width": 8,
            "height": 8,
            "stored": True,
        }
    )


LEAVES = ("circle", "oval", "square", "triangle")
# Every leaf in every split, in proportion, so no check fires: 6 / 3 / 3 per class.
BALANCED = {
    "train": dict.fromkeys(LEAVES, 6),
    "val": dict.fromkeys(LEAVES, 3),
    "test": dict.fromkeys(LEAVES, 3),
}


def make_dataset(
    images_per_split: Mapping[str, Mapping[str, int]] = BALANCED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A manifest with every newer column, and its splits: one set per image.

    Sources ``a``/``b`` and months January/February alternate; perceptual hashes are
    random (any two are about 32 bits apart), labels are all ``import``.

    Returns:
        ``(manifest, splits)``; image ``i`` is ``images/{i:03d}.png`` in set ``set{i}``.
    """
    parts = [make_manifest(counts).assign(split=s) for s, counts in images_per_split.items()]
    frame = pd.concat(parts, ignore_index=True)
    rows = np.arange(len(frame))
    hashes = np.random.default_rng(0).integers(0, 2**63, size=len(frame), dtype=np.int64)
    frame = frame.assign(
        id=[f"{i:064x}" for i in rows],
        path=[f"images/{i:03d}.png" for i in rows],
        set_id=[f"set{i}" for i in rows],
        source=np.where(rows % 2, "b", "a"),
        taken_at=np.where(rows % 2, "2024-02-10", "2024-01-10"),
        phash=[f"{h:016x}" for h in hashes],
        label_source="import",
    )
    splits = frame[["id", "set_id", "label", "split"]].copy()
    return frame.drop(columns="split"), splits


def all_train(manifest: pd.DataFrame) -> pd.DataFrame:
    """Splits that put every image of ``manifest`` in train."""
    columns = [c for c in ("id", "set_id", "label") if c in manifest.columns]
    return manifest[columns].assign(split="train")


def near(phash: str, bits: int) -> str:
    """``phash`` with its lowest ``bits`` bits flipped."""
    return f"{int(phash, 16) ^ ((1 << bits) - 1):016x}"
