"""How the whole stack did on the tree: per-image outcomes and hierarchical metrics.

A walk is the list of classes the stack chose from the root's children down; it ends
early where a node was unsure, so an answer may be an inner node (the root itself when
the first node was unsure). Every metric here is defined for such answers:

- hierarchical precision / recall / F1 (Kiritchenko et al. 2006, micro-averaged, via
  ``hiclass.metrics``): the predicted and the true class are each extended with their
  ancestors (the root left out: every image has it), and the overlap of the two sets
  is counted over all images. An early stop on the right branch loses recall, not
  precision.
- mistake severity (Bertinetto et al., "Making Better Mistakes", CVPR 2020): the mean
  tree distance between answer and label over the leaf-labelled images whose answer is
  not their label (an early stop counts, by its distance); distance@1: the mean tree
  distance over all images (0 for a right answer).
- coverage: the share of images whose walk reaches a leaf; precision at stop: the share
  whose answer, wherever the walk stopped, is the label or one of its ancestors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from hiclass import metrics as hiclass_metrics

from taxonomist.taxonomy import Taxonomy

OUTCOME_TYPES = {"label": str, "predicted": str, "path": str, "correct": bool, "distance": int,
                 "reached_leaf": bool, "on_path": bool, "h_overlap": int, "h_predicted": int,
                 "h_true": int}


def stack_outcomes(
    taxonomy: Taxonomy, labels: Sequence[str], walks: Sequence[list[str]]
) -> pd.DataFrame:
    """One row per image: where the stack's walk ended and how far that is from the truth.

    Columns: label, predicted (the deepest class reached; the root if the first node was
    unsure), path (the walk, classes joined by "/"), correct (predicted == label),
    distance (edges in the tree between predicted and label), reached_leaf, on_path
    (predicted is the label or an ancestor of it), and the hierarchical set sizes
    h_overlap, h_predicted, h_true (ancestors included, root excluded).
    """
    predicted = [walk[-1] if walk else taxonomy.root for walk in walks]
    truths = [taxonomy.path(label) for label in labels]
    leaves = set(taxonomy.leaves)
    return pd.DataFrame(
        {
            "label": list(labels),
            "predicted": predicted,
            "path": ["/".join(walk) for walk in walks],
            "correct": [p == t for p, t in zip(predicted, labels, strict=True)],
            "distance": [taxonomy.distance(p, t) for p, t in zip(predicted, labels, strict=True)],
            "reached_leaf": [p in leaves for p in predicted],
            "on_path": [p in truth for p, truth in zip(predicted, truths, strict=True)],
            "h_overlap": [len(set(w) & set(t[1:])) for w, t in zip(walks, truths, strict=True)],
            "h_predicted": [len(walk) for walk in walks],
            "h_true": [len(truth) - 1 for truth in truths],
        }
    ).astype(OUTCOME_TYPES)  # typed even when empty, so boolean masks stay masks


def stack_metrics(
    taxonomy: Taxonomy, outcomes: pd.DataFrame, walks: Sequence[list[str]]
) -> dict[str, object]:
    """Every number the stack is judged by, from :func:`stack_outcomes` and the walks.

    Leaf metrics count only images labelled with a leaf; an image labelled with an inner
    node counts at the depths its label reaches. ``per_class_recall`` is the one nested
    entry (leaf -> recall); everything else is a number.
    """
    leaf = outcomes[outcomes["label"].isin(taxonomy.leaves)]
    mistakes = leaf[~leaf["correct"]]
    metrics: dict[str, object] = {
        "leaf_accuracy": _rate(leaf["correct"]),
        **hierarchical_scores(taxonomy, outcomes["label"], walks),
        "mistake_severity": _mean(mistakes["distance"]),
        "distance_at_1": _mean(outcomes["distance"]),
        "coverage": _rate(outcomes["reached_leaf"]),
        "precision_at_stop": _rate(outcomes["on_path"]),
        "stopped_early": _rate(~outcomes["reached_leaf"]),
        "n_test": len(outcomes),
    }
    metrics |= {f"accuracy_depth_{d}": acc for d, acc, _ in depth_accuracy(taxonomy, walks,
                                                                          outcomes["label"])}
    metrics["per_class_recall"] = {
        cls: _rate(group["correct"]) for cls, group in leaf.groupby("label", sort=True)
    }
    return metrics


def hierarchical_scores(
    taxonomy: Taxonomy, labels: Sequence[str], walks: Sequence[list[str]]
) -> dict[str, float]:
    """Micro-averaged hierarchical precision, recall and F1 (hiclass, Kiritchenko et al.).

    Both sides are rows of class names from depth 1 down, padded with "" (which hiclass
    ignores) to the tree's depth, so a walk that stopped early is a shorter row.
    """
    width = max((taxonomy.depth(leaf) for leaf in taxonomy.leaves), default=1)
    y_true = [_padded(taxonomy.path(label)[1:], width) for label in labels]
    y_pred = [_padded(list(walk), width) for walk in walks]
    if not any(map(any, y_pred)):  # nothing predicted below the root: hiclass divides by 0
        return {"hierarchical_precision": 0.0, "hierarchical_recall": 0.0,
                "hierarchical_f1": 0.0}
    return {
        "hierarchical_precision": round(float(hiclass_metrics.precision(y_true, y_pred)), 4),
        "hierarchical_recall": round(float(hiclass_metrics.recall(y_true, y_pred)), 4),
        "hierarchical_f1": round(float(hiclass_metrics.f1(y_true, y_pred, zero_division=0.0)),
                                 4),
    }


def depth_accuracy(
    taxonomy: Taxonomy, walks: Sequence[list[str]], labels: Sequence[str]
) -> list[tuple[int, float, int]]:
    """``(depth, accuracy, images)`` from depth 1 down: the walk holds the label's class
    at that depth. Only images whose label is at least that deep count."""
    truths = [taxonomy.path(label)[1:] for label in labels]
    rows = []
    for depth in range(1, max(map(len, truths), default=0) + 1):
        hits = [
            len(walk) >= depth and walk[depth - 1] == truth[depth - 1]
            for walk, truth in zip(walks, truths, strict=True)
            if len(truth) >= depth
        ]
        rows.append((depth, _rate(pd.Series(hits, dtype=bool)), len(hits)))
    return rows


def stop_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per class where walks ended: how many did, and the precision of those answers
    (the share that is the label or one of its ancestors)."""
    grouped = outcomes.groupby("predicted", sort=True)["on_path"]
    return pd.DataFrame({
        "stopped_at": grouped.size().index,
        "images": grouped.size().to_numpy(),
        "precision": [_rate(flags) for _, flags in grouped],
    })


def per_image_hierarchical_f1(outcomes: pd.DataFrame) -> np.ndarray:
    """Each image's hierarchical F1, ``2|P∩T| / (|P| + |T|)``; the micro F1 is their mean
    weighted by ``|P| + |T|``."""
    sizes = (outcomes["h_predicted"] + outcomes["h_true"]).to_numpy(float)
    overlap = 2 * outcomes["h_overlap"].to_numpy(float)
    return np.divide(overlap, sizes, out=np.zeros_like(sizes), where=sizes > 0)


def _padded(names: list[str], width: int) -> list[str]:
    return names + [""] * (width - len(names))


def _rate(flags: pd.Series) -> float:
    return round(float(flags.mean()), 4) if len(flags) else 0.0


def _mean(values: pd.Series) -> float:
    return round(float(values.mean()), 4) if len(values) else 0.0
