"""How two inputs' correlation travels through a deep tanh chain at initialisation: the correlation
map, its fixed point c*, its slope chi_c there, and the depth scales that bound trainability.

Mean field (Poole et al. 2016; Schoenholz et al., "Deep Information Propagation", ICLR 2017): two
inputs whose layer-l pre-activations have per-unit second moment q* (the length map's fixed point,
mean_field.tanh_fixed_point) and correlation c have, at layer l + 1, the correlation

    c' = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*,   (u1, u2) ~ N(0, q* [[1, c], [c, 1]]).

c = 1 is always a fixed point, with slope chi_1 (the gradient gain). Ordered phase (chi_1 < 1): every
pair of inputs becomes the same (c* = 1), and gradients vanish. Chaotic phase (chi_1 > 1): c* < 1,
nearby inputs decorrelate, gradients explode. The slope chi_c = sigma_w^2 E[phi'(u1) phi'(u2)] at
c* sets the correlation depth scale xi_c = -1 / ln chi_c: information about the inputs' geometry
survives about xi_c layers, and Schoenholz et al. find networks trainable for depth up to about
6 xi_c, which diverges at the edge of chaos. Everything here is statistical: exact as the width
goes to infinity, with the weights Gaussian of variance sigma_w^2 / fan_in. The maps take any of
the lab's activations (tanh and sigmoid by quadrature, linear and relu in closed form); the fixed
point and the depth scales are tanh's.
"""
import math

from .gaussian import check_activation, pair_expectation, phi, phi_prime
from .mean_field import gradient_depth_scale, tanh_chi1, tanh_fixed_point


def relu_pair_moments(q, c):
    """(E[relu(u1) relu(u2)], E[relu'(u1) relu'(u2)]) in closed form, exact: the arc-cosine kernel
    q (sqrt(1 - c^2) + (pi - arccos c) c) / (2 pi) and the chance (pi - arccos c) / (2 pi) that both
    are positive (Cho & Saul 2009). Quadrature would converge slowly on relu's kink."""
    angle = math.acos(min(max(c, -1.0), 1.0))
    return q * (math.sqrt(max(1.0 - c * c, 0.0)) + (math.pi - angle) * c) / (2 * math.pi), (math.pi - angle) / (2 * math.pi)


def pair_moments(q, c, activation):
    """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) for (u1, u2) ~ N(0, q [[1, c], [c, 1]])."""
    check_activation(activation)
    if activation == "linear":
        return q * c, 1.0
    if activation == "relu":
        return relu_pair_moments(q, c)
    return (pair_expectation(lambda u: phi(u, activation), lambda u: phi(u, activation), q, c),
            pair_expectation(lambda u: phi_prime(u, activation), lambda u: phi_prime(u, activation), q, c))


def correlation_map(c, q, sigma_w, sigma_b, activation="tanh"):
    """c' of the module docstring, for two inputs at second moment q (q > 0, usually q*)."""
    if q <= 0:
        raise ValueError(f"correlation_map: q must be > 0, got {q}")
    return (sigma_w ** 2 * pair_moments(q, c, activation)[0] + sigma_b ** 2) / q


def correlation_slope(c, q, sigma_w, activation="tanh"):
    """dc'/dc = sigma_w^2 E[phi'(u1) phi'(u2)] (Poole et al. 2016, differentiating under the
    integral: d/dc E[f(u1) g(u2)] = q E[f'(u1) g'(u2)]); at c = 1 and q = q* it is chi_1."""
    return sigma_w ** 2 * pair_moments(q, c, activation)[1]


def tanh_correlation_fixed_point(sigma_w, sigma_b):
    """c*, the stable fixed point of the tanh correlation map at q*.

    Ordered (chi_1 <= 1): c* = 1. Chaotic (chi_1 > 1): the map is increasing and convex in c on
    [0, 1] with slope chi_1 > 1 at c = 1, so g(c) = c'(c) - c is >= 0 at c = 0 (c'(0) = sigma_b^2 /
    q* for odd tanh) and < 0 just below 1: one root in [0, 1), found by bisection.
    """
    if tanh_chi1(sigma_w, sigma_b) <= 1.0:
        return 1.0
    q = tanh_fixed_point(sigma_w, sigma_b)

    def excess(c):
        return correlation_map(c, q, sigma_w, sigma_b) - c

    low, high = 0.0, 1.0 - 1e-9
    if excess(low) <= 0:
        return 0.0
    while high - low > 1e-13:
        middle = 0.5 * (low + high)
        if excess(middle) > 0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def tanh_chi_c(sigma_w, sigma_b):
    """chi_c, the correlation map's slope at c* (= chi_1 in the ordered phase, where c* = 1)."""
    c_star = tanh_correlation_fixed_point(sigma_w, sigma_b)
    if c_star == 1.0:
        return tanh_chi1(sigma_w, sigma_b)
    return correlation_slope(c_star, tanh_fixed_point(sigma_w, sigma_b), sigma_w)


def tanh_depth_scales(sigma_w, sigma_b):
    """(xi_c, xi_grad) = (-1 / ln chi_c, -1 / ln chi_1): how many layers correlations and gradients
    survive. xi_grad is negative in the chaotic phase (gradients grow e-fold every |xi_grad| layers);
    both are infinite on the edge of chaos. Schoenholz et al.'s bound: trainable for L <~ 6 xi_c."""
    chi_c = tanh_chi_c(sigma_w, sigma_b)
    xi_c = math.inf if chi_c >= 1.0 else gradient_depth_scale(chi_c)
    return xi_c, gradient_depth_scale(tanh_chi1(sigma_w, sigma_b))
