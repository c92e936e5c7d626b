"""Losses, as functions of a prediction Tensor and a target."""
import numpy as np

from ..tensor import Tensor


def mse_loss(prediction, target):
    """mean((prediction - target)^2) over every element."""
    diff = prediction - target
    return (diff * diff).mean()


def cross_entropy(logits, target):
    """Mean over rows of -log softmax(logits)[row, target[row]], from logits of shape (N, C) and
    integer class indices of shape (N,). log_softmax shifts by the max, so any finite logits work."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"cross_entropy: needs logits (N, C) and targets (N,), got {logits.shape} and {target.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype {target.dtype}")
    if target.size and (target.min() < 0 or target.max() >= logits.shape[1]):
        raise ValueError(f"cross_entropy: targets must lie in [0, {logits.shape[1]}), "
                         f"got values from {target.min()} to {target.max()}")
    log_probabilities = logits.log_softmax(axis=-1)
    return -log_probabilities[np.arange(len(target)), target].mean()
