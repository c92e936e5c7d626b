"""theory.correlation (the correlation map, c*, chi_c, xi_c) against independent numpy computations."""
import math

import numpy as np
import pytest

from tinygrad_vg import theory
from tinygrad_vg.theory import correlation
from tinygrad_vg.theory.gaussian import gaussian_expectation, pair_expectation

erf = np.vectorize(math.erf)


@pytest.mark.parametrize("q", [0.3, 4.0, 25.0])
@pytest.mark.parametrize("c", [-0.7, 0.0, 0.5, 0.99, 1.0])
def test_pair_expectation_matches_the_closed_form_for_erf(q, c):
    # E[erf(a u1) erf(a u2)] = (2/pi) arcsin(2 a^2 q c / (1 + 2 a^2 q)) (Williams 1997). The rule's
    # error for erf(a u) grows with a sqrt(q) (erf grows like exp(y^2) off the real axis); at a = 0.5
    # it was measured below 1e-13 over this grid.
    a = 0.5
    exact = 2 / math.pi * math.asin(2 * a * a * q * c / (1 + 2 * a * a * q))
    assert pair_expectation(lambda u: erf(a * u), lambda u: erf(a * u), q, c) == pytest.approx(exact, abs=1e-12)


def test_pair_expectation_reduces_to_one_variable_at_c_1_and_factorises_at_c_0():
    sigmoid = lambda u: 0.5 * (1 + np.tanh(0.5 * u))          # noqa: E731
    q = 3.0
    assert pair_expectation(np.tanh, np.tanh, q, 1.0) == pytest.approx(
        gaussian_expectation(lambda u: np.tanh(u) ** 2, q), rel=1e-14)
    assert pair_expectation(sigmoid, sigmoid, q, 0.0) == pytest.approx(gaussian_expectation(sigmoid, q) ** 2, rel=1e-14)


def test_pair_expectation_agrees_with_monte_carlo():
    rng = np.random.default_rng(0)
    q, c, n = 2.0, 0.6, 2_000_000
    z1, z2 = rng.standard_normal((2, n))
    samples = np.tanh(math.sqrt(q) * z1) * np.tanh(math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2))
    standard_error = samples.std() / math.sqrt(n)
    assert abs(pair_expectation(np.tanh, np.tanh, q, c) - samples.mean()) < 5 * standard_error


@pytest.mark.parametrize("sigma_w, sigma_b", [(0.8, 0.05), (1.5, 0.05), (2.5, 0.3), (4.0, 0.3)])
def test_c_1_is_a_fixed_point_with_slope_chi_1(sigma_w, sigma_b):
    q = theory.tanh_fixed_point(sigma_w, sigma_b)
    assert correlation.correlation_map(1.0, q, sigma_w, sigma_b) == pytest.approx(1.0, abs=1e-12)
    assert correlation.correlation_slope(1.0, q, sigma_w) == pytest.approx(theory.tanh_chi1(sigma_w, sigma_b), rel=1e-12)


def test_the_slope_is_the_derivative_of_the_map():
    # central difference of c'(c) with step 1e-5: truncation ~ h^2 |c'''| ~ 1e-10, rounding ~ 1e-16 / h
    sigma_w, sigma_b, h = 2.0, 0.2, 1e-5
    q = theory.tanh_fixed_point(sigma_w, sigma_b)
    for c in (0.1, 0.5, 0.9):
        numeric = (correlation.correlation_map(c + h, q, sigma_w, sigma_b)
                   - correlation.correlation_map(c - h, q, sigma_w, sigma_b)) / (2 * h)
        assert correlation.correlation_slope(c, q, sigma_w) == pytest.approx(numeric, rel=1e-8)


@pytest.mark.parametrize("sigma_w, sigma_b", [(1.5, 0.05), (2.5, 0.3), (4.0, 0.3)])
def test_chaotic_c_star_is_a_stable_fixed_point_below_1(sigma_w, sigma_b):
    q = theory.tanh_fixed_point(sigma_w, sigma_b)
    c_star = correlation.tanh_correlation_fixed_point(sigma_w, sigma_b)
    assert 0 <= c_star < 1
    assert correlation.correlation_map(c_star, q, sigma_w, sigma_b) == pytest.approx(c_star, abs=1e-10)
    assert correlation.tanh_chi_c(sigma_w, sigma_b) < 1          # stable: nearby correlations return


def test_ordered_phase_has_c_star_1_and_equal_depth_scales():
    assert correlation.tanh_correlation_fixed_point(0.8, 0.05) == 1.0
    xi_c, xi_grad = correlation.tanh_depth_scales(0.8, 0.05)
    assert xi_c == xi_grad == pytest.approx(-1 / math.log(theory.tanh_chi1(0.8, 0.05)))


@pytest.mark.parametrize("sigma_b", [0.05, 0.3])
def test_xi_c_peaks_at_the_edge_of_chaos(sigma_b):
    critical = theory.tanh_critical_sigma_w(sigma_b)
    scales = [correlation.tanh_depth_scales(critical * f, sigma_b)[0] for f in (0.7, 0.9, 0.99, 1.01, 1.1, 1.4)]
    assert scales[2] > scales[1] > scales[0] and scales[3] > scales[4] > scales[5]
    assert min(scales[2], scales[3]) > 10 * max(scales[0], scales[5])


def test_a_wide_numpy_network_carries_two_inputs_to_c_star():
    # Finite width: four pairs of inputs through 5 width-500 tanh nets (numpy only), the pairs'
    # correlation averaged over layers 21..60 (c* is reached by layer ~20: chi_c = 0.83). One
    # layer's value scatters by ~0.09 at this width; over six such sets of five nets (seeds 0-29)
    # the average was 0.119 to 0.133 against c* = 0.122, so the bound is 0.02.
    sigma_w, sigma_b, width, pairs = 2.5, 0.3, 500, 4
    measured = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        h = rng.standard_normal((2 * pairs, width))
        for layer in range(60):
            z = h @ rng.normal(0, sigma_w / math.sqrt(width), (width, width)).T + rng.normal(0, sigma_b, width)
            h = np.tanh(z)
            if layer >= 20:
                first, second = z[0::2], z[1::2]
                measured += list(np.sum(first * second, 1) / np.sqrt(np.sum(first ** 2, 1) * np.sum(second ** 2, 1)))
    c_star = correlation.tanh_correlation_fixed_point(sigma_w, sigma_b)
    assert np.mean(measured) == pytest.approx(c_star, abs=0.02)


@pytest.mark.parametrize("c", [-0.6, 0.0, 0.4, 0.95])
def test_relu_and_linear_pair_moments_are_exact_against_monte_carlo(c):
    rng = np.random.default_rng(2)
    q, n = 1.7, 2_000_000
    z1, z2 = rng.standard_normal((2, n))
    u1, u2 = math.sqrt(q) * z1, math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
    for samples, exact in ((np.maximum(u1, 0) * np.maximum(u2, 0), correlation.relu_pair_moments(q, c)[0]),
                           ((u1 > 0) & (u2 > 0), correlation.relu_pair_moments(q, c)[1]),
                           (u1 * u2, correlation.pair_moments(q, c, "linear")[0])):
        assert abs(samples.mean() - exact) < 5 * samples.std() / math.sqrt(n)
    # at c = 1 relu's map returns the length map's E[relu^2] = q / 2 (He et al.)
    assert correlation.relu_pair_moments(q, 1.0) == (q / 2, 0.5)
