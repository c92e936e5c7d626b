"""Finite width: what "the right variance" leaves out.  He's ReLU law per layer at finite width,
Hanin's fluctuations across networks, and Glorot's layer-by-layer variances of a linear chain.

A ReLU layer h = relu(W h_prev) with W of shape (fan_out, fan_in), W_ij ~ N(0, sigma_w^2 / fan_in)
and no bias: given h_prev != 0, g = W h_prev / |h_prev| has i.i.d. N(0, sigma_w^2 / fan_in) entries
whatever the direction of h_prev (a Gaussian matrix is rotation invariant), so

    |h|^2 / |h_prev|^2 = (sigma_w^2 / fan_in) chi^2_K,    K ~ Binomial(fan_out, 1/2)

(K counts the positive entries of g, and the squares of the positive ones are K independent
chi^2_1).  The factor is independent of everything before it, so ln(|h_L|^2 / |h_0|^2) is a sum of L
independent terms.  With E[ln chi^2_k] = psi(k / 2) + ln 2 and Var[ln chi^2_k] = psi'(k / 2) (psi the
digamma function) the moments of ln follow exactly by summing over K.
"""
import math
from typing import NamedTuple

import numpy as np

EULER_GAMMA = 0.5772156649015329
# Bernoulli numbers B_2k, k = 1..6, for the asymptotic series of digamma and trigamma
BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730)
ASYMPTOTIC_FROM = 10.0      # at x >= 10 the terms above leave an error below 1e-16 relative


def _shift_up(x, term):
    """(x + s, sum of term(x + j) for j < s), s the least whole number with x + s >= ASYMPTOTIC_FROM."""
    x = np.array(x, dtype=np.float64)
    if np.any(~(x > 0)):
        raise ValueError(f"digamma/trigamma: defined here for x > 0 only, got {x[~(x > 0)].ravel()[:3]}")
    total = np.zeros_like(x)
    while np.any(x < ASYMPTOTIC_FROM):
        small = x < ASYMPTOTIC_FROM
        total[small] += term(x[small])
        x[small] += 1.0
    return x, total


def digamma(x):
    """psi(x) = d ln Gamma(x) / dx for x > 0, elementwise, to ~1e-15.

    psi(x) = psi(x + 1) - 1 / x moves x above 10, then psi(x) = ln x - 1 / (2x) - sum_k B_2k / (2k x^2k)
    (Abramowitz & Stegun 6.3.5 and 6.3.18).  Exact to rounding.
    """
    x, below = _shift_up(x, lambda y: 1.0 / y)
    series = sum(b / (2 * k) / x ** (2 * k) for k, b in enumerate(BERNOULLI, start=1))
    return np.log(x) - 0.5 / x - series - below


def trigamma(x):
    """psi'(x) for x > 0, elementwise, to ~1e-15.

    psi'(x) = psi'(x + 1) + 1 / x^2, then psi'(x) = 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1)
    (Abramowitz & Stegun 6.4.6 and 6.4.12).  Exact to rounding.
    """
    x, below = _shift_up(x, lambda y: 1.0 / y ** 2)
    series = sum(b / x ** (2 * k + 1) for k, b in enumerate(BERNOULLI, start=1))
    return 1.0 / x + 0.5 / x ** 2 + series + below


def active_units_pmf(width):
    """P(K = k), k = 0..width, for K ~ Binomial(width, 1/2): the number of active ReLU units of a
    layer whose pre-activations are symmetric and non-zero (exact)."""
    return np.array([math.comb(width, k) / 2 ** width for k in range(width + 1)])   # int / int: correctly rounded


class ReluLayerLaw(NamedTuple):
    mean: float            # E[F] = sigma_w^2 fan_out / (2 fan_in): He's law, exact in the mean
    log_mean: float        # E[ln F | K >= 1]
    log_variance: float    # Var[ln F | K >= 1]
    dead_probability: float    # P(K = 0) = 2^-fan_out: the layer outputs 0 and ln F = -inf


def relu_layer_law(width, sigma_w, fan_in=None):
    """The law of F = |h_l|^2 / |h_{l-1}|^2 for one ReLU layer of Gaussian weights, no bias.

    F = (sigma_w^2 / fan_in) chi^2_K, K ~ Binomial(width, 1/2) (module docstring), so
    E[F] = sigma_w^2 width / (2 fan_in) and, given K >= 1,
      E[ln F]   = ln(sigma_w^2 / fan_in) + ln 2 + E[psi(K/2)],
      Var[ln F] = E[psi'(K/2)] + Var[psi(K/2)]    (total variance over K).
    Exact at every width (fan_in defaults to width); for large width E[ln F] ~ ln E[F] - 5 / (2 width)
    and Var[ln F] ~ 5 / width.  The chi-square law is derived here from rotation invariance (the
    product of such layer factors is what Hanin 2018 and Hanin & Nica 2019 study); He et al. 2015
    gave the mean.
    """
    fan_in = width if fan_in is None else fan_in
    if width < 1 or fan_in < 1:
        raise ValueError(f"relu_layer_law: width and fan_in must be at least 1, got {width}, {fan_in}")
    pmf = active_units_pmf(width)
    k, p = np.arange(1, width + 1), pmf[1:] / (1.0 - pmf[0])
    psi = digamma(k / 2)
    log_mean = math.log(sigma_w ** 2 / fan_in) + math.log(2.0) + float(p @ psi)
    log_variance = float(p @ trigamma(k / 2)) + float(p @ (psi - p @ psi) ** 2)
    return ReluLayerLaw(sigma_w ** 2 * width / (2 * fan_in), log_mean, log_variance, float(pmf[0]))


class LogNormMoments(NamedTuple):
    mean: np.ndarray       # E[ln(|h_l|^2 / |h_0|^2) | alive], l = 1..L
    variance: np.ndarray   # Var[ln(|h_l|^2 / |h_0|^2) | alive], l = 1..L
    survival: np.ndarray   # P(no layer up to l is dead)


def relu_log_norm_moments(widths, sigma_w, input_width=None):
    """Mean and variance of ln(|h_l|^2 / |h_0|^2) across networks, for layers of widths n_1..n_L.

    The per-layer terms are independent (module docstring), so the moments add up layer by layer:
    exact at any width, given that no layer is dead (all K_l >= 1, probability prod (1 - 2^-n_l)).
    input_width n_0 defaults to n_1.  Summed over layers, Var ~ 5 beta with beta = sum 1/n_l
    (hanin_variance_approximation): the fluctuations across networks grow with depth / width
    (Hanin 2018; Hanin & Rolnick 2018), although E[|h_L|^2] / |h_0|^2 = 1 at sigma_w^2 = 2 and equal
    widths.
    """
    fan_ins = [input_width or widths[0], *widths[:-1]]
    laws = [relu_layer_law(n, sigma_w, fan_in) for n, fan_in in zip(widths, fan_ins)]
    return LogNormMoments(np.cumsum([law.log_mean for law in laws]),
                          np.cumsum([law.log_variance for law in laws]),
                          np.cumprod([1.0 - law.dead_probability for law in laws]))


def hanin_beta(widths):
    """beta = sum_l 1 / n_l over the layers' widths (Hanin 2018): depth / width for a constant width."""
    return float(np.sum(1.0 / np.asarray(widths, dtype=np.float64)))


def hanin_variance_approximation(widths):
    """5 beta: Var[ln(|h_L|^2 / |h_0|^2)] for Gaussian ReLU layers to first order in 1 / n_l (each
    layer: E psi'(K/2) ~ 4/n from the chi^2, Var ln K ~ 1/n from the binomial count; worked out here
    from relu_layer_law, which it approaches as every n_l -> infinity: 6.7/n at n = 16, 5.07/n at
    n = 256).  That the fluctuations are governed by beta is Hanin 2018 and Hanin & Rolnick 2018
    (keep sum 1/n_l bounded, i.e. width growing with depth); Hanin & Nica 2019 show ln is
    asymptotically Gaussian when depth and width grow together."""
    return 5.0 * hanin_beta(widths)


def relu_rescaling(sigma_w, sigma_w_new, depth):
    """(forward, backward): the exact ratios between two chains on the same draws, W' = (s'/s) W.

    ReLU is positively homogeneous and there is no bias, so h_l(s') = (s'/s)^l h_l(s) for l = 1..L;
    for a loss linear in h_L (dL/dh_L the same in both chains), dL/dh_l(s') = (s'/s)^(L-l) dL/dh_l(s).
    Exact to rounding, at any width, on every draw (not only in expectation).
    """
    ratio = sigma_w_new / sigma_w
    layers = np.arange(1, depth + 1)
    return ratio ** layers, ratio ** (depth - layers)


def standard_uniform_variance(fan_in):
    """Var of Glorot & Bengio's "standard" U[-1/sqrt(n), 1/sqrt(n)], n = fan_in (PyTorch's Linear
    default): (1/sqrt(n))^2 / 3 = 1 / (3 n), so fan_in Var = 1/3 per layer.  Exact."""
    return 1.0 / (3.0 * fan_in)


class LinearChainVariances(NamedTuple):
    forward: np.ndarray          # E[h_l,i^2], l = 0..L (per unit)
    backward: np.ndarray         # E[(dL/dh_l,i)^2], l = 0..L (per unit)
    weight_gradient: np.ndarray  # E[(dL/dW_l,ij)^2], l = 1..L (per entry)


def linear_chain_variances(widths, weight_variances, input_second_moment, output_grad_second_moment):
    """Glorot & Bengio 2010's per-layer variances for a linear chain h_l = h_{l-1} W_l^T, batch of one.

    widths n_0..n_L; W_l (n_l x n_{l-1}) with i.i.d. zero-mean entries of variance weight_variances[l-1];
    a cotangent dL/dh_L independent of the weights (a loss linear in h_L).  Then
      forward   v_l = n_{l-1} Var(W_l) v_{l-1}
      backward  u_{l-1} = n_l Var(W_l) u_l
      weights   dL/dW_l = (dL/dh_l)^T h_{l-1}, and the two factors depend on disjoint layers, so
                E[(dL/dW_l,ij)^2] = u_l v_{l-1}.
    Exact in expectation at any width and for any weight distribution with these variances.  With
    equal widths and the standard init, v falls and u rises by 3 per layer while u_l v_{l-1} stays
    the same at every layer (Glorot & Bengio's remark that weight gradients need not vanish); the
    normalised init Var = 2 / (n_{l-1} + n_l) keeps v and u flat at equal widths, and close when the
    widths differ.
    """
    widths = np.asarray(widths, dtype=np.float64)
    variances = np.asarray(weight_variances, dtype=np.float64)
    if widths.ndim != 1 or len(widths) < 2 or variances.shape != (len(widths) - 1,):
        raise ValueError(f"linear_chain_variances: need widths n_0..n_L and one variance per layer, got "
                         f"{len(widths)} widths and {variances.size} variances")
    forward = input_second_moment * np.concatenate([[1.0], np.cumprod(widths[:-1] * variances)])
    gains_down = (widths[1:] * variances)[::-1]       # u_{l-1} / u_l, from the last layer down
    backward = output_grad_second_moment * np.concatenate([[1.0], np.cumprod(gains_down)])[::-1]
    return LinearChainVariances(forward, backward, backward[1:] * forward[:-1])
