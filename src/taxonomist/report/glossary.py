"""One line for each number the model card shows, next to where it first appears.

The HTML and the LaTeX card read the same lines (``card.glossary``), so a reader of the
PDF, where no tooltip shows, learns what "mistake severity 3.4" means on the page.
"""

from __future__ import annotations

from types import MappingProxyType

GLOSSARY = MappingProxyType({
    "leaf_accuracy": "share of leaf-labelled test images whose walk ends on their class",
    "hierarchical_f1": "overlap of answer and true class, each with its ancestors "
                       "(Kiritchenko et al.), summed over all images",
    "distance_at_1": "mean tree distance between answer and true class, all images (0 is right)",
    "coverage_at_precision": "share of walks that reach a leaf, while staying precise where "
                             "they stop",
    "depth_accuracy": "share of images whose walk holds the true class at that depth",
    "mistake_severity": "mean tree distance between the answer and the true class, over the "
                        "mistakes only (1: stopped at the parent; 2: a sibling; 4: another "
                        "branch of a two-level tree)",
    "hierarchical": "answer and true class each extended with their ancestors; precision, "
                    "recall and F1 of the overlap, over all images",
    "coverage": "share of walks that reach a leaf instead of stopping early",
    "precision_at_stop": "share of answers, wherever the walk stopped, that are the true "
                         "class or one of its ancestors",
    "node_accuracy": "how often a node's classifier takes the right branch, inside the stack",
    "recall": "share of a class's test images the stack gets right",
    "ece": "expected calibration error: mean gap between confidence and accuracy (15 bins)",
    "macro_f1": "F1 averaged over the node's classes, each counting the same",
})


def explain(metric: str) -> str:
    """The line for ``metric``; "" for one without (the card then shows the name alone)."""
    return GLOSSARY.get(metric, "")
