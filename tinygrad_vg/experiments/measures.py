"""Numbers read off a run: a fitted per-layer gain, a product kept finite through logs, one unit's
size beside a norm over the batch, the angle between two arrays, and the layer a module label names."""
import math
import re

import numpy as np

from ..diagnostics import norm, ratio
from ..views.axes import log10_or_nan

LAYER_PATTERN = re.compile(r"^(?:layers|activations|norms|dropouts)\.(\d+)\b")


def log10_gain_per_step(norms):
    """Minus the least-squares slope of log10 |dL/dh_l| against l, over the positive finite norms:
    log10 of the factor by which the gradient grows per layer (or time step) on its way down,
    negative when it vanishes. None with fewer than two such norms."""
    logs = log10_or_nan(norms)
    index = np.arange(len(logs))
    keep = np.isfinite(logs)
    if keep.sum() < 2:
        return None
    return -float(np.polyfit(index[keep], logs[keep], 1)[0])


def product(factors):
    """prod(factors) through logs, so that 1.1^5000 is inf and 0.9^5000 is 0 without warnings."""
    with np.errstate(divide="ignore", over="ignore"):
        return float(np.exp(np.sum(np.log(np.asarray(factors, dtype=np.float64)))))


def unit_sizes(batch_norm, h):
    """|h| is a norm over the whole batch, sqrt(batch * width) numbers: per unit, the root mean square
    |h| / sqrt(h.size) and the largest |element| (a tanh unit's are <= 1 whatever |h| is)."""
    with np.errstate(all="ignore"):
        return {"rms_activation": batch_norm / math.sqrt(h.size),
                "max_abs_activation": float(np.max(np.abs(h.astype(np.float64))))}


def cosine(a, b):
    """cos of the angle between two arrays taken as vectors (nan if either is 0 or not finite)."""
    with np.errstate(all="ignore"):
        return ratio(float(np.vdot(a.astype(np.float64), b.astype(np.float64))), norm(a) * norm(b))


def layer_of(module):
    """Layer number l (1-based) of a DeepChain module label such as "layers.37 (Linear)" (l = 38)."""
    match = LAYER_PATTERN.match(module or "")
    return int(match.group(1)) + 1 if match else None
