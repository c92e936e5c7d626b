"""Gradient clipping by global norm or by value.

Gradients are never written into in place: an intermediate's .grad may be a view shared with a
neighbour (see Tensor.backward), so clipping gives each parameter a new .grad array.
"""
import math

import numpy as np

from ..norms import global_norm


def global_grad_norm(params):
    """The norm of all the parameters' gradients taken together, as one vector."""
    return global_norm([p.grad for p in params])


def clip_grad_norm_(params, max_norm):
    """Rescale all gradients together so that their global norm is at most max_norm; return the norm
    before clipping. A non-finite norm is returned and the gradients are left as they are: no rescaling
    makes an inf or NaN gradient meaningful."""
    params = list(params)
    norm = global_grad_norm(params)
    if math.isfinite(norm) and norm > max_norm:
        factor = max_norm / norm
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * np.asarray(factor, dtype=p.grad.dtype)
    return norm


def clip_grad_value_(params, clip_value):
    """Clamp every gradient element into [-clip_value, clip_value]."""
    for p in params:
        if p.grad is not None:
            p.grad = np.clip(p.grad, -clip_value, clip_value)
