"""SGD with momentum, and gradient clipping by global norm or by value.

Gradients are never written into in place: an intermediate's .grad may be a view shared with a
neighbour (see Tensor.backward), so clipping gives each parameter a new .grad array. Parameters'
.data are updated in place.
"""
import math

import numpy as np


def global_norm(arrays):
    """sqrt(sum over arrays of sum a^2) in float64. When the plain sum of squares leaves float64's
    comfortable range (values above ~1e150 overflow it, below ~1e-150 underflow it), it is
    recomputed as m * sqrt(sum (a/m)^2) with m = max |a|: finite values never give an inf norm,
    and tiny ones never a 0."""
    flat = [np.ravel(a).astype(np.float64, copy=False) for a in arrays if a is not None and a.size]
    with np.errstate(over="ignore", under="ignore"):
        total = sum(float(np.dot(a, a)) for a in flat)
    if 1e-290 < total < math.inf:
        return math.sqrt(total)
    largest = max((float(np.max(np.abs(a))) for a in flat), default=0.0)
    if largest == 0.0 or not math.isfinite(largest):
        return largest
    return largest * math.sqrt(sum(float(np.dot(a / largest, a / largest)) for a in flat))


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


class SGD:
    """p <- p - lr * v with v <- momentum * v + grad (v = grad on the first step), as in PyTorch."""

    def __init__(self, params, lr, momentum=0.0):
        self.params = list(params)
        if lr < 0 or momentum < 0:
            raise ValueError(f"SGD: lr and momentum must be non-negative, got lr={lr}, momentum={momentum}")
        self.lr, self.momentum = lr, momentum
        self.velocity = {}

    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            v = p.grad
            if self.momentum:
                previous = self.velocity.get(id(p))
                v = v if previous is None else self.momentum * previous + v
                self.velocity[id(p)] = v
            p.data -= np.asarray(self.lr, dtype=p.data.dtype) * v

    def zero_grad(self):
        for p in self.params:
            p.grad = None
