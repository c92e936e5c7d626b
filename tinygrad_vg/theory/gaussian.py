"""Gaussian expectations E[f(z)], z ~ N(0, q), of the activations and their slopes: the integrals
every mean-field formula of this package is built from.
"""
import functools
import math

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


def check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"theory: activation must be one of {ACTIVATIONS}, got {activation!r}")


def _sech2(u):
    """sech(u)^2 = 4 e^{-2|u|} / (1 + e^{-2|u|})^2: no overflow, full relative precision."""
    e = np.exp(-2.0 * np.abs(u))
    return 4.0 * e / (1.0 + e) ** 2


def phi(u, activation):
    if activation == "tanh":
        return np.tanh(u)
    return 0.5 * (1.0 + np.tanh(0.5 * u))  # sigmoid(u), stable for any u


def phi_prime(u, activation):
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
    check_activation(activation)
    if activation == "linear":
        return float(q)
    if activation == "relu":
        return 0.5 * q
    return gaussian_expectation(lambda u: phi(u, activation) ** 2, q)


def derivative_second_moment(q, activation):
    """E[phi'(z)^2] for z ~ N(0, q): linear 1, relu P(z > 0) = 1/2, tanh E[sech^4], sigmoid E[sigma'^2]."""
    check_activation(activation)
    if activation == "linear":
        return 1.0
    if activation == "relu":
        return 0.5
    return gaussian_expectation(lambda u: phi_prime(u, activation) ** 2, q)


def pair_expectation(f, g, q, c):
    """E[f(u1) g(u2)] for (u1, u2) Gaussian with variances q, q and correlation c.

    Written u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2) with z1, z2 independent N(0, 1),
    it is a double integral over (z1, z2), done by the product of two trapezoidal rules with the
    step of gaussian_expectation (the integrand's poles stay as far away in each variable); accurate
    to ~1e-14 for tanh and sigmoid at any q >= 0 and -1 <= c <= 1.  Poole et al. 2016, eq. (5).
    """
    if q < 0 or not -1.0 <= c <= 1.0:
        raise ValueError(f"pair_expectation: need q >= 0 and -1 <= c <= 1, got q={q}, c={c}")
    scale = math.sqrt(q)
    z, weights = _trapezoid_rule(math.ceil(_Z_MAX * max(1.0, scale) / _STEP))
    u1 = scale * z[:, None]
    u2 = scale * (c * z[:, None] + math.sqrt(1.0 - c * c) * z[None, :])
    return float(weights @ (f(u1) * g(u2)) @ weights)
