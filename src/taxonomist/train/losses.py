"""Losses for unbalanced classes beyond weighted cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-class focal loss (Lin et al., 2017): cross-entropy scaled by ``(1 - p_t)**gamma``.

    Images the network already gets right (``p_t`` near 1) count for little, so the
    rare, hard classes drive the gradient. ``gamma=0`` is plain cross-entropy.

    Args:
        logits: (B, K) unnormalised scores.
        targets: (B,) class indices.
        gamma: the focusing parameter; 2 is the paper's choice.
        weight: optional (K,) class weights, as in ``F.cross_entropy``.

    Returns:
        The mean loss (weighted mean when ``weight`` is given, like cross-entropy).
    """
    return focal_nll(F.log_softmax(logits, dim=1), targets, gamma, weight)


def focal_nll(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`focal_loss` from (B, K) log-probabilities of the targets, which need not
    sum to one over K (e.g. sets of leaves that overlap), as ``F.nll_loss`` takes them."""
    log_p = log_probs.gather(1, targets[:, None]).squeeze(1)
    per_image = -((1.0 - log_p.exp()).clamp(min=0.0) ** gamma) * log_p
    if weight is None:
        return per_image.mean()
    w = weight[targets]
    return (w * per_image).sum() / w.sum()
