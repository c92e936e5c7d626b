"""What theory predicts for the deep chains of the lab (pure numpy, no engine import).

Convention (CONVENTIONS.md): h_0 = x of shape (batch, width); for layers l = 1..L,
z_l = h_{l-1} @ W_l.T + b_l and h_l = phi(z_l), with W ~ N(0, sigma_w^2 / fan_in) and
b ~ N(0, sigma_b^2); the loss is mean((h_L - target)^2).  "grad norm of layer l" always means
||dLoss/dh_l||, the gradient with respect to that layer's output.

Per-layer arrays returned here are indexed by layer: position l - 1 holds layer l (l = 1..L).

Exact results (the W = k I chain, the overflow simulation, linear/ReLU second moments in
expectation) are marked "exact"; mean-field results are "statistical" and say at what width.
"""
import functools
import math
from typing import NamedTuple

import numpy as np

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid")

# Trapezoidal rule for E[f(sqrt(q) z)], z ~ N(0, 1), on z in [-_Z_MAX, _Z_MAX]; the normal mass
# beyond 12 is 4e-33.  tanh(sqrt(q) z) has poles at z = +-i pi / (2 sqrt(q)), so the rule's error
# is about exp(-2 pi d / h) = exp(-pi^2 / (h sqrt(q))) (Trefethen & Weideman 2014); the step
# h = _STEP / max(1, sqrt(q)) keeps that below exp(-39) = 1e-17 at every q.  Gauss-Hermite
# (numpy.polynomial.hermite_e.hermegauss) was measured and rejected: 200 nodes are off by 1e-4 in
# E[tanh^2] at q = 16 and by 35% in E[tanh'^2] at q = 64, and hermegauss fails beyond ~300 nodes.
_Z_MAX = 12.0
_STEP = 0.25


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"theory: activation must be one of {ACTIVATIONS}, got {activation!r}")


def _sech2(u):
    """sech(u)^2 = 4 e^{-2|u|} / (1 + e^{-2|u|})^2: no overflow, full relative precision."""
    e = np.exp(-2.0 * np.abs(u))
    return 4.0 * e / (1.0 + e) ** 2


def _phi(u, activation):
    if activation == "tanh":
        return np.tanh(u)
    return 0.5 * (1.0 + np.tanh(0.5 * u))  # sigmoid(u), stable for any u


def _phi_prime(u, activation):
    if activation == "tanh":
        return _sech2(u)
    return 0.25 * _sech2(0.5 * u)  # sigmoid' = sigmoid (1 - sigmoid) = sech^2(u/2) / 4


@functools.lru_cache(maxsize=64)
def _trapezoid_rule(half):
    """Nodes and weights of the trapezoidal rule for the N(0, 1) density, 2 half + 1 nodes."""
    z = np.linspace(-_Z_MAX, _Z_MAX, 2 * half + 1)
    weights = np.exp(-0.5 * z * z) * (z[1] - z[0]) / math.sqrt(2.0 * math.pi)
    z.flags.writeable = weights.flags.writeable = False
    return z, weights


def gaussian_expectation(f, q):
    """E[f(sqrt(q) z)] for z ~ N(0, 1), f a vectorised function analytic near the real axis.

    Trapezoidal rule in z with step 0.25 / max(1, sqrt(q)) on [-12, 12]: for integrands analytic
    in a strip it converges geometrically, and the step shrinks with sqrt(q) so that the poles of
    tanh at +-i pi/2 stay many steps away; accurate to ~1e-15 relative for tanh and sigmoid at
    any q >= 0 (see the comment at _STEP).  Not for kinks (ReLU): those have closed forms.
    """
    if q < 0:
        raise ValueError(f"gaussian_expectation: variance q must be >= 0, got {q}")
    scale = math.sqrt(q)
    z, weights = _trapezoid_rule(math.ceil(_Z_MAX * max(1.0, scale) / _STEP))
    return float(weights @ f(scale * z))


def second_moment(q, activation):
    """E[phi(z)^2] for z ~ N(0, q).

    linear: q; relu: q/2 (z is symmetric, relu keeps half the mass of z^2 — He et al. 2015);
    tanh, sigmoid: Gaussian quadrature (gaussian_expectation).
    """
    _check_activation(activation)
    if activation == "linear":
        return float(q)
    if activation == "relu":
        return 0.5 * q
    return gaussian_expectation(lambda u: _phi(u, activation) ** 2, q)


def derivative_second_moment(q, activation):
    """E[phi'(z)^2] for z ~ N(0, q): linear 1, relu P(z > 0) = 1/2, tanh E[sech^4], sigmoid E[sigma'^2]."""
    _check_activation(activation)
    if activation == "linear":
        return 1.0
    if activation == "relu":
        return 0.5
    return gaussian_expectation(lambda u: _phi_prime(u, activation) ** 2, q)


def length_map(q, sigma_w, sigma_b, activation="tanh"):
    """q_l = sigma_w^2 E[phi(z)^2] + sigma_b^2 with z ~ N(0, q_{l-1}): the variance map.

    Given h_{l-1}, each unit of z_l = h_{l-1} W_l^T + b_l is a sum of independent zero-mean terms
    with variance sigma_w^2 mean(h_{l-1}^2) + sigma_b^2 (exactly, at any width, for any weight
    distribution of that variance).  Replacing mean(h_{l-1}^2) by E[phi(z_{l-1})^2] with z_{l-1}
    Gaussian is the mean-field step (Poole et al. 2016, eq. 3; Glorot & Bengio 2010 and He et al.
    2015 for linear and ReLU).  Linear and ReLU: exact in expectation at any width (the map is
    linear in q and z_l is symmetric given h_{l-1}).  tanh, sigmoid: statistical, exact as
    width -> infinity with O(1/width) corrections.
    """
    return sigma_w ** 2 * second_moment(q, activation) + sigma_b ** 2


def gradient_gain(q, sigma_w, activation="tanh"):
    """sigma_w^2 E[phi'(z)^2], z ~ N(0, q): the factor E||dL/dh_{l-1}||^2 / E||dL/dh_l||^2.

    dL/dh_{l-1} = (dL/dh_l * phi'(z_l)) @ W_l; for a cotangent independent of W_l each of the
    fan_in entries has variance (sigma_w^2 / fan_in) ||dL/dh_l * phi'(z_l)||^2, so the squared norm
    is multiplied by sigma_w^2 E[phi'(z_l)^2] (Glorot & Bengio 2010, He et al. 2015; Schoenholz
    et al. 2017 call it chi_1 at the fixed point).  Exact in expectation for the linear chain with
    a weight-independent cotangent; otherwise statistical under the gradient-independence
    assumption (Schoenholz et al. 2017), accurate at widths of a few hundred and more.  This is the
    total-norm gain; the per-unit variance gain of Glorot's analysis is Var(W) * fan_out.
    """
    return sigma_w ** 2 * derivative_second_moment(q, activation)


def preactivation_second_moments(sigma_w, sigma_b, depth, input_second_moment, activation="tanh"):
    """q_1..q_L, the per-unit second moment of z_l, for an input with mean(x^2) = input_second_moment.

    q_1 = sigma_w^2 mean(x^2) + sigma_b^2 (h_0 = x is not passed through phi), then
    q_l = length_map(q_{l-1}).  Exactness as in length_map.
    """
    q = np.empty(depth)
    q[0] = sigma_w ** 2 * input_second_moment + sigma_b ** 2
    for layer in range(1, depth):
        q[layer] = length_map(q[layer - 1], sigma_w, sigma_b, activation)
    return q


def backward_gains(sigma_w, sigma_b, depth, input_second_moment, activation="tanh"):
    """Per-layer gain E||dL/dh_{l-1}||^2 / E||dL/dh_l||^2 = sigma_w^2 E[phi'(z_l)^2], z_l ~ N(0, q_l).

    Uses the local q_l of the length map, so a tanh chain not yet at its fixed point gets its
    transient right; at the fixed point every entry equals tanh_chi1.  ReLU: sigma_w^2 / 2 at
    every layer (He et al. 2015); linear: sigma_w^2.  Exactness as in gradient_gain.
    """
    q = preactivation_second_moments(sigma_w, sigma_b, depth, input_second_moment, activation)
    return np.array([gradient_gain(q_l, sigma_w, activation) for q_l in q])


def grad_norm_ratios(gains):
    """||dL/dh_l|| / ||dL/dh_L|| for l = 1..L from per-layer squared-norm gains (backward_gains).

    Going down through layer m multiplies the squared norm by gains[m - 1], so
    ||dL/dh_l||^2 = ||dL/dh_L||^2 * prod_{m = l+1..L} gains[m - 1].
    """
    gains = np.asarray(gains, dtype=np.float64)
    log_products = np.concatenate([np.cumsum(np.log(gains[:0:-1]))[::-1], [0.0]])
    return np.exp(0.5 * log_products)


def weight_variance(init, fan_in, fan_out):
    """Var(W) of the classic initialisations (normal and uniform variants have the same variance).

    "xavier" (Glorot & Bengio 2010): 2 / (fan_in + fan_out), the compromise between keeping the
    forward variance (fan_in Var = 1) and the backward variance (fan_out Var = 1) for linear/tanh;
    "he" (He et al. 2015): 2 / fan_in, since ReLU halves the second moment; "lecun": 1 / fan_in.
    sigma_w = sqrt(fan_in * Var(W)) converts to this module's (sigma_w, sigma_b) convention.
    """
    variances = {"xavier": 2.0 / (fan_in + fan_out), "he": 2.0 / fan_in, "lecun": 1.0 / fan_in}
    if init not in variances:
        raise ValueError(f"weight_variance: init must be one of {sorted(variances)}, got {init!r}")
    return variances[init]


def uniform_bound(variance):
    """a such that U(-a, a) has the given variance: Var = a^2 / 3, so a = sqrt(3 Var)."""
    return math.sqrt(3.0 * variance)


def tanh_fixed_point(sigma_w, sigma_b):
    """q*, the fixed point of the tanh length map q -> sigma_w^2 E[tanh(sqrt(q) z)^2] + sigma_b^2.

    Because tanh(u)^2 / u^2 decreases in |u|, V(q) / q is strictly decreasing, from sigma_w^2
    (+inf if sigma_b > 0) at q -> 0 to below 1 at q = sigma_w^2 + sigma_b^2 >= V(q): so there is one
    positive fixed point, found by bisection to machine precision, unless sigma_b = 0 and
    sigma_w <= 1, where q* = 0 (V(q) < q for all q > 0).  Poole et al. 2016 (the length map);
    Schoenholz et al. 2017.  Exact up to quadrature (~1e-15); the activations of a finite-width
    chain reach it only statistically (width -> infinity).
    """
    if sigma_w < 0 or sigma_b < 0:
        raise ValueError(f"tanh_fixed_point: sigma_w, sigma_b must be >= 0, got {sigma_w}, {sigma_b}")
    if sigma_b == 0 and sigma_w <= 1:
        return 0.0
    low, high = 0.0, sigma_w ** 2 + sigma_b ** 2
    while True:
        middle = 0.5 * (low + high)
        if middle in (low, high):
            return middle
        if length_map(middle, sigma_w, sigma_b, "tanh") > middle:
            low = middle
        else:
            high = middle


def tanh_chi1(sigma_w, sigma_b):
    """chi_1 = sigma_w^2 E[tanh'(sqrt(q*) z)^2]: the per-layer squared-gradient gain at the fixed point.

    It is the slope at c = 1 of the correlation map (Poole et al. 2016) and the factor by which
    E||dL/dh_l||^2 changes per layer in a deep chain at q* (Schoenholz et al. 2017):
    chi_1 < 1 ordered phase (vanishing), > 1 chaotic (exploding), = 1 edge of chaos.  With
    sigma_b = 0 and sigma_w <= 1, q* = 0 and chi_1 = sigma_w^2 (critical at sigma_w = 1).
    Statistical: the measured per-layer gain approaches it as width -> infinity.
    """
    return gradient_gain(tanh_fixed_point(sigma_w, sigma_b), sigma_w, "tanh")


def tanh_critical_sigma_w(sigma_b):
    """The sigma_w on the edge of chaos, chi_1(sigma_w, sigma_b) = 1 (Schoenholz et al. 2017, fig. 1).

    At sigma_w = 1, chi_1 = E[sech^4] <= 1, and chi_1 grows without bound (~0.53 sigma_w) as
    sigma_w grows, so bisection on [1, upper] finds it; chi_1 increases with sigma_w there.
    """
    if sigma_b == 0:
        return 1.0
    low, high = 1.0, 2.0
    while tanh_chi1(high, sigma_b) < 1.0:
        low, high = high, 2.0 * high
    while high - low > 1e-12 * high:
        middle = 0.5 * (low + high)
        if tanh_chi1(middle, sigma_b) < 1.0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def gradient_depth_scale(chi1):
    """xi = -1 / log(chi_1): E||dL/dh_l||^2 ~ exp(-(L - l) / xi) (Schoenholz et al. 2017, xi_nabla).

    Positive: gradients vanish over ~xi layers; negative: they grow e-fold every |xi| layers;
    infinite at the edge of chaos chi_1 = 1.  As exact as the chi_1 it is given.
    """
    if chi1 <= 0:
        raise ValueError(f"gradient_depth_scale: chi1 must be > 0, got {chi1}")
    if chi1 == 1:
        return math.inf
    return -1.0 / math.log(chi1)


def residual_gain(alpha, sigma_w):
    """1 + alpha^2 sigma_w^2: per-block gain of E||x||^2 (forward) and E||dL/dx||^2 (backward).

    For x_l = x_{l-1} + alpha x_{l-1} W^T, E||x_l||^2 = ||x_{l-1}||^2 + 2 alpha E[x W x^T]
    + alpha^2 E||x W^T||^2 and the cross term has mean zero, so the gain is 1 + alpha^2 sigma_w^2;
    backward, dL/dx_{l-1} = dL/dx_l (I + alpha W) gives the same factor.  Exact in expectation at
    any width for a linear branch (a ReLU branch adds a non-zero cross term).  He et al. 2016
    (identity shortcuts) with the variance analysis of Glorot & Bengio 2010.
    """
    return 1.0 + alpha ** 2 * sigma_w ** 2


def residual_second_moments(alpha, sigma_w, sigma_b, depth, input_second_moment):
    """Per-unit E[x_l^2], l = 1..L, for x_l = x_{l-1} + alpha (x_{l-1} W_l^T + b_l), linear branch.

    m_l = (1 + alpha^2 sigma_w^2) m_{l-1} + alpha^2 sigma_b^2 (see residual_gain): exact in
    expectation at any width.
    """
    moments = np.empty(depth)
    previous = input_second_moment
    for layer in range(depth):
        previous = residual_gain(alpha, sigma_w) * previous + alpha ** 2 * sigma_b ** 2
        moments[layer] = previous
    return moments


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


def spectral_radius(matrix):
    """rho(W) = max |eigenvalue|: ||W^s||^(1/s) -> rho(W) as s -> infinity (Gelfand's formula)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix, dtype=np.float64)))))


def largest_singular_value(matrix):
    """sigma_max(W) = ||W||_2, the most any vector can be stretched by one step."""
    return float(np.linalg.norm(np.asarray(matrix, dtype=np.float64), 2))


def rnn_gradient_bound(recurrent_weight, steps, derivative_bound=1.0):
    """Upper bounds (gamma sigma_max(W))^s on ||dh_{t+s}/dh_t||_2 for s = 0..steps.

    For h_t = phi(h_{t-1} W^T + x_t U^T + b), dh_t/dh_{t-1} = diag(phi'(a_t)) W and |phi'| <= gamma
    (tanh: 1, sigmoid: 1/4), so each step stretches by at most gamma sigma_max(W) (Pascanu et al.
    2013): gamma sigma_max < 1 is sufficient for vanishing, > 1 necessary for exploding.  Exact as a
    bound; for a Gaussian W with entries N(0, s^2 / n), sigma_max -> 2 s while rho -> s (circular
    law), so the bound is loose by up to 2^steps.
    """
    factor = derivative_bound * largest_singular_value(recurrent_weight)
    return factor ** np.arange(steps + 1)


def linear_rnn_gradient_norms(recurrent_weight, steps):
    """||W^s||_2 = ||dh_{t+s}/dh_t||_2 of the linear RNN h_t = h_{t-1} W^T + x_t U^T, s = 0..steps.

    Computed by repeated multiplication (exact up to float64 rounding).  It grows or decays like
    rho(W)^s for large s (Gelfand; Goodfellow et al. section 8.2.5: W^s = Q Lambda^s Q^-1 for
    diagonalisable W) and equals rho(W)^s exactly for normal (e.g. symmetric, orthogonal) W.
    """
    weight = np.asarray(recurrent_weight, dtype=np.float64)
    norms = np.empty(steps + 1)
    power = np.eye(weight.shape[0])
    for step in range(steps + 1):
        norms[step] = np.linalg.norm(power, 2)
        power = power @ weight
    return norms


def saturated_rnn_gradient_ratios(radius, rms_derivatives):
    """Estimates of ||dL/dh_{T-s}|| / ||dL/dh_T|| for s = 0..T: radius^s times the product of the
    last s entries of rms_derivatives = [rms phi'(a_1), ..., rms phi'(a_T)] (over batch and units).

    Statistical: each step back multiplies the gradient by W^T diag(phi'(a_u)). For W = rho Q (Q
    orthogonal) and a gradient spread evenly over the units, the diagonal keeps rms(phi'(a_u)) of
    its norm and W^T rho of it, so this is the expected ratio under that assumption: saturated tanh
    units (phi' ~ 0) cut the gradient even at rho = 1. It is not a bound, and it misses where the
    gradient concentrates on the units that stay unsaturated (a relu RNN with W = k I, measured 42x
    off) or where W is not a multiple of an orthogonal matrix. Computed through logs, so that long
    products reach 0 or inf without warnings.
    """
    factors = np.asarray(rms_derivatives, dtype=np.float64)[::-1]          # a_T first
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        logs = np.concatenate([[0.0], np.cumsum(np.log(factors) + np.log(radius))])
        return np.exp(logs)
