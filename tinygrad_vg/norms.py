"""The Euclidean norm of many arrays taken together, exact at every scale float64 can hold.

It sits below every room that measures a size (diagnostics' per-layer norms, optim's clipping,
training's records), so none of them imports another for it.
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
