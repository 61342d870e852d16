"""Batched inference of one node classifier on uint8 images."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from taxonomist.train.model import ChildrenFromLeaves, NodeSpec, normalize, to_input


def predict_proba(
    model: nn.Module, spec: NodeSpec, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Class probabilities (N, len(spec.classes)) for uint8 images (N, H, W, 3)."""
    return _batched(model, spec, images, len(spec.classes), batch_size)


def predict_leaf_proba(
    model: nn.Module, spec: NodeSpec, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Leaf probabilities (N, len(spec.leaves)) of a node trained on ``targets: leaves``:
    what its network says before they are summed into its children."""
    if not isinstance(model, ChildrenFromLeaves):
        raise TypeError(f"node {spec.node!r} was not trained on its leaves")
    return _batched(model.network, spec, images, len(spec.leaves), batch_size)


def children_from_leaves(leaf_probs: np.ndarray, spec: NodeSpec) -> np.ndarray:
    """(N, leaves) -> (N, children): each child's probability, the sum of its leaves'."""
    member = np.eye(len(spec.classes), dtype=leaf_probs.dtype)[spec.leaf_child]  # (leaves, k)
    return leaf_probs @ member


@torch.inference_mode()
def _batched(network: nn.Module, spec: NodeSpec, images: np.ndarray, width: int,
             batch_size: int) -> np.ndarray:
    """The softmax of ``network``'s outputs (N, width), ``batch_size`` images at a time."""
    network.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.asarray(images[start : start + batch_size]))
        x = normalize(to_input(batch, spec.image_size), spec)
        out.append(torch.softmax(network(x), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, width), np.float32)
