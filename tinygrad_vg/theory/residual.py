"""Residual chains x_l = x_{l-1} + alpha f(x_{l-1}): the per-block gain 1 + alpha^2 sigma_w^2, its
product over L blocks, and why alpha = 1 / sqrt(L) keeps it below e^(sigma_w^2)."""
import numpy as np


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


def residual_backward_gains(alpha, sigma_w, depth):
    """E||dL/dh_l||^2 / ||dL/dh_L||^2 = (1 + alpha^2 sigma_w^2)^(L - l), l = 0..L (position l: layer l).

    dL/dh_{l-1} = dL/dh_l (I + alpha W_l), and the cross term has mean zero (see residual_gain).
    Exact in expectation at any width, linear branch, for a cotangent dL/dh_L independent of the
    weights (a loss linear in h_L); the factors multiply because each layer's expectation is taken
    given the layers above it.  He et al. 2016; Hanin & Rolnick 2018 for the scale alpha.
    """
    return residual_gain(alpha, sigma_w) ** (depth - np.arange(depth + 1))


def residual_gain_limit(sigma_w):
    """e^(sigma_w^2): the bound of (1 + sigma_w^2 / L)^L, the end-to-end gain with alpha = 1 / sqrt(L).

    (1 + s/L)^L increases with L towards e^s, so scaling the branch by 1/sqrt(L) keeps the gain of
    E||dL/dx||^2 below e^(sigma_w^2) at every depth, where alpha = 1 gives (1 + sigma_w^2)^L.
    Exact (a limit); Hanin & Rolnick 2018 (residual modules scaled so that sum alpha_l^2 stays bounded).
    """
    return float(np.exp(sigma_w ** 2))
