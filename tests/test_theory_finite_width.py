"""theory.finite_width and the residual gains, each against an independent numpy computation.

Exact statements (digamma, trigamma, the binomial count, the rescaling identity, the sums over K)
are checked to rounding against closed forms; the chi^2_K law and Glorot's variances, which are
statements about expectations, against numpy Monte Carlo within 5 standard errors. Why 5: the
largest |z| seen was 3.5 for the mean and variance of ln F (300 seeds x widths 4 and 16, 20000
draws each) and 3.3 for Glorot's moments (100 seeds x 2 inits x 9 quantities, 20000 chains each),
as Gaussian z-scores would be; the seeds here are fixed, so a failure is a bug, not bad luck.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinygrad_vg.theory import finite_width as fw
from tinygrad_vg.theory import residual

Z_TOLERANCE = 5.0


def z_score(samples, predicted, statistic="mean"):
    """(measured - predicted) / standard error, for the sample mean or the sample variance."""
    samples = np.asarray(samples, dtype=np.float64)
    centred = samples - samples.mean()
    if statistic == "mean":
        return (samples.mean() - predicted) / (samples.std(ddof=1) / math.sqrt(samples.size))
    variance = np.mean(centred ** 2)
    return (variance - predicted) / math.sqrt((np.mean(centred ** 4) - variance ** 2) / samples.size)


# ---------- digamma and trigamma: exact ----------

def half_integer_digamma(k):
    """psi(k/2) from psi(1) = -gamma, psi(1/2) = -gamma - 2 ln 2 and psi(x + 1) = psi(x) + 1/x."""
    x, value = (1.0, -fw.EULER_GAMMA) if k % 2 == 0 else (0.5, -fw.EULER_GAMMA - 2 * math.log(2))
    while x < k / 2:
        value, x = value + 1 / x, x + 1
    return value


def half_integer_trigamma(k):
    """psi'(k/2) from psi'(1) = pi^2/6, psi'(1/2) = pi^2/2 and psi'(x + 1) = psi'(x) - 1/x^2."""
    x, value = (1.0, math.pi ** 2 / 6) if k % 2 == 0 else (0.5, math.pi ** 2 / 2)
    while x < k / 2:
        value, x = value - 1 / x ** 2, x + 1
    return value


def test_digamma_and_trigamma_at_one_and_one_half():
    # nine steps of the recurrence and ln(10) ~ 2.3 to cancel: a few units of 1e-16 * 2.3 of rounding
    assert fw.digamma(1.0) == pytest.approx(-0.5772156649015329, abs=4e-15)
    assert fw.digamma(0.5) == pytest.approx(-0.5772156649015329 - 2 * math.log(2), abs=4e-15)
    assert fw.trigamma(1.0) == pytest.approx(math.pi ** 2 / 6, abs=1e-14)
    assert fw.trigamma(0.5) == pytest.approx(math.pi ** 2 / 2, abs=1e-14)


def test_digamma_and_trigamma_at_every_half_integer_up_to_100():
    k = np.arange(1, 201)
    assert np.allclose(fw.digamma(k / 2), [half_integer_digamma(j) for j in k], rtol=1e-14, atol=1e-14)
    # the recurrence for psi' subtracts from pi^2/6: its own rounding is ~1e-16 * pi^2/6 / psi'(100)
    assert np.allclose(fw.trigamma(k / 2), [half_integer_trigamma(j) for j in k], rtol=1e-12)


@given(st.floats(0.01, 200.0))
def test_digamma_is_the_derivative_of_log_gamma(x):
    # central difference of math.lgamma with h = 1e-4 x: truncation h^2 |psi''(x)| / 6 <= 1e-8 |psi(x)|-ish,
    # rounding ~ 1e-16 |lgamma(x)| / h <= 1e-10
    h = 1e-4 * x
    slope = (math.lgamma(x + h) - math.lgamma(x - h)) / (2 * h)
    assert fw.digamma(x) == pytest.approx(slope, rel=1e-6, abs=1e-6)
    assert fw.digamma(x + 1) - fw.digamma(x) == pytest.approx(1 / x, rel=1e-12)


@given(st.floats(0.01, 200.0))
def test_trigamma_is_the_derivative_of_digamma(x):
    h = 1e-4 * x
    slope = (fw.digamma(x + h) - fw.digamma(x - h)) / (2 * h)
    assert fw.trigamma(x) == pytest.approx(slope, rel=1e-6)
    assert fw.trigamma(x) - fw.trigamma(x + 1) == pytest.approx(1 / x ** 2, rel=1e-11)


def test_digamma_refuses_non_positive_arguments():
    with pytest.raises(ValueError, match="x > 0"):
        fw.digamma([1.0, 0.0])
    with pytest.raises(ValueError, match="x > 0"):
        fw.trigamma(-2.5)


# ---------- the per-layer ReLU law: exact sums, checked by Monte Carlo ----------

@pytest.mark.parametrize("width", [1, 7, 40])
def test_active_units_are_binomial(width):
    pmf = fw.active_units_pmf(width)
    recurrence = [2.0 ** -width]
    for k in range(1, width + 1):                      # P(k) = P(k - 1) (n - k + 1) / k
        recurrence.append(recurrence[-1] * (width - k + 1) / k)
    assert np.allclose(pmf, recurrence, rtol=1e-13, atol=0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-15) and pmf @ np.arange(width + 1) == pytest.approx(width / 2)


@pytest.mark.parametrize("width, fan_in, sigma_w", [(3, 3, 1.0), (16, 16, math.sqrt(2)), (8, 24, 0.7)])
def test_relu_layer_law_is_the_sum_over_the_active_count(width, fan_in, sigma_w):
    # the same sums written with the half-integer closed forms above, term by term
    p = [math.comb(width, k) / (2 ** width - 1) for k in range(1, width + 1)]
    psi = [half_integer_digamma(k) for k in range(1, width + 1)]
    mean_psi = sum(pk * v for pk, v in zip(p, psi))
    law = fw.relu_layer_law(width, sigma_w, fan_in)
    assert law.mean == pytest.approx(sigma_w ** 2 * width / (2 * fan_in), rel=1e-15)
    assert law.log_mean == pytest.approx(math.log(2 * sigma_w ** 2 / fan_in) + mean_psi, rel=1e-13, abs=1e-14)
    assert law.log_variance == pytest.approx(
        sum(pk * (half_integer_trigamma(k) + (v - mean_psi) ** 2) for k, pk, v in zip(range(1, width + 1), p, psi)),
        rel=1e-12)
    assert law.dead_probability == 2.0 ** -width


@pytest.mark.parametrize("width, fan_in, direction", [(4, 4, "axis"), (16, 16, "spread"), (8, 24, "axis")])
def test_relu_layer_law_against_gaussian_matrices_in_any_input_direction(width, fan_in, direction):
    sigma_w, draws = 1.3, 20000
    rng = np.random.default_rng(width)
    h = np.eye(fan_in)[0] * 3.0 if direction == "axis" else rng.standard_normal(fan_in)
    w = rng.normal(0.0, sigma_w / math.sqrt(fan_in), (draws, width, fan_in))
    factors = np.sum(np.maximum(w @ h, 0.0) ** 2, axis=1) / np.sum(h ** 2)
    law = fw.relu_layer_law(width, sigma_w, fan_in)
    logs = np.log(factors[factors > 0])              # the law of ln F is given K >= 1
    assert abs(z_score(factors, law.mean)) < Z_TOLERANCE
    assert abs(z_score(logs, law.log_mean)) < Z_TOLERANCE
    assert abs(z_score(logs, law.log_variance, "variance")) < Z_TOLERANCE
    # and conditionally on K the factor is chi^2_K scaled: E[F | K] = sigma_w^2 K / fan_in
    active = np.count_nonzero(w @ h > 0, axis=1)
    assert abs(z_score(factors[active > 0] * fan_in / (sigma_w ** 2 * active[active > 0]), 1.0)) < Z_TOLERANCE


def test_finite_width_corrections_approach_five_over_n():
    # to first order in 1/n: Var ln F = 5/n and E ln F = ln(sigma_w^2 / 2) - 5 / (2n); the next order is O(1/n^2)
    for width in (256, 1024, 4096):
        law = fw.relu_layer_law(width, math.sqrt(2))
        assert abs(width * law.log_variance - 5.0) < 20.0 / width
        assert abs(width * law.log_mean + 2.5) < 20.0 / width
    assert fw.relu_layer_law(16, math.sqrt(2)).log_variance * 16 > 6.5     # at width 16 it is 6.7, not 5


def test_log_norm_moments_add_up_over_layers():
    widths = [5, 9, 9, 30]
    moments = fw.relu_log_norm_moments(widths, 1.1, input_width=12)
    laws = [fw.relu_layer_law(n, 1.1, fan_in) for n, fan_in in zip(widths, [12, 5, 9, 9])]
    assert np.allclose(moments.mean, np.cumsum([law.log_mean for law in laws]), rtol=1e-14)
    assert np.allclose(moments.variance, np.cumsum([law.log_variance for law in laws]), rtol=1e-14)
    assert np.allclose(moments.survival, np.cumprod([1 - 2.0 ** -n for n in widths]), rtol=1e-15)
    assert fw.hanin_beta(widths) == pytest.approx(1 / 5 + 2 / 9 + 1 / 30)
    assert fw.hanin_variance_approximation(widths) == pytest.approx(5 * fw.hanin_beta(widths))


def test_relu_rescaling_is_exact_on_the_same_draws():
    rng = np.random.default_rng(3)
    depth, width, sigma, sigma_new = 12, 6, math.sqrt(2), 0.6
    weights = rng.standard_normal((depth, width, width)) / math.sqrt(width)
    x = rng.standard_normal(width)
    forward, backward = fw.relu_rescaling(sigma, sigma_new, depth)
    h, h_new = x, x
    for layer, w in enumerate(weights):
        h, h_new = np.maximum(sigma * w @ h, 0), np.maximum(sigma_new * w @ h_new, 0)
        assert np.allclose(h_new, forward[layer] * h, rtol=1e-13, atol=0)
    assert backward[-1] == 1.0 and backward[0] == pytest.approx((sigma_new / sigma) ** (depth - 1))


# ---------- Glorot's variances: exact in expectation ----------

def test_standard_init_at_equal_widths_divides_by_three_and_keeps_weight_gradients_flat():
    widths, depth = [50] * 7, 6
    v = fw.linear_chain_variances(widths, [fw.standard_uniform_variance(50)] * depth, 2.0, 0.5)
    assert np.allclose(v.forward, 2.0 * 3.0 ** -np.arange(depth + 1), rtol=1e-14)
    assert np.allclose(v.backward, 0.5 * 3.0 ** -(depth - np.arange(depth + 1)), rtol=1e-14)
    assert np.allclose(v.weight_gradient, 1.0 * 3.0 ** -(depth - 1), rtol=1e-14)
    flat = fw.linear_chain_variances(widths, [2 / 100] * depth, 2.0, 0.5)    # normalised at equal widths
    assert np.allclose(flat.forward, 2.0) and np.allclose(flat.backward, 0.5)
    assert fw.standard_uniform_variance(12) == pytest.approx(np.var(np.linspace(-1, 1, 200001) / math.sqrt(12)), rel=1e-4)


def glorot_z_scores(widths, scheme, nets, rng):
    """z-scores of Glorot's forward, backward and weight-gradient second moments, layer by layer,
    measured over `nets` numpy chains with uniform weights (loss = sum(h_L * c))."""
    bounds = [1 / math.sqrt(a) if scheme == "standard" else math.sqrt(6 / (a + b)) for a, b in zip(widths, widths[1:])]
    x, c = rng.standard_normal(widths[0]), rng.standard_normal(widths[-1])
    weights = [rng.uniform(-bound, bound, (nets, b, a)) for bound, a, b in zip(bounds, widths, widths[1:])]
    hs = [np.broadcast_to(x, (nets, widths[0]))]
    for w in weights:
        hs.append(np.einsum("nij,nj->ni", w, hs[-1]))
    gs = [np.broadcast_to(c, (nets, widths[-1]))]
    for w in weights[::-1]:
        gs.insert(0, np.einsum("ni,nij->nj", gs[0], w))       # dL/dh_{l-1} = dL/dh_l W_l
    predicted = fw.linear_chain_variances(widths, [b ** 2 / 3 for b in bounds], np.mean(x ** 2), np.mean(c ** 2))
    scores = []
    for layer in range(1, len(widths)):
        weight_grad = gs[layer][:, :, None] * hs[layer - 1][:, None, :]
        scores += [z_score(np.mean(hs[layer] ** 2, axis=1), predicted.forward[layer]),
                   z_score(np.mean(gs[layer - 1] ** 2, axis=1), predicted.backward[layer - 1]),
                   z_score(np.mean(weight_grad ** 2, axis=(1, 2)), predicted.weight_gradient[layer - 1])]
    return np.array(scores)


@pytest.mark.parametrize("scheme, seed", [("standard", 5), ("normalised", 6)])
def test_linear_chain_variances_against_many_numpy_chains(scheme, seed):
    scores = glorot_z_scores([6, 10, 4, 8], scheme, 20000, np.random.default_rng(seed))
    assert np.all(np.abs(scores) < Z_TOLERANCE), scores


def test_linear_chain_variances_names_a_length_mismatch():
    with pytest.raises(ValueError, match="one variance per layer"):
        fw.linear_chain_variances([4, 4, 4], [0.1], 1.0, 1.0)


# ---------- residual: alpha = 1 against alpha = 1/sqrt(L) ----------

def test_residual_backward_gains_multiply_block_by_block():
    gains = residual.residual_backward_gains(0.5, 2.0, 5)
    assert np.allclose(gains, 2.0 ** np.arange(5, -1, -1), rtol=1e-15)      # 1 + 0.25 * 4 = 2 per block


def test_alpha_one_over_root_depth_keeps_the_gain_below_e_to_the_sigma_squared():
    sigma_w = 1.3
    totals = [residual.residual_backward_gains(1 / math.sqrt(L), sigma_w, L)[0] for L in (1, 4, 16, 64, 1024, 10 ** 6)]
    assert all(a < b for a, b in zip(totals, totals[1:]))
    assert totals[-1] < residual.residual_gain_limit(sigma_w) == pytest.approx(math.exp(sigma_w ** 2))
    assert totals[-1] == pytest.approx(math.exp(sigma_w ** 2), rel=1e-5)
    assert residual.residual_backward_gains(1.0, sigma_w, 64)[0] == pytest.approx((1 + sigma_w ** 2) ** 64)
