"""Mean-field signal propagation through a deep chain at initialisation: the length map q_l, the
per-layer gradient gain chi_1, the edge of chaos, and the classic initialisations' variances.
"""
import math

import numpy as np

from .gaussian import derivative_second_moment, second_moment


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


def aligned_cotangent_gain_bound(input_norm, output_norm):
    """|h_L| / |x|: the least |dL/dx| / |dL/dh_L| of a homogeneous chain whose cotangent dL/dh_L is
    parallel to its output h_L, where mean-field theory's gain (gradient_gain) does not apply.

    A bias-free chain of linear or relu layers is positively homogeneous of degree 1, so by Euler's
    theorem h_L = J x with J = dh_L/dx. With dL/dh_L = c h_L (an MSE loss with |h_L| >> |y|),
    dL/dx = c J^T J x, and Cauchy-Schwarz, |J^T J x| |x| >= x^T J^T J x = |h_L|^2, gives
    |dL/dx| / |dL/dh_L| >= |h_L| / |x|: the gradient starts in the directions J stretches most.
    Exact (a bound, at any width) when the cotangent is exactly parallel; the mean-field gains
    assume instead a backward signal independent of the forward pass (Schoenholz et al. 2017).
    """
    if input_norm <= 0:
        raise ValueError(f"aligned_cotangent_gain_bound: input_norm must be > 0, got {input_norm}")
    return output_norm / input_norm
