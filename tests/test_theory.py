"""theory against independent plain-numpy computations (never through the engine)."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from tinygrad_vg import theory

SIGMA_PAIRS = [(0.8, 0.1), (1.2, 0.3), (1.5, 0.5), (2.0, 0.0), (2.5, 1.0), (4.0, 0.3), (10.0, 1.0)]


# ---------- independent quadratures ----------

def hermite_expectation(f, q, degree=200):
    """E[f(sqrt(q) z)] by Gauss-Hermite: accurate to ~1e-14 for tanh only while q <= 1."""
    z, w = hermegauss(degree)
    return float(w @ f(math.sqrt(q) * z)) / math.sqrt(2 * math.pi)


def legendre_expectation(f, q):
    """E[f(u)], u ~ N(0, q), by 20-point Gauss-Legendre on panels of width <= 0.5 in u (a different
    rule in a different variable from theory's trapezoid in z); |u| <= 12 sqrt(q)."""
    nodes, weights = leggauss(20)
    edges = np.linspace(-12 * math.sqrt(q), 12 * math.sqrt(q), 2 * math.ceil(24 * math.sqrt(q)) + 1)
    centers, halves = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    u = (centers[:, None] + halves[:, None] * nodes[None, :]).ravel()
    w = (halves[:, None] * weights[None, :]).ravel()
    return float(w @ (f(u) * np.exp(-u * u / (2 * q)))) / math.sqrt(2 * math.pi * q)


def tanh_sq(u):
    return np.tanh(u) ** 2


def tanh_prime_sq(u):
    return (1 - np.tanh(u) ** 2) ** 2


@pytest.mark.parametrize("q", [1e-8, 1e-3, 0.3, 1.0])
def test_gaussian_expectation_matches_gauss_hermite_where_that_converges(q):
    for f in (tanh_sq, tanh_prime_sq):
        assert theory.gaussian_expectation(f, q) == pytest.approx(hermite_expectation(f, q), rel=1e-12, abs=1e-16)


@pytest.mark.parametrize("q", [0.5, 4.0, 16.0, 64.0, 400.0])
def test_gaussian_expectation_matches_composite_gauss_legendre(q):
    for f in (tanh_sq, tanh_prime_sq):
        assert theory.gaussian_expectation(f, q) == pytest.approx(legendre_expectation(f, q), rel=1e-11)


def test_second_moments_closed_forms():
    assert theory.second_moment(3.0, "linear") == 3.0
    assert theory.second_moment(3.0, "relu") == 1.5
    assert theory.derivative_second_moment(3.0, "relu") == 0.5
    # sigmoid(0) = 1/2 and sigmoid'(0) = 1/4: at q = 0 the expectation is the value at 0
    assert theory.second_moment(0.0, "sigmoid") == pytest.approx(0.25, rel=1e-15)
    assert theory.derivative_second_moment(0.0, "sigmoid") == pytest.approx(1 / 16, rel=1e-15)
    with pytest.raises(ValueError, match="theory: activation must be one of"):
        theory.second_moment(1.0, "gelu")


# ---------- mean field: q* and chi_1 ----------

def test_fixed_point_known_values():
    assert theory.tanh_fixed_point(1.0, 0.0) == 0.0
    assert theory.tanh_fixed_point(0.5, 0.0) == 0.0
    assert theory.tanh_chi1(1.0, 0.0) == 1.0            # the edge of chaos at sigma_b = 0
    assert theory.tanh_chi1(0.5, 0.0) == 0.25           # q* = 0, tanh'(0) = 1, chi_1 = sigma_w^2
    assert theory.tanh_fixed_point(1.0 + 1e-3, 0.0) > 0  # just past sigma_w = 1 a positive fixed point appears


@pytest.mark.parametrize("sigma_w, sigma_b", SIGMA_PAIRS)
def test_fixed_point_against_a_secant_solve_with_another_quadrature(sigma_w, sigma_b):
    # the root of V(q) - q by the secant method from the top of the bracket, with Gauss-Legendre
    # instead of theory's trapezoid and bisection
    def excess(q):
        return sigma_w ** 2 * legendre_expectation(tanh_sq, q) + sigma_b ** 2 - q
    a, b = sigma_w ** 2 + sigma_b ** 2, 0.9 * (sigma_w ** 2 + sigma_b ** 2)
    excess_a, excess_b = excess(a), excess(b)          # one quadrature per secant step
    for _ in range(100):
        if excess_b == excess_a:
            break
        a, b = b, b - excess_b * (b - a) / (excess_b - excess_a)
        excess_a, excess_b = excess_b, excess(b)
    assert theory.tanh_fixed_point(sigma_w, sigma_b) == pytest.approx(b, rel=1e-9, abs=1e-12)


@given(st.floats(0.2, 5.0), st.floats(0.0, 2.0))
def test_fixed_point_is_a_fixed_point(sigma_w, sigma_b):
    q_star = theory.tanh_fixed_point(sigma_w, sigma_b)
    assert sigma_b ** 2 <= q_star <= sigma_w ** 2 + sigma_b ** 2
    assert theory.length_map(q_star, sigma_w, sigma_b, "tanh") == pytest.approx(q_star, rel=1e-9, abs=1e-12)


def correlation_map_slope_at_one(sigma_w, sigma_b, q_star, eps=1e-4):
    """d/dc of c -> (sigma_w^2 E[tanh(u1) tanh(u2)] + sigma_b^2) / q* at c = 1 (Poole et al. 2016), with
    u1 = sqrt(q*) z1, u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2): a 2-D Gauss-Hermite integral and the
    second-order one-sided difference (3 C(1) - 4 C(1 - eps) + C(1 - 2 eps)) / (2 eps)."""
    z, w = hermegauss(120)
    z1, z2 = z[:, None], z[None, :]
    weights = w[:, None] * w[None, :] / (2 * math.pi)

    def correlation(c):
        u1 = math.sqrt(q_star) * z1
        u2 = math.sqrt(q_star) * (c * z1 + math.sqrt(1 - c * c) * z2)
        return (sigma_w ** 2 * float(np.sum(weights * np.tanh(u1) * np.tanh(u2))) + sigma_b ** 2) / q_star

    return (3 * correlation(1.0) - 4 * correlation(1 - eps) + correlation(1 - 2 * eps)) / (2 * eps)


@pytest.mark.parametrize("sigma_w, sigma_b", [(0.8, 0.1), (1.2, 0.3), (1.5, 0.5), (1.3, 0.0)])
def test_chi1_is_the_slope_of_the_correlation_map(sigma_w, sigma_b):
    # q* <= 1.3 here, where Gauss-Hermite is accurate to 1e-11; the difference formula's error is
    # O(eps^2) = 1e-8 plus rounding 1e-12 / eps = 1e-8, so 1e-6 is a safe and still sharp tolerance
    q_star = theory.tanh_fixed_point(sigma_w, sigma_b)
    assert theory.tanh_chi1(sigma_w, sigma_b) == pytest.approx(
        correlation_map_slope_at_one(sigma_w, sigma_b, q_star), abs=1e-6)


@pytest.mark.parametrize("sigma_w, sigma_b", [(1.0, 0.3), (2.5, 0.3)])   # chi_1 = 0.83 and 1.61
def test_chi1_against_many_tanh_chains(sigma_w, sigma_b):
    # 100 independent chains of width 64 and depth 8, inputs drawn at the fixed point, a random
    # cotangent independent of the weights.  Each chain's mean per-layer ratio ||g_{l-1}||^2/||g_l||^2
    # is one sample; the chains are independent, so the standard error comes from their spread.
    # We allow 5 standard errors plus chi_1 / width for the O(1/width) corrections to mean field.
    networks, width, batch, depth = 100, 64, 4, 8
    rng = np.random.default_rng(7)
    q_star = theory.tanh_fixed_point(sigma_w, sigma_b)
    x = np.tanh(math.sqrt(q_star) * rng.standard_normal((networks, batch, width)))
    weights, pre_activations = batched_chain("tanh", "normal", sigma_w, sigma_b, depth, x, rng)
    ratios = backward_ratios("tanh", weights, pre_activations, rng).mean(axis=0)
    chi1 = theory.tanh_chi1(sigma_w, sigma_b)
    standard_error = np.std(ratios, ddof=1) / math.sqrt(networks)
    assert abs(np.mean(ratios) - chi1) < 5 * standard_error + chi1 / width


@given(st.floats(0.0, 2.0))
@settings(max_examples=15)
def test_critical_sigma_w_separates_the_phases(sigma_b):
    critical = theory.tanh_critical_sigma_w(sigma_b)
    assert theory.tanh_chi1(critical, sigma_b) == pytest.approx(1.0, abs=1e-9)
    assert theory.tanh_chi1(0.97 * critical, sigma_b) < 1 < theory.tanh_chi1(1.03 * critical, sigma_b)


def test_critical_point_of_the_literature():
    # sigma_b^2 = 0.05 gives sigma_w^2 ~= 1.76, the critical point used in the mean-field papers
    assert theory.tanh_critical_sigma_w(math.sqrt(0.05)) ** 2 == pytest.approx(1.76, abs=0.005)


def test_gradient_depth_scale():
    assert theory.gradient_depth_scale(1.0) == math.inf
    for chi1 in (0.25, 0.9, 1.1, 3.0):
        xi = theory.gradient_depth_scale(chi1)
        assert math.exp(-1 / xi) == pytest.approx(chi1, rel=1e-14)   # chi_1^n = exp(-n / xi)
        assert (xi > 0) == (chi1 < 1)
    with pytest.raises(ValueError, match="gradient_depth_scale"):
        theory.gradient_depth_scale(0.0)


# ---------- variance propagation vs wide numpy chains ----------

def batched_chain(activation, init, sigma_w, sigma_b, depth, x, rng):
    """Independent hand-written chains at once: x (networks, batch, width) -> per layer W_l (networks,
    width, width) and z_l = h_{l-1} W_l^T + b_l (networks, batch, width), h_l = phi(z_l)."""
    networks, _, width = x.shape
    std = sigma_w / math.sqrt(width)
    weights, pre_activations, h = [], [], x
    for _ in range(depth):
        if init == "normal":
            w = rng.normal(0, std, (networks, width, width))
        else:
            bound = theory.uniform_bound(std ** 2)
            w = rng.uniform(-bound, bound, (networks, width, width))
        z = h @ w.transpose(0, 2, 1) + rng.normal(0, sigma_b, (networks, 1, width))
        weights.append(w)
        pre_activations.append(z)
        h = {"linear": z, "relu": np.maximum(z, 0), "tanh": np.tanh(z)}[activation]
    return weights, pre_activations


def backward_ratios(activation, weights, pre_activations, rng):
    """Per layer (top down, returned as rows l = 1..L) and network: ||dL/dh_{l-1}||^2 / ||dL/dh_l||^2 for
    a random cotangent at the top, through dL/dh_{l-1} = (dL/dh_l * phi'(z_l)) W_l."""
    g = rng.standard_normal(pre_activations[-1].shape)
    ratios = []
    for w, z in zip(reversed(weights), reversed(pre_activations)):
        derivative = {"linear": np.ones_like(z), "relu": (z > 0) * 1.0, "tanh": 1 - np.tanh(z) ** 2}[activation]
        below = (g * derivative) @ w
        ratios.append(np.sum(below ** 2, axis=(1, 2)) / np.sum(g ** 2, axis=(1, 2)))
        g = below
    return np.array(ratios[::-1])


CHAINS = [("linear", "normal", 1.1, 1.0), ("relu", "normal", math.sqrt(2), 1.0),
          ("relu", "uniform", 1.6, 0.0), ("tanh", "normal", 1.0, 0.5), ("tanh", "uniform", 2.0, 0.3)]


@pytest.mark.parametrize("activation, init, sigma_w, sigma_b", CHAINS)
def test_variance_and_gradient_maps_against_many_chains(activation, init, sigma_w, sigma_b):
    # 400 independent chains of width 32: each chain's mean(z_l^2) is one sample, so the standard
    # error of their average is measured from their spread (rows of one chain are correlated, so
    # their count would overstate the precision).  Linear and ReLU maps are exact in expectation at
    # any width: 5 standard errors.  tanh adds the O(1/width) mean-field correction, measured below
    # 0.3 q / width at widths 32..128 over 1500 chains: we allow q / width more.  Backward gains:
    # same rule, with gain / width for the gradient-independence assumption of ReLU and tanh.
    networks, width, batch, depth = 400, 32, 8, 5
    rng = np.random.default_rng(3)
    x = rng.standard_normal((networks, batch, width))
    weights, pre_activations = batched_chain(activation, init, sigma_w, sigma_b, depth, x, rng)
    input_second_moment = np.mean(x ** 2)
    mean_field = 1.0 / width if activation == "tanh" else 0.0
    predicted = theory.preactivation_second_moments(sigma_w, sigma_b, depth, input_second_moment, activation)
    for layer, z in enumerate(pre_activations, start=1):
        samples = np.mean(z ** 2, axis=(1, 2))
        standard_error = np.std(samples, ddof=1) / math.sqrt(networks)
        expected = predicted[layer - 1]
        assert abs(samples.mean() - expected) < 5 * standard_error + mean_field * expected, layer

    gains = theory.backward_gains(sigma_w, sigma_b, depth, input_second_moment, activation)
    independence = 0.0 if activation == "linear" else 1.0 / width
    for layer, samples in enumerate(backward_ratios(activation, weights, pre_activations, rng), start=1):
        standard_error = np.std(samples, ddof=1) / math.sqrt(networks)
        expected = gains[layer - 1]
        assert abs(samples.mean() - expected) < 5 * standard_error + independence * expected, layer


def test_relu_and_linear_gains_are_closed_form():
    assert np.allclose(theory.backward_gains(math.sqrt(2), 0.3, 5, 1.0, "relu"), 1.0, rtol=0, atol=1e-15)
    assert np.allclose(theory.backward_gains(0.9, 0.0, 5, 1.0, "linear"), 0.81, rtol=0, atol=1e-15)
    # He init keeps the ReLU second moment: q_l = 2 q_{l-1} / 2 + sigma_b^2
    q = theory.preactivation_second_moments(math.sqrt(2), 0.5, 4, 2.0, "relu")
    assert np.allclose(q, [4.25, 4.5, 4.75, 5.0], rtol=1e-15)


def test_tanh_backward_gains_reach_chi1_at_the_fixed_point():
    sigma_w, sigma_b = 1.5, 0.5
    gains = theory.backward_gains(sigma_w, sigma_b, 60, 1.0, "tanh")
    assert gains[-1] == pytest.approx(theory.tanh_chi1(sigma_w, sigma_b), rel=1e-9)


@given(st.lists(st.floats(0.1, 10.0), min_size=1, max_size=30))
def test_grad_norm_ratios_are_products_of_the_gains_above(gains):
    ratios = theory.grad_norm_ratios(gains)
    expected = [math.sqrt(math.prod(gains[layer:])) for layer in range(1, len(gains) + 1)]
    assert np.allclose(ratios, expected, rtol=1e-12)


def test_weight_variances_of_the_classic_inits():
    assert theory.weight_variance("xavier", 300, 100) == 2 / 400
    assert theory.weight_variance("he", 300, 100) == 2 / 300
    assert theory.weight_variance("lecun", 300, 100) == 1 / 300
    with pytest.raises(ValueError, match="weight_variance"):
        theory.weight_variance("orthogonal", 3, 3)
    # U(-a, a) has variance a^2 / 3: 10^6 draws give the variance to a relative sd of
    # sqrt(Var(w^2)) / (E w^2 sqrt(10^6)) = sqrt(4/5) / 1000 < 1e-3; we allow 5e-3
    samples = np.random.default_rng(0).uniform(-1, 1, 10 ** 6) * theory.uniform_bound(0.02)
    assert np.var(samples) == pytest.approx(0.02, rel=5e-3)


def test_residual_linear_branch_against_many_chains():
    # gain 1 + alpha^2 sigma_w^2 = 1.25 per block, exact in expectation at any width: 400 independent
    # chains of width 32, 5 standard errors of their average
    alpha, sigma_w, sigma_b, depth = 0.5, 1.0, 0.4, 5
    networks, batch, width = 400, 8, 32
    rng = np.random.default_rng(11)
    x = rng.standard_normal((networks, batch, width))
    predicted = theory.residual_second_moments(alpha, sigma_w, sigma_b, depth, np.mean(x ** 2))
    assert theory.residual_gain(alpha, sigma_w) == 1.25
    for layer in range(depth):
        w = rng.normal(0, sigma_w / math.sqrt(width), (networks, width, width))
        x = x + alpha * (x @ w.transpose(0, 2, 1) + rng.normal(0, sigma_b, (networks, 1, width)))
        samples = np.mean(x ** 2, axis=(1, 2))
        standard_error = np.std(samples, ddof=1) / math.sqrt(networks)
        assert abs(samples.mean() - predicted[layer]) < 5 * standard_error, layer


# ---------- the W = k I chain: exact ----------

def numpy_identity_chain(k, depth, x, target):
    """Hand-written forward/backward with real matrices W_l = k I, zero biases, and matmuls."""
    w = k * np.eye(x.shape[1])
    activations = [x]
    for _ in range(depth):
        activations.append(activations[-1] @ w.T)
    g = 2 * (activations[-1] - target) / x.size
    grads, weight_grads, bias_grads = [None] * depth, [None] * depth, [None] * depth
    for layer in range(depth, 0, -1):
        grads[layer - 1] = g
        weight_grads[layer - 1] = g.T @ activations[layer - 1]
        bias_grads[layer - 1] = g.sum(axis=0)
        g = g @ w
    loss = np.mean((activations[-1] - target) ** 2)
    return activations[1:], grads, weight_grads, bias_grads, loss


chain_cases = st.tuples(
    st.floats(-2.0, 2.0).filter(lambda k: abs(k) > 0.05), st.integers(1, 40),
    st.integers(1, 4), st.integers(1, 5), st.integers(0, 2 ** 32 - 1))


@given(chain_cases)
def test_identity_chain_matches_a_handwritten_chain(case):
    k, depth, batch, width, seed = case
    rng = np.random.default_rng(seed)
    x, target = rng.standard_normal((batch, width)), rng.standard_normal((batch, width))
    predicted = theory.identity_chain(k, depth, x, target)
    activations, grads, weight_grads, bias_grads, loss = numpy_identity_chain(k, depth, x, target)
    norm = np.linalg.norm
    assert np.allclose(predicted.activation_norms, [norm(h) for h in activations], rtol=1e-12, atol=0)
    assert np.allclose(predicted.grad_norms, [norm(g) for g in grads], rtol=1e-12, atol=0)
    # g^T h and sum_batch g add up batch terms that can cancel: their rounding is relative to the
    # terms (|g|^T |h|, sum_batch |g|), not to the sum, so that is the scale of these tolerances
    weight_terms = [norm(np.abs(g).T @ np.abs(h)) for g, h in zip(grads, [x] + activations[:-1])]
    bias_terms = [norm(np.abs(g).sum(axis=0)) for g in grads]
    assert np.all(np.abs(predicted.weight_grad_norms - [norm(g) for g in weight_grads])
                  <= 1e-12 * np.array(weight_terms))
    assert np.all(np.abs(predicted.bias_grad_norms - [norm(g) for g in bias_grads]) <= 1e-12 * np.array(bias_terms))
    assert predicted.loss == pytest.approx(loss, rel=1e-12)


@given(chain_cases, st.floats(1e-4, 1.0))
def test_identity_chain_sgd_step_matches_a_handwritten_step(case, lr):
    k, depth, batch, width, seed = case
    rng = np.random.default_rng(seed)
    x, target = rng.standard_normal((batch, width)), rng.standard_normal((batch, width))
    _, _, weight_grads, bias_grads, _ = numpy_identity_chain(k, depth, x, target)
    step = theory.identity_chain_sgd_step(k, depth, x, target, lr)
    expected_weights = k * np.eye(width) - lr * np.array(weight_grads)      # one row per layer
    expected_biases = -lr * np.array(bias_grads)
    # rounding relative to the largest entry: updates can cancel k on the diagonal
    assert np.allclose(step.weight[None], expected_weights, rtol=0, atol=1e-12 * np.abs(expected_weights).max())
    assert np.allclose(step.biases, expected_biases, rtol=0, atol=1e-12 * np.abs(expected_biases).max())


def test_identity_chain_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"identity_chain: .* \(2, 3\) and \(3, 2\)"):
        theory.identity_chain(1.1, 3, np.ones((2, 3)), np.ones((3, 2)))


# ---------- overflow ----------

def matmul_chain_in_dtype(k, depth, x, target, dtype, bias):
    """Reference for one pass in dtype with real matrices k I (as the engine stores them), zero biases,
    and the engine's loss sum(d * d) * (1/N): returns (phase, layer, kind) of the first non-finite
    value, or None."""
    w = (np.asarray(k, dtype) * np.eye(x.shape[1], dtype=dtype)).astype(dtype)
    b = np.zeros(x.shape[1], dtype=dtype)
    activations = [x.astype(dtype)]

    def kind(*arrays):
        if all(np.isfinite(a).all() for a in arrays):
            return None
        return "nan" if any(np.isnan(a).any() for a in arrays) else "inf"

    with np.errstate(all="ignore"):
        for layer in range(1, depth + 1):
            activations.append(activations[-1] @ w.T + b)
            if kind(activations[-1]):
                return "forward", layer, kind(activations[-1])
        d = activations[-1] - target.astype(dtype)
        loss = (d * d).sum() * np.asarray(1 / d.size, dtype)
        if kind(d * d, loss):
            return "loss", None, kind(d * d, loss)
        g = 2 * (d * np.asarray(1 / d.size, dtype))
        for layer in range(depth, 0, -1):
            produced = [g.T @ activations[layer - 1]] + ([g.sum(axis=0)] if bias else [])
            if layer > 1:
                g = g @ w
                produced.append(g)
            if kind(*produced):
                return "backward", layer, kind(*produced)
    return None


overflow_cases = st.tuples(
    st.sampled_from([np.float16, np.float32]), st.floats(1.5, 40.0), st.booleans(),
    st.integers(1, 3), st.integers(1, 4), st.integers(0, 2 ** 32 - 1), st.floats(-30.0, 30.0))


def random_input(dtype, batch, width, seed, log_scale):
    rng = np.random.default_rng(seed)
    scale = float(np.exp(np.clip(log_scale, np.log(np.finfo(dtype).tiny) / 2, np.log(np.finfo(dtype).max) / 2)))
    return (rng.standard_normal((batch, width)) * scale).astype(dtype)


@given(overflow_cases)
def test_overflow_layer_is_where_the_matmul_chain_overflows(case):
    dtype, magnitude, negative, batch, width, seed, log_scale = case
    k = -magnitude if negative else magnitude
    x = random_input(dtype, batch, width, seed, log_scale)
    assume(np.any(x))
    max_layers = 400
    reference = matmul_chain_in_dtype(k, max_layers, x, np.zeros_like(x), dtype, bias=False)
    expected = reference[1] if reference and reference[0] == "forward" else None
    assert theory.overflow_layer(k, x, dtype, max_layers) == expected


@given(overflow_cases, st.booleans(), st.integers(1, 60))
def test_first_nonfinite_matches_the_matmul_chain(case, bias, depth):
    dtype, magnitude, negative, batch, width, seed, log_scale = case
    k = -magnitude if negative else magnitude
    x = random_input(dtype, batch, width, seed, log_scale)
    target = random_input(dtype, batch, width, seed + 1, log_scale)
    expected = matmul_chain_in_dtype(k, depth, x, target, dtype, bias)
    found = theory.identity_chain_first_nonfinite(k, depth, x, target, dtype, bias=bias)
    assert (tuple(found) if found else None) == expected


@given(overflow_cases)
def test_overflow_depth_estimates_match_the_dtype_arithmetic(case):
    # The log formulas are real arithmetic; the dtype rounds k (done by the estimate too) and every
    # product (relative error <= eps/2 each).  We only judge boundaries where the exact value is
    # further than (2L + N + 4) eps from finfo.max, beyond what rounding can move.
    dtype, magnitude, negative, batch, width, seed, log_scale = case
    k = -magnitude if negative else magnitude
    x = random_input(dtype, batch, width, seed, log_scale)
    assume(np.any(x))
    zeros = np.zeros_like(x)
    estimate = theory.overflow_depth_estimates(k, x, dtype)
    k_exact, x_exact = abs(float(np.asarray(k, dtype))), x.astype(np.float64)
    limit, eps = float(np.finfo(dtype).max), float(np.finfo(dtype).eps)

    def clear_of_rounding(value_below, value_above, depth):
        slack = (2 * depth + x.size + 4) * eps
        return value_below < limit * (1 - slack) and value_above > limit * (1 + slack)

    def activation_value(depth):
        return k_exact ** depth * np.abs(x_exact).max()
    if clear_of_rounding(activation_value(estimate.activation - 1), activation_value(estimate.activation),
                         estimate.activation):
        assert theory.overflow_layer(k, x, dtype, estimate.activation) == estimate.activation
        assert theory.overflow_layer(k, x, dtype, estimate.activation - 1) is None

    def loss_value(depth):
        return k_exact ** (2 * depth) * np.sum(x_exact ** 2)
    if clear_of_rounding(loss_value(estimate.loss - 1), loss_value(estimate.loss), estimate.loss):
        assert estimate.loss < estimate.activation
        assert theory.identity_chain_first_nonfinite(k, estimate.loss, x, zeros, dtype).phase == "loss"
        before = theory.identity_chain_first_nonfinite(k, estimate.loss - 1, x, zeros, dtype)
        assert before is None or before.phase == "backward"

    def gradient_value(depth):
        largest = max(np.abs(x_exact).max(), np.abs(x_exact.T @ x_exact).max())
        return 2 * k_exact ** (2 * depth - 1) * largest / x.size
    if estimate.gradient < estimate.loss and clear_of_rounding(
            gradient_value(estimate.gradient - 1), gradient_value(estimate.gradient), estimate.gradient):
        assert theory.identity_chain_first_nonfinite(k, estimate.gradient, x, zeros, dtype).phase == "backward"
        assert theory.identity_chain_first_nonfinite(k, estimate.gradient - 1, x, zeros, dtype) is None


def test_overflow_of_powers_of_two_in_float64():
    # 2^l is exact: activations reach 2^1024 > max at layer 1024; the loss 2^(2L) at L = 512, where
    # the gradient 2 * 2^(2L-1) also reaches 2^1024 but the loss comes first
    x, zeros = np.ones((1, 1)), np.zeros((1, 1))
    assert theory.overflow_layer(2.0, x, np.float64, 2000) == 1024
    assert theory.overflow_depth_estimates(2.0, x, np.float64) == (1024, 512, 512)
    assert theory.identity_chain_first_nonfinite(2.0, 511, x, zeros, np.float64) is None
    assert theory.identity_chain_first_nonfinite(2.0, 512, x, zeros, np.float64) == ("loss", None, "inf")
    assert theory.overflow_depth_estimates(0.9, x, np.float64) == (None, None, None)
    assert theory.overflow_layer(0.9, x, np.float64, 2000) is None


def test_gradient_overflows_before_the_loss_for_a_single_unit():
    # N = 1, x = 1, k = 1.1 in float32, where values overflow at 2^128 (log2 k = 0.1375035):
    # activations need L >= 128 / 0.1375035 = 930.88, so 931; the loss k^(2L) needs 2L >= 930.88,
    # so 466; layer L's weight gradient 2 k^(2L-1) needs 2L - 1 >= 127 / 0.1375035 = 923.61, so
    # L = 463, three layers before the loss, and the top layer produces it first in the backward pass
    x, zeros = np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32)
    assert theory.overflow_depth_estimates(1.1, x, np.float32) == (931, 466, 463)
    assert theory.identity_chain_first_nonfinite(1.1, 462, x, zeros, np.float32) is None
    assert theory.identity_chain_first_nonfinite(1.1, 463, x, zeros, np.float32) == ("backward", 463, "inf")


# ---------- RNN ----------

def test_spectral_radius_and_largest_singular_value_of_known_matrices():
    angle, radius = 0.7, 0.9
    rotation = radius * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    assert theory.spectral_radius(rotation) == pytest.approx(0.9, rel=1e-14)
    shear = np.array([[0.5, 10.0], [0.0, 0.5]])          # rho = 0.5 but one step stretches by ~10
    assert theory.spectral_radius(shear) == pytest.approx(0.5, rel=1e-14)
    assert theory.largest_singular_value(shear) == pytest.approx(np.sqrt(np.linalg.eigvalsh(shear.T @ shear).max()))
    norms = theory.linear_rnn_gradient_norms(shear, 200)
    assert norms[1] > 10 and norms[200] < 1e-50              # transient growth, then rho^s decay
    assert norms[200] ** (1 / 200) == pytest.approx(0.5, rel=0.05)   # Gelfand: (200 * 20)^(1/200) = 1.04


@given(st.integers(1, 6), st.integers(0, 2 ** 32 - 1))
def test_linear_rnn_norms_are_rho_powers_for_symmetric_matrices(n, seed):
    a = np.random.default_rng(seed).standard_normal((n, n))
    symmetric = (a + a.T) / (2 * math.sqrt(n))
    rho = theory.spectral_radius(symmetric)
    norms = theory.linear_rnn_gradient_norms(symmetric, 30)
    assert np.allclose(norms, rho ** np.arange(31), rtol=1e-10, atol=1e-300)
    assert np.allclose(norms, [np.linalg.norm(np.linalg.matrix_power(symmetric, s), 2) for s in range(31)], rtol=1e-10)


@given(st.floats(0.3, 2.0), st.integers(0, 2 ** 32 - 1))
@settings(max_examples=20)
def test_rnn_bound_holds_for_a_tanh_rnn(scale, seed):
    # dh_T/dh_t = prod diag(1 - h_s^2) W (column convention), computed step by step
    rng = np.random.default_rng(seed)
    n, steps = 6, 25
    w = rng.normal(0, scale / math.sqrt(n), (n, n))
    u = rng.standard_normal((n, 3))
    h, jacobian, norms = np.zeros(n), np.eye(n), [1.0]
    for _ in range(steps):
        h = np.tanh(w @ h + u @ rng.standard_normal(3))
        jacobian = (1 - h ** 2)[:, None] * w @ jacobian
        norms.append(np.linalg.norm(jacobian, 2))
    bound = theory.rnn_gradient_bound(w, steps)
    assert np.all(np.array(norms) <= bound * (1 + 1e-12))


def test_gaussian_recurrent_matrix_rho_and_sigma_max():
    # entries N(0, s^2/n): rho -> s (circular law), sigma_max -> 2 s; at n = 120 measured within
    # 11% and 4% over 20 seeds (edge fluctuations shrink like n^(-1/2) and n^(-2/3)); we allow 15%, 6%
    s, n = 0.8, 120
    w = np.random.default_rng(5).normal(0, s / math.sqrt(n), (n, n))
    assert theory.spectral_radius(w) == pytest.approx(s, rel=0.15)
    assert theory.largest_singular_value(w) == pytest.approx(2 * s, rel=0.06)
    assert theory.rnn_gradient_bound(w, 3)[3] == pytest.approx(theory.largest_singular_value(w) ** 3, rel=1e-14)


def test_the_saturated_rnn_estimate_is_radius_to_the_s_times_the_last_s_rms_derivatives():
    ratios = theory.saturated_rnn_gradient_ratios(0.9, [0.5, 0.25, 0.8])      # rms phi'(a_1), (a_2), (a_3)
    np.testing.assert_allclose(ratios, [1.0, 0.9 * 0.8, 0.81 * 0.8 * 0.25, 0.729 * 0.8 * 0.25 * 0.5], rtol=1e-15)
    assert theory.saturated_rnn_gradient_ratios(1.1, [1.0] * 20000)[-1] == np.inf     # no warning, no error


def test_identity_chain_takes_an_integer_k_as_the_same_float():
    rng = np.random.default_rng(0)
    x, target = rng.standard_normal((2, 3, 4))
    as_int, as_float = theory.identity_chain(4, 80, x, target), theory.identity_chain(4.0, 80, x, target)
    assert np.array_equal(as_int.activation_norms, as_float.activation_norms) and as_int.activation_norms[-1] > 1e47
