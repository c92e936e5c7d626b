"""Losses, as functions of a prediction Tensor and a target."""
import numpy as np

from ..tensor import Tensor


def mse_loss(prediction, target):
    """mean((prediction - target)^2) over every element; target is a Tensor, an ndarray or a list.

    The shapes must be equal: broadcasting a (N, 1) prediction against a (N,) target would average
    a (N, N) table of differences. PyTorch warns there; this raises a ValueError."""
    if prediction.shape != np.shape(target):
        raise ValueError(f"mse_loss: prediction shape {prediction.shape} and target shape {np.shape(target)} "
                         "differ; reshape one to match (a loss does not broadcast)")
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
