"""A four-class taxonomy, its thresholds, and manifests with chosen counts per label."""

from __future__ import annotations

from collections.abc import Mapping

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
