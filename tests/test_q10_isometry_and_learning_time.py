"""q10 and theory.learning_dynamics: Saxe et al.'s solution against a numpy integration of its ODE and
a numpy gradient descent on the full matrices; the engine's Jacobian and training against both."""
import json
import math

import numpy as np
import pytest

from tinygrad_vg import chain_rule
from tinygrad_vg.examples import q10_isometry_and_learning_time as q10
from tinygrad_vg.nn import DeepChain, init
from tinygrad_vg.script import main
from tinygrad_vg.tensor import Tensor
from tinygrad_vg.theory import learning_dynamics as saxe


def runge_kutta_mode(s, u0, depth, tau, t_end, steps):
    """u(t) on a uniform grid for tau du/dt = L u^(2 - 2/L) (s - u), classical RK4."""
    def rate(u):
        return depth * u ** (2 - 2 / depth) * (s - u) / tau
    dt, u = t_end / steps, [u0]
    for _ in range(steps):
        k1 = rate(u[-1])
        k2 = rate(u[-1] + dt * k1 / 2)
        k3 = rate(u[-1] + dt * k2 / 2)
        u.append(u[-1] + dt / 6 * (k1 + 2 * k2 + 2 * k3 + rate(u[-1] + dt * k3)))
    return np.linspace(0, t_end, steps + 1), np.array(u)


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 12])
def test_learning_time_is_the_crossing_time_of_the_integrated_ode(depth):
    s, u0, tau = 2.5, 0.03, 7.0
    times, u = runge_kutta_mode(s, u0, depth, tau, t_end=40 * tau / depth / s / u0 ** (1 - 1 / depth), steps=40000)
    for fraction in (0.5, 0.9):
        k = int(np.argmax(u >= fraction * s))           # linear interpolation between grid points
        crossing = times[k - 1] + (fraction * s - u[k - 1]) / (u[k] - u[k - 1]) * (times[k] - times[k - 1])
        assert saxe.learning_time(s, u0, fraction * s, depth, tau) == pytest.approx(crossing, rel=1e-5)
    # and mode_strength inverts it: u at the grid's times, to the integrator's accuracy
    picks = slice(0, None, 4000)
    assert np.allclose(saxe.mode_strength(times[picks], s, u0, depth, tau), u[picks], rtol=1e-6, atol=1e-9)


def test_closed_forms_for_one_and_two_layers():
    s, u0, uf, tau = 3.0, 0.1, 2.7, 5.0
    assert saxe.learning_time(s, u0, uf, 1, tau) == pytest.approx(tau * math.log((s - u0) / (s - uf)), rel=1e-13)
    assert saxe.learning_time(s, u0, uf, 2, tau) == pytest.approx(tau / (2 * s) * math.log(uf * (s - u0) / (u0 * (s - uf))),
                                                                  rel=1e-13)


def test_deep_limit_is_the_limit_of_learning_time_at_lr_over_depth():
    s, u0, uf, tau_per_layer = 3.0, 1.0, 2.7, 15.0
    limit = saxe.deep_limit_learning_time(s, u0, uf, tau_per_layer)
    times = [saxe.learning_time(s, u0, uf, depth, depth * tau_per_layer) for depth in (10, 100, 1000, 10000)]
    gaps = np.abs(np.array(times) - limit)
    assert gaps[-1] < 1e-3 * limit and np.all(np.diff(gaps) < 0)      # converges, like 1/L
    # with a fixed per-layer scale, u0 = a^L, the time grows without bound
    small = [saxe.learning_time(s, 0.7 ** depth, uf, depth, depth * tau_per_layer) for depth in (4, 8, 16)]
    assert small[0] < small[1] < small[2] and small[2] > 10 * small[0]


def balanced_decoupled_weights(depth, width, scale, U, V, rng):
    """numpy, not the engine: W_l = scale R_l R_(l-1)^T with R_0 = V, R_L = U and random orthogonal R_l."""
    frames = [V] + [np.linalg.qr(rng.standard_normal((width, width)))[0] for _ in range(depth - 1)] + [U]
    return [scale * frames[l + 1] @ frames[l].T for l in range(depth)]


def test_gradient_descent_modes_is_full_matrix_gradient_descent_to_rounding():
    rng = np.random.default_rng(0)
    depth, width, lr, steps, scale = 4, 3, 0.02, 150, 0.8
    s = np.array([3.0, 2.0, 1.2])
    U, V = (np.linalg.qr(rng.standard_normal((width, width)))[0] for _ in range(2))
    target = U @ np.diag(s) @ V.T
    weights = balanced_decoupled_weights(depth, width, scale, U, V, rng)
    strengths = []
    for _ in range(steps + 1):
        products = [np.eye(width)]                          # products[l] = W_l ... W_1
        for w in weights:
            products.append(w @ products[-1])
        strengths.append(np.diag(U.T @ products[-1] @ V))
        error = 2 / width * (products[-1] - target)         # dLoss/dW_tot for mean((h_L - Y)^2), whitened x
        above = np.eye(width)
        for l in reversed(range(depth)):
            gradient = above.T @ error @ products[l].T
            above = above @ weights[l]
            weights[l] = weights[l] - lr * gradient
    predicted = saxe.gradient_descent_modes(s, scale ** depth, depth, saxe.time_constant(lr, width), steps)
    assert np.max(np.abs(np.array(strengths) - predicted)) < 1e-12
    assert predicted[-1, 0] > 0.99 * s[0]                   # the run went all the way


def test_largest_stable_lr_separates_convergence_from_divergence():
    s, depth, width = 3.0, 6, 4
    edge = saxe.largest_stable_lr(s, depth, width)
    for lr, converges in ((0.95 * edge, True), (1.05 * edge, False)):
        u = saxe.gradient_descent_modes([s], 1.0, depth, saxe.time_constant(lr, width), 3000)[-1, 0]
        assert (abs(u - s) < 1e-6) == converges


def test_engine_jacobian_by_one_backward_is_chain_rule_jacobian_and_the_numpy_product():
    rng = np.random.default_rng(1)
    chain = DeepChain(3, 5, activation="tanh", init="normal", sigma_w=1.3, sigma_b=0.2, rng=rng)
    x = rng.standard_normal((1, 5))
    by_backward = q10.jacobian(chain, x)
    leaf = Tensor(x, requires_grad=True)
    assert np.allclose(by_backward, chain_rule.jacobian(chain(leaf), leaf)[0, :, 0, :], rtol=1e-13, atol=1e-15)
    h, product = x[0], np.eye(5)
    for layer in chain.layers:
        z = layer.weight.data @ h + layer.bias.data
        h = np.tanh(z)
        product = ((1 - h ** 2)[:, None] * layer.weight.data) @ product
    assert np.allclose(by_backward, product, rtol=1e-12, atol=1e-15)


def test_decoupled_chain_multiplies_to_scale_to_the_L_times_u_v_transpose():
    rng = np.random.default_rng(2)
    U, V = (init.orthogonal_(np.empty((4, 4)), rng=rng) for _ in range(2))
    chain = q10.decoupled_chain(5, 4, 0.9, U, V, rng)
    total = np.eye(4)
    for w in chain.weights:
        assert np.allclose(w.data @ w.data.T, 0.81 * np.eye(4), atol=1e-13)     # every layer 0.9 x orthogonal
        total = w.data @ total
    assert np.allclose(total, 0.9 ** 5 * U @ V.T, atol=1e-13)


@pytest.fixture(scope="module")
def result():
    return q10.run(width=24, depths=[1, 6], nets=2, train_depths=[1, 3, 6], modes=[3.0, 2.0, 1.5])


def test_orthogonal_linear_chains_are_isometries_to_rounding_and_gaussian_ones_are_not(result):
    rows = {(r["activation"], r["weights"], r["depth"]): r for r in result["spectra"]}
    for depth in (1, 6):
        orthogonal = rows["linear", "orthogonal", depth]
        assert abs(orthogonal["largest"] - 1) < 1e-12 and abs(orthogonal["smallest"] - 1) < 1e-12
        assert orthogonal["variance"] < 1e-25
    gaussian = rows["linear", "gaussian", 6]
    assert gaussian["largest"] > 5 and gaussian["smallest"] < 1e-3
    # tanh at criticality: orthogonal weights keep the spectrum an order of magnitude tighter than Gaussian
    assert rows["tanh", "orthogonal", 6]["variance"] < 0.2 * rows["tanh", "gaussian", 6]["variance"]


def test_the_engine_learns_each_mode_on_the_exact_recursion_and_the_flow_predicts_its_time(result):
    for runs in result["learning"].values():
        for run in runs:
            assert run["largest_gd_difference"] < 1e-10
            for time in run["times"]:
                assert time["measured"] == time["gradient_descent"]
                # gradient descent vs its flow: a forward-Euler step of 1/tau = 2 lr / n, at most 1.5 steps here
                assert abs(time["measured"] - time["flow"]) < 1.5
    small = [run["times"][-1]["measured"] for run in result["learning"]["small"]]
    orthogonal = [run["times"][-1]["flow"] for run in result["learning"]["orthogonal"]]
    assert small[-1] > small[-2] and orthogonal == sorted(orthogonal, reverse=True)
    assert orthogonal[-1] > result["deep_limit_orthogonal"][-1]


def test_show_prints_and_help_states_the_short_answer(result, capsys):
    text = result.show()
    assert "(a) The eigenvalues" in text and "(b) Learning" in text and "L -> infinity" in text
    assert [panel["title"] for panel in result.figure()][0].startswith("variance of the eigenvalues")
    assert json.loads(result.to_json()).keys() == result.keys() and "</html>" in result.to_html()
    with pytest.raises(SystemExit) as done:
        main(q10, ["--help"])
    assert done.value.code == 0 and "Short answer" in capsys.readouterr().out


def test_a_mode_below_the_orthogonal_start_or_an_unstable_lr_is_a_usage_error(capsys):
    for argv in (["--modes", "0.5", "2", "--train-depths", "1"], ["--lr0", "1.0", "--train-depths", "1", "4"]):
        with pytest.raises(SystemExit) as done:
            main(q10, argv + ["--depths", "1", "--width", "4"])
        assert done.value.code == 2
    assert "--lr0 1.0" in capsys.readouterr().err
