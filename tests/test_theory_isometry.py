"""theory.isometry against independent numpy computations: products of random matrices drawn here."""
import math

import numpy as np
import pytest

from tinygrad_vg.theory import isometry
from tinygrad_vg.theory.mean_field import tanh_critical_sigma_w


def haar_orthogonal(n, rng, count=None):
    """Haar-random orthogonal n x n matrices (a stack of `count` of them, from one batched QR)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n) if count is None else (count, n, n)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def gaussian_product(depth, width, draws, rng):
    """J = W_L ... W_1 for `draws` independent chains at once, W entries N(0, 1 / width)."""
    weights = rng.standard_normal((draws, depth, width, width)) / math.sqrt(width)
    product = np.broadcast_to(np.eye(width), (draws, width, width)).copy()
    for layer in range(depth):
        product = weights[:, layer] @ product
    return product


def gram(matrix):
    return matrix @ matrix.T


def test_fuss_catalan_of_order_1_is_catalan_and_of_order_0_is_one():
    assert [isometry.fuss_catalan(1, k) for k in range(7)] == [1, 1, 2, 5, 14, 42, 132]
    assert [isometry.fuss_catalan(0, k) for k in range(4)] == [1, 1, 1, 1]
    assert [isometry.fuss_catalan(depth, 2) for depth in range(1, 6)] == [2, 3, 4, 5, 6]   # mean 1, variance L


def test_fuss_catalan_moments_and_edge_match_a_wide_product_of_gaussian_matrices():
    rng = np.random.default_rng(0)
    depth, width, seeds = 2, 300, 5
    moments, largest = [], []
    for _ in range(seeds):
        lam = np.linalg.eigvalsh(gram(gaussian_product(depth, width, 1, rng)[0]))
        moments.append([np.mean(lam ** k) for k in (1, 2, 3)])
        largest.append(lam.max())
    moments = np.array(moments)
    # Measured at width 300: seed-to-seed spread of the k-th moment 1%, 2.5%, 4.5% (std); the mean of 5
    # seeds is 0.9 to 1.1 standard errors off, so 4 standard errors plus a 1% allowance for the
    # O(depth^2 / width) finite-width bias.
    for k in (1, 2, 3):
        error = np.std(moments[:, k - 1]) / math.sqrt(seeds)
        assert abs(moments[:, k - 1].mean() - isometry.fuss_catalan(depth, k)) < 4 * error + 0.01 * isometry.fuss_catalan(depth, k)
    # the largest eigenvalue approaches the edge 27/4 from below (measured 6.29 to 6.75 over these seeds)
    edge = isometry.fuss_catalan_edge(depth)
    assert edge == pytest.approx(6.75, rel=1e-15)
    assert 0.9 * edge < np.mean(largest) and max(largest) < 1.03 * edge


def test_the_finite_width_recursion_is_the_monte_carlo_mean_and_not_the_infinite_width_law():
    rng = np.random.default_rng(1)
    depth, width, draws = 3, 6, 20000
    grams = [gram(j) for j in gaussian_product(depth, width, draws, rng)]
    trace = np.array([np.trace(m) for m in grams]) / width
    trace_of_square = np.array([np.trace(m @ m) for m in grams]) / width
    exact = isometry.gaussian_product_spectrum(depth, width)
    # Monte Carlo means of 20000 draws: within 4 standard errors of an exact expectation
    for samples, expected in ((trace, exact.mean), (trace_of_square, exact.second_moment), (trace ** 2, exact.mean_square)):
        assert abs(samples.mean() - expected) < 4 * samples.std() / math.sqrt(draws)
    # ...while the infinite-width value E[lambda^2] = L + 1 = 4 is > 10 standard errors away at width 6
    assert abs(trace_of_square.mean() - isometry.fuss_catalan(depth, 2)) > 10 * trace_of_square.std() / math.sqrt(draws)


def test_the_finite_width_recursion_tends_to_fuss_catalan_and_scales_with_sigma_w():
    for depth in (1, 4, 16):
        wide = isometry.gaussian_product_spectrum(depth, 10 ** 8)
        assert wide.second_moment == pytest.approx(isometry.fuss_catalan(depth, 2), rel=1e-6)
        assert wide.variance == pytest.approx(depth, rel=1e-6)
    one, scaled = isometry.gaussian_product_spectrum(5, 7), isometry.gaussian_product_spectrum(5, 7, sigma_w=1.5)
    assert scaled.mean == pytest.approx(1.5 ** 10) and scaled.variance == pytest.approx(1.5 ** 20 * one.variance)
    # one layer, exactly: E tr((W W^T)^2) / N = 2 + 1/N for a real Gaussian N x N matrix
    assert isometry.gaussian_product_spectrum(1, 7).second_moment == pytest.approx(2 + 1 / 7, rel=1e-15)


def test_linear_chains_orthogonal_is_an_isometry_gaussian_spreads_like_depth():
    for depth in (1, 8, 50):
        orthogonal = isometry.jacobian_spectrum(depth, 1.0, activation="linear", weights="orthogonal")
        gaussian = isometry.jacobian_spectrum(depth, 1.0, activation="linear", weights="gaussian")
        assert (orthogonal.mean, orthogonal.variance) == (1.0, 0.0)
        assert (gaussian.mean, gaussian.variance) == (1.0, depth)
    rng = np.random.default_rng(2)
    product = np.eye(40)
    for _ in range(30):
        product = haar_orthogonal(40, rng) @ product
    assert np.allclose(np.linalg.svd(product, compute_uv=False), 1.0, atol=1e-12)


def test_tanh_moments_are_the_gaussian_averages_of_tanh_prime_at_the_fixed_point():
    sigma_b = 0.05
    sigma_w = tanh_critical_sigma_w(sigma_b)
    theory = isometry.jacobian_spectrum(10, sigma_w, sigma_b, "tanh", "orthogonal")
    z, w = np.polynomial.hermite_e.hermegauss(120)   # accurate at small q* (~0.15): poles at |z| ~ 4
    slope = 1.0 / np.cosh(math.sqrt(theory.q_star) * z) ** 2
    assert theory.mu1 == pytest.approx(w @ slope ** 2 / math.sqrt(2 * math.pi), rel=1e-12)
    assert theory.mu2 == pytest.approx(w @ slope ** 4 / math.sqrt(2 * math.pi), rel=1e-12)
    assert theory.q_star == pytest.approx(sigma_w ** 2 * (w @ np.tanh(math.sqrt(theory.q_star) * z) ** 2)
                                          / math.sqrt(2 * math.pi) + sigma_b ** 2, rel=1e-12)
    assert theory.mean == pytest.approx(1.0, abs=1e-10)              # critical: chi_1 = 1
    assert theory.variance == pytest.approx(theory.mean ** 2 * 10 * (theory.mu2 / theory.mu1 ** 2 - 1), rel=1e-12)
    gaussian = isometry.jacobian_spectrum(10, sigma_w, sigma_b, "tanh", "gaussian")
    assert (gaussian.variance - theory.variance) / theory.mean ** 2 == pytest.approx(10, rel=1e-12)   # s_1 = -1: one per layer


@pytest.mark.parametrize("weights, depth", [("orthogonal", 8), ("gaussian", 4)])
def test_tanh_jacobian_variance_matches_numpy_chains_at_width_256(weights, depth):
    sigma_b, width, seeds = 0.05, 256, 6
    sigma_w = tanh_critical_sigma_w(sigma_b)
    theory = isometry.jacobian_spectrum(depth, sigma_w, sigma_b, "tanh", weights)
    rng = np.random.default_rng(3)
    variances = []
    for _ in range(seeds):
        h = rng.standard_normal(width)
        h *= math.sqrt((theory.q_star - sigma_b ** 2) / sigma_w ** 2 / np.mean(h ** 2))
        jacobian = np.eye(width)
        layers = (haar_orthogonal(width, rng, depth) if weights == "orthogonal"
                  else rng.standard_normal((depth, width, width)) / math.sqrt(width))
        for layer in layers:
            w = sigma_w * layer
            z = w @ h + sigma_b * rng.standard_normal(width)
            h = np.tanh(z)
            jacobian = ((1 - h ** 2)[:, None] * w) @ jacobian
        variances.append(np.var(np.linalg.svd(jacobian, compute_uv=False) ** 2))
    # Measured over these seeds: per-net spread 4.5% (orthogonal, L = 8) and 23% (Gaussian, L = 4) of the
    # prediction, 6-seed means 1.1 and 0.5 standard errors off: 4 standard errors plus a 2% allowance
    # for the O(1/width) finite-width bias. Swapping s_1 between the two (the S-transform's sign) fails.
    error = np.std(variances) / math.sqrt(seeds)
    assert abs(np.mean(variances) - theory.variance) < 4 * error + 0.02 * theory.variance


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="weights must be one of"):
        isometry.jacobian_spectrum(3, 1.0, weights="uniform")
    with pytest.raises(ValueError, match="activation must be 'linear' or 'tanh'"):
        isometry.jacobian_spectrum(3, 1.0, activation="relu")
    with pytest.raises(ValueError, match="depth must be >= 1"):
        isometry.fuss_catalan_edge(0)
    with pytest.raises(ValueError, match="need depth >= 0 and width >= 1"):
        isometry.gaussian_product_spectrum(2, 0)
