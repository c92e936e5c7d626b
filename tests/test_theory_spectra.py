"""theory.eigen and the tanh RNN's mean-field rate, each against a computation that does not use it:
numpy's matrix_power, a closed form, or a quadrature of its own."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_vg.theory import eigen, rnn


def diagonalisable(seed, n):
    """A random real W (complex eigenvalue pairs included) scaled to spectral radius 1.1."""
    weight = np.random.default_rng(seed).standard_normal((n, n))
    return 1.1 * weight / np.max(np.abs(np.linalg.eigvals(weight)))


@given(st.integers(1, 6), st.integers(0, 2 ** 32 - 1))
def test_the_eigendecomposition_gives_c_times_the_powers_of_w(n, seed):
    weight = diagonalisable(seed, n)
    cotangent = np.random.default_rng(seed + 1).standard_normal((3, n))
    predicted = eigen.eigendecomposition_gradients(weight, cotangent, 30)
    kappa = eigen.eigenbasis(weight).condition_number
    sigma = np.linalg.norm(weight, 2)
    for s in range(31):
        exact = cotangent @ np.linalg.matrix_power(weight, s)
        # both sides round: V^-1 to ~kappa eps, and each of the s products to eps sigma_max^s
        scale = 1e-13 * (s + 1) * kappa * max(sigma, 1) ** s * np.linalg.norm(cotangent)
        assert np.linalg.norm(predicted[s] - exact) <= scale


def test_the_eigenbasis_rebuilds_w_and_is_orthonormal_exactly_when_w_is_normal():
    weight = diagonalisable(3, 5)
    basis = eigen.eigenbasis(weight)
    assert np.allclose(basis.vectors @ np.diag(basis.values) @ basis.inverse, weight, rtol=0, atol=1e-13)
    assert basis.condition_number > 1.5
    a = np.random.default_rng(0).standard_normal((5, 5))
    assert eigen.eigenbasis(a + a.T).condition_number == pytest.approx(1.0, rel=1e-12)


def test_a_jordan_block_has_no_eigendecomposition_and_no_eigenbasis_bound():
    jordan = np.array([[0.9, 1.0], [0.0, 0.9]])
    with pytest.raises(ValueError, match="defective"):
        eigen.eigenbasis(jordan)
    assert np.all(np.isinf(eigen.transient(jordan, 5).eigenbasis_bound))
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        eigen.eigenbasis(np.ones((2, 3)))


def test_the_transient_of_a_jordan_block_matches_its_closed_form():
    # [[l, a], [0, l]]^s = [[l^s, s a l^(s-1)], [0, l^s]], and [[p, q], [0, p]] has
    # sigma_1 sigma_2 = p^2, sigma_1^2 + sigma_2^2 = 2 p^2 + q^2: sigma_1 = (|q| + sqrt(q^2 + 4 p^2)) / 2
    lam, a, steps = 0.9, 5.0, 120
    s = np.arange(steps + 1)
    p, q = lam ** s, s * a * lam ** (s - 1.0)
    closed = (np.abs(q) + np.sqrt(q ** 2 + 4 * p ** 2)) / 2
    result = eigen.transient(np.array([[lam, a], [0.0, lam]]), steps)
    assert np.allclose(result.norms, closed, rtol=1e-12)
    assert result.peak_step == int(np.argmax(closed)) and result.peak == pytest.approx(closed.max(), rel=1e-12)
    assert result.peak > 15 and result.eigenvalue_powers[result.peak_step] < 1     # rho = 0.9, yet a rise


@given(st.integers(1, 6), st.integers(0, 2 ** 32 - 1), st.floats(0.0, 3.0))
def test_rho_powers_and_singular_value_powers_sandwich_the_power_norms(n, seed, coupling):
    rng = np.random.default_rng(seed)
    weight = np.diag(rng.uniform(-0.95, 0.95, n)) + coupling * np.triu(rng.standard_normal((n, n)), 1)
    result = eigen.transient(weight, 40)
    exact = [np.linalg.norm(np.linalg.matrix_power(weight, s), 2) for s in range(41)]
    assert np.allclose(result.norms, exact, rtol=1e-9, atol=1e-300)
    slack = 1 + 1e-9
    assert np.all(result.eigenvalue_powers <= result.norms * slack)
    assert np.all(result.norms <= result.singular_value_bound * slack)
    assert np.all(result.norms <= result.eigenbasis_bound * slack)


def test_a_normal_matrix_has_no_transient():
    a = np.random.default_rng(1).standard_normal((6, 6))
    q, _ = np.linalg.qr(a)
    normal = q @ np.diag([0.9, -0.8, 0.5, 0.4, 0.3, 0.1]) @ q.T
    result = eigen.transient(normal, 50)
    assert np.allclose(result.norms, 0.9 ** np.arange(51), rtol=1e-10)
    assert result.peak_step == 0 and result.peak == pytest.approx(1.0)


def gaussian_mean(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), by a Riemann sum on a grid of its own (step 1e-3; the density at
    the ends, e^-98, makes it the trapezoidal rule)."""
    z, step = np.linspace(-14.0, 14.0, 28001, retstep=True)
    return float(np.sum(f(math.sqrt(q) * z) * np.exp(-z * z / 2)) * step / math.sqrt(2 * math.pi))


@pytest.mark.parametrize("sigma_w, input_variance, sigma_b", [(1.5, 1.0, 0.0), (1.0, 0.25, 0.1), (3.0, 0.5, 0.0)])
def test_the_tanh_rnn_rate_is_the_gain_at_the_fixed_point_of_the_recurrent_length_map(sigma_w, input_variance, sigma_b):
    rate = rnn.tanh_rnn_mean_field_rate(sigma_w, input_variance, sigma_b)
    q = rate.stationary_variance
    stationary = sigma_w ** 2 * gaussian_mean(lambda u: np.tanh(u) ** 2, q) + input_variance + sigma_b ** 2
    assert stationary == pytest.approx(q, rel=1e-10)
    assert rate.gain == pytest.approx(sigma_w ** 2 * gaussian_mean(lambda u: (1 - np.tanh(u) ** 2) ** 2, q), rel=1e-10)
    assert rate.rate == pytest.approx(0.5 * math.log(rate.gain), rel=1e-15)


def test_without_input_a_tanh_rnn_below_sigma_w_1_is_linear_at_its_fixed_point():
    assert rnn.tanh_rnn_mean_field_rate(0.8, 0.0) == (0.0, pytest.approx(0.64), pytest.approx(math.log(0.8)))
    with pytest.raises(ValueError, match="input_variance.*-1"):
        rnn.tanh_rnn_mean_field_rate(1.0, -1.0)


@settings(max_examples=20)
@given(st.integers(1, 5), st.integers(0, 2 ** 32 - 1), st.floats(0.0, 3.0))
def test_the_kreiss_lower_bound_never_exceeds_the_largest_power_norm(n, seed, coupling):
    rng = np.random.default_rng(seed)
    weight = np.diag(rng.uniform(-0.9, 0.9, n)) + coupling * np.triu(rng.standard_normal((n, n)), 1)
    # |lambda| <= 0.9, n <= 5: ||W^s|| <= poly(s) 0.9^s has peaked long before s = 600
    assert eigen.kreiss_bounds(weight).lower <= eigen.transient(weight, 600).peak * (1 + 1e-9)


def test_the_kreiss_bounds_hold_the_jordan_peak_and_are_1_for_a_normal_matrix():
    lower, upper = eigen.kreiss_bounds(np.array([[0.9, 5.0], [0.0, 0.9]]))
    assert lower <= eigen.transient(np.array([[0.9, 5.0], [0.0, 0.9]]), 200).peak <= upper
    assert lower > 10                                     # the resolvent alone predicts a 10-fold rise
    q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((4, 4)))
    lower, _ = eigen.kreiss_bounds(q @ np.diag([0.9, 0.5, -0.3, 0.1]) @ q.T)
    assert 0.9 < lower <= 1                               # (|z| - 1) / (|z| - 0.9) < 1, -> 1 as |z| grows
    assert eigen.kreiss_bounds(np.array([[1.0, 1.0], [0.0, 0.5]])) == (np.inf, np.inf)
