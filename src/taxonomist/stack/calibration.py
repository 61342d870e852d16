"""Per-node temperature scaling (Guo et al., "On Calibration of Modern Neural Networks",
ICML 2017): one number per node, fitted on the val split, that softens or sharpens the
node's probabilities until their negative log-likelihood is least.

Dividing the logits by ``T`` keeps every node's likeliest child (accuracy is unchanged)
and only moves its confidence, which is what the thresholds and Bayes-risk decoding
read. The node's probabilities are enough: ``log p`` is the logits up to a constant per
image, which softmax ignores. Classical heads' probabilities (exact zeros) are clipped
first. scipy's bounded scalar minimiser finds ``log T``; scikit-learn's own
temperature scaling (1.8+) is reachable only through ``CalibratedClassifierCV`` around
an estimator, and netcal brings pyro and tensorboard for these few lines.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

# T between 1/20 and 20: far beyond any network's miscalibration, and the search stays
# finite on a node that is right (or wrong) on every val image.
LOG_T_BOUNDS = (-np.log(20.0), np.log(20.0))
_FLOOR = 1e-12  # log(0) of a classical head's probability


def fit_temperature(probs: np.ndarray, targets: np.ndarray) -> float:
    """The temperature minimising the mean NLL of ``targets`` (class indices) under
    ``probs`` (N, k) scaled by it; 1.0 when there is nothing to fit on. A node that
    says 0.9 and is right half the time gets the upper bound, 20 (near uniform).
    """
    if len(targets) == 0:
        return 1.0
    logits = np.log(np.clip(probs, _FLOOR, 1.0))
    rows = np.arange(len(targets))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, targets].mean())

    best = minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded",
                           options={"xatol": 1e-6})
    return round(float(np.exp(best.x)), 4)


def scale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``probs`` (N, k) with their logits divided by ``temperature`` (NaN rows stay NaN)."""
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, _FLOOR, 1.0)) / temperature
    return np.exp(log_softmax(logits, axis=1))
