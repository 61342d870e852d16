"""Batched inference of one node classifier on uint8 images."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from taxonomist.train.model import NodeSpec, normalize, to_input


@torch.inference_mode()
def predict_proba(
    model: nn.Module, spec: NodeSpec, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Class probabilities (N, len(spec.classes)) for uint8 images (N, H, W, 3)."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.asarray(images[start : start + batch_size]))
        x = normalize(to_input(batch, spec.image_size), spec)
        out.append(torch.softmax(model(x), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(spec.classes)), np.float32)
