"""The W = k I chain in closed form: its forward, backward and SGD step, and where it overflows."""
import math
from typing import NamedTuple

import numpy as np


class IdentityChain(NamedTuple):
    """Exact per-layer quantities of the chain W_l = k I, b_l = 0, phi = identity (position l-1 = layer l)."""

    activation_norms: np.ndarray   # ||h_l||_F = |k|^l ||x||_F
    grad_norms: np.ndarray         # ||dL/dh_l||_F = |k|^(L-l) ||G||_F
    weight_grad_norms: np.ndarray  # ||dL/dW_l||_F = |k|^(L-1) ||G^T x||_F, the same at every layer
    bias_grad_norms: np.ndarray    # ||dL/db_l|| = |k|^(L-l) ||sum_batch G||
    loss: float                    # mean((k^L x - target)^2)


def _top_gradient(k, depth, x, target):
    """G = dL/dh_L = 2 (k^L x - target) / N for L = mean((h_L - target)^2), N = x.size."""
    return 2.0 * (k ** depth * x - target) / x.size


def identity_chain(k, depth, x, target):
    """Closed-form forward/backward of the W = k I chain (the course's "a bit above or below the identity").

    h_l = k^l x.  With G = dL/dh_L = 2 (k^L x - t) / N: dL/dz_l = dL/dh_l (phi = identity) and
    dL/dh_{l-1} = dL/dz_l W_l = k dL/dh_l, so dL/dh_l = k^(L-l) G; the weight gradient
    dL/dW_l = (dL/dz_l)^T h_{l-1} = k^(L-l) k^(l-1) G^T x = k^(L-1) G^T x does not depend on l,
    and dL/db_l = k^(L-l) sum_batch G.  Exact (float64 rounding only).  Goodfellow et al.,
    Deep Learning, section 8.2.5 (repeated multiplication by the same matrix).
    """
    k = float(k)           # an int k would make k ** layers an int64 power, which wraps at 2^63
    x = np.asarray(x, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if x.ndim != 2 or target.shape != x.shape:
        raise ValueError(f"identity_chain: x must be (batch, width) and target the same shape, "
                         f"got {x.shape} and {target.shape}")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        g_top = _top_gradient(k, depth, x, target)
        layers = np.arange(1, depth + 1)
        scale = abs(k)
        return IdentityChain(
            activation_norms=scale ** layers * np.linalg.norm(x),
            grad_norms=scale ** (depth - layers) * np.linalg.norm(g_top),
            weight_grad_norms=np.full(depth, scale ** (depth - 1) * np.linalg.norm(g_top.T @ x)),
            bias_grad_norms=scale ** (depth - layers) * np.linalg.norm(g_top.sum(axis=0)),
            loss=float(np.mean((k ** depth * x - target) ** 2)),
        )


class SGDStep(NamedTuple):
    """Parameters of the W = k I chain after one SGD step from W_l = k I, b_l = 0."""

    weight: np.ndarray  # (width, width), the same matrix for every layer
    biases: np.ndarray  # (depth, width), row l-1 for layer l


def identity_chain_sgd_step(k, depth, x, target, lr):
    """W_l <- W_l - lr dL/dW_l and b_l <- b_l - lr dL/db_l, in closed form (see identity_chain).

    Every layer gets the same update: W' = k I - lr k^(L-1) G^T x with G = 2 (k^L x - t) / N, and
    b_l' = -lr k^(L-l) sum_batch G.  So one step keeps all layers equal, and the step size scales
    as |k|^(2L-1): for k > 1 the first step alone can throw the chain far from identity, for k < 1
    it barely moves it.  Exact (float64 rounding).  Later steps have no closed form here: the
    weights stop being multiples of I, so the lab's recorder is the tool for them.
    """
    x = np.asarray(x, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    g_top = _top_gradient(k, depth, x, target)
    weight = k * np.eye(x.shape[1]) - lr * k ** (depth - 1) * (g_top.T @ x)
    powers = float(k) ** (depth - np.arange(1, depth + 1))
    biases = -lr * powers[:, None] * g_top.sum(axis=0)[None, :]
    return SGDStep(weight=weight, biases=biases)


def _identity_forward(k, depth, x, dtype):
    """[h_0, ..., h_m] of the W = k I chain computed in dtype, stopping at the first non-finite h_m.

    h_{l-1} @ (k I).T equals h_{l-1} * k exactly in numpy (each output is one product plus exact
    zeros), so the elementwise product is the chain's own arithmetic.
    """
    k_d = np.asarray(k, dtype=dtype)
    activations = [np.asarray(x, dtype=dtype)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(depth):
            activations.append(activations[-1] * k_d)
            if not np.all(np.isfinite(activations[-1])):
                break
    return activations


def overflow_layer(k, x, dtype, max_layers):
    """The first layer l <= max_layers whose activation k^l x is not finite in dtype, or None.

    Ground truth by construction: the chain is evaluated in dtype by repeated multiplication,
    exactly as numpy evaluates h @ (k I).T, rounding included.  overflow_depth_estimates gives
    the same layer from logs, l = ceil(log2(2^maxexp / max|x|) / log2|k|), except when the product
    lands within ~l ulps of finfo(dtype).max.
    """
    activations = _identity_forward(k, max_layers, x, dtype)
    if np.all(np.isfinite(activations[-1])):
        return None
    return len(activations) - 1


class NonFinite(NamedTuple):
    """Where the first non-finite value of one forward/backward pass appears.

    phase "loss" is what detect_anomaly reports as phase "forward" with module None: the loss ops
    (sub, mul, sum) run after the chain's last layer, outside its modules.
    """

    phase: str         # "forward", "loss" or "backward"
    layer: int | None  # producing layer (1..L), None for the loss ops
    kind: str          # "inf" or "nan"


def _non_finite_kind(*arrays):
    if all(np.all(np.isfinite(a)) for a in arrays):
        return None
    return "nan" if any(np.any(np.isnan(a)) for a in arrays) else "inf"


def identity_chain_first_nonfinite(k, depth, x, target, dtype, bias=False):
    """Phase, layer and kind of the first non-finite value in one pass of the W = k I chain, or None.

    Evaluated in dtype with numpy, in the engine's order: layers 1..L forward; the loss
    sum(d * d) * (1/N) with d = h_L - t (the sum in dtype, as Tensor.mean does); G = 2 (d * (1/N));
    then layers L..1 backward, where layer l produces dL/dh_{l-1} = k dL/dh_l (l >= 2; x needs no
    gradient), dL/dW_l = (dL/dh_l)^T h_{l-1} and, with bias, dL/db_l = sum_batch dL/dh_l.  Exact
    for an engine doing the same numpy operations; an engine that rounds G differently (e.g.
    2 d / N) can differ only when a value is within an ulp of finfo.max or G is subnormal.  Use it to predict the
    halt of training step 0 (issue 4); overflow_depth_estimates explains the numbers.
    """
    target = np.asarray(target, dtype=dtype)
    activations = _identity_forward(k, depth, x, dtype)
    kind = _non_finite_kind(activations[-1])
    if kind:
        return NonFinite("forward", len(activations) - 1, kind)
    with np.errstate(over="ignore", invalid="ignore"):
        difference = activations[-1] - target
        squares = difference * difference
        kind = _non_finite_kind(squares, squares.sum() * np.asarray(1.0 / squares.size, dtype=dtype))
        if kind:
            return NonFinite("loss", None, kind)
        grad = 2 * (difference * np.asarray(1.0 / difference.size, dtype=dtype))
        k_d = np.asarray(k, dtype=dtype)
        for layer in range(depth, 0, -1):
            produced = [grad.T @ activations[layer - 1]]
            if bias:
                produced.append(grad.sum(axis=0))
            if layer > 1:
                grad = grad * k_d
                produced.append(grad)
            kind = _non_finite_kind(*produced)
            if kind:
                return NonFinite("backward", layer, kind)
    return None


class OverflowDepths(NamedTuple):
    """Smallest chain depths at which each stage of the W = k I chain overflows (None: never)."""

    activation: int | None  # layer whose output k^l x first overflows
    loss: int | None        # depth L whose loss sum((k^L x)^2) / N overflows
    gradient: int | None    # depth L whose backward overflows (if its loss were finite)


def _smallest_depth(log_growth, log_start, log_limit):
    """Smallest integer n >= 1 with n * log_growth + log_start >= log_limit (log_growth > 0)."""
    return max(1, math.ceil((log_limit - log_start) / log_growth))


def overflow_depth_estimates(k, x, dtype, bias=False):
    """Overflow depths of the W = k I chain from logs, with the target neglected (exact for t = 0).

    A value overflows once it reaches 2^e, e = finfo(dtype).maxexp (finfo.max is just below), so in
    base-2 logs, with a = log2|k|, m = max|x|, N = x.size (k and x rounded to dtype first):
    activations: l a + log2 m >= e.  Loss: the squares (k^L x)^2 are summed in dtype before the
    division by N, so it overflows once k^(2L) sum x^2 >= 2^e: roughly half the forward depth.
    Gradients: G = 2 k^L x / N is multiplied by k^(L-1) on the way down, so dL/dh_1 =
    2 k^(2L-1) x / N, every dL/dW_l = 2 k^(2L-1) x^T x / N and dL/db_1 = 2 k^(2L-1) sum_batch x / N:
    overflow once (2L - 1) a + log2(2 P / N) >= e with P the largest of those magnitudes.  The pass
    halts at the earliest of the three.  Exact in real arithmetic (powers of two included); the
    dtype's rounding moves a boundary only when a value lies within ~L ulps of 2^e
    (identity_chain_first_nonfinite is exact).  All None for |k| <= 1: nothing grows.
    """
    k_d = float(np.asarray(k, dtype=dtype))
    x = np.asarray(np.asarray(x, dtype=dtype), dtype=np.float64)
    if abs(k_d) <= 1 or not np.any(x):
        return OverflowDepths(None, None, None)
    growth = math.log2(abs(k_d))
    log_limit = np.finfo(dtype).maxexp
    largest = float(np.max(np.abs(x)))
    magnitudes = [largest, float(np.max(np.abs(x.T @ x)))]
    if bias:
        magnitudes.append(float(np.max(np.abs(x.sum(axis=0)))))
    log_gradient = math.log2(2.0 * max(magnitudes) / x.size)
    return OverflowDepths(
        activation=_smallest_depth(growth, math.log2(largest), log_limit),
        loss=_smallest_depth(2 * growth, math.log2(float(np.sum(x * x))), log_limit),
        gradient=_smallest_depth(2 * growth, log_gradient - growth, log_limit),
    )
