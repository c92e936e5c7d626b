"""Residual chains x_l = x_{l-1} + alpha f(x_{l-1}): the per-block gain 1 + alpha^2 sigma_w^2."""
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
