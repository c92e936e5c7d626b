"""Initialisers, named as in PyTorch. Each fills `t.data` in place (keeping its dtype) and returns t.

Random ones take `rng`: a numpy.random.Generator, or a seed, or None for a fresh generator, so an
experiment is reproducible by passing the same seed. For a weight of shape (out, in, ...), fan_in is
in * receptive field and fan_out is out * receptive field.

As in PyTorch, initialising a zero-element tensor (e.g. the weight of Linear(0, n)) is a no-op.
"""
import functools
import math

import numpy as np

from ..tensor import Tensor


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps the variance of activations steady through `nonlinearity`:
    1 for linear and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + a^2)) for leaky_relu(a)."""
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; "
                     "use linear, identity, sigmoid, tanh, relu or leaky_relu")


def fan_in_and_out(t):
    shape = t.shape
    if len(shape) < 2:
        raise ValueError(f"init: fan in and fan out need a tensor of 2 or more dimensions, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def fill(t, values):
    """Write `values` into t's own array (cast to its dtype) and return t. For a Tensor this is an
    in-place write that backward sees: a graph made before the re-initialisation refuses to run."""
    if not isinstance(t, Tensor):
        t[...] = values
        return t
    t.data[...] = values
    t.mark_written()
    return t


def no_op_when_empty(initialiser):
    """Return a zero-element t untouched: there is nothing to fill, and a fan of 0 has no std."""
    @functools.wraps(initialiser)
    def initialise(t, *args, **kwargs):
        return t if t.size == 0 else initialiser(t, *args, **kwargs)
    return initialise


def normal_(t, mean=0.0, std=1.0, rng=None):
    return fill(t, np.random.default_rng(rng).normal(mean, std, t.shape))


def uniform_(t, a=0.0, b=1.0, rng=None):
    return fill(t, np.random.default_rng(rng).uniform(a, b, t.shape))


def constant_(t, value):
    return fill(t, value)


@no_op_when_empty
def xavier_uniform_(t, gain=1.0, rng=None):
    """Glorot: U(-bound, bound), bound = gain sqrt(6 / (fan_in + fan_out)), so Var = gain^2 2 / (fan_in + fan_out)."""
    fan_in, fan_out = fan_in_and_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, rng)


@no_op_when_empty
def xavier_normal_(t, gain=1.0, rng=None):
    """Glorot: N(0, gain^2 2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def kaiming_std(t, a, mode, nonlinearity):
    """He: std = gain / sqrt(fan), fan_in keeping forward variances, fan_out backward ones."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_out(t)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


@no_op_when_empty
def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He: U(-bound, bound) with bound = sqrt(3) std (a uniform on [-b, b] has variance b^2 / 3)."""
    bound = math.sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, rng)


@no_op_when_empty
def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He: N(0, gain^2 / fan); for relu, Var = 2 / fan_in."""
    return normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity), rng)


def orthogonal_(t, gain=1.0, rng=None):
    """A Haar-random (semi-)orthogonal matrix times gain, flattened to (rows, rest).

    Q from the QR of a Gaussian matrix is Haar-distributed only once each column is multiplied by
    the sign of R's diagonal entry (otherwise the signs follow the QR routine's convention)."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: needs a tensor of 2 or more dimensions, got shape {t.shape}")
    rows, cols = t.shape[0], math.prod(t.shape[1:])
    gaussian = np.random.default_rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(gaussian)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return fill(t, gain * q.reshape(t.shape))


def identity_(t, scale=1.0):
    """scale * I: every layer multiplies its input by `scale` (a rectangular t gets scale on its diagonal)."""
    if t.ndim != 2:
        raise ValueError(f"identity_: needs a 2-D tensor, got shape {t.shape}")
    return fill(t, scale * np.eye(*t.shape))
