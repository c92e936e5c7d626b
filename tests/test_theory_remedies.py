"""theory.remedies: Adam's first step and BatchNorm's mean-field gradient growth, against formulas
written out here, against their own Monte Carlo, and against chains built with the engine."""
import numpy as np
import pytest

from tinygrad_vg import Tensor, nn, optim
from tinygrad_vg.theory.remedies import (adam_first_step, batchnorm_gradient_growth,
                                         batchnorm_gradient_growth_monte_carlo)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)])
def test_adams_first_step_is_lr_g_over_abs_g_plus_eps_whatever_the_betas(betas):
    gradient = np.array([3.0, -1e-4, 1e-9, -1e-12, 0.0])
    p = Tensor(np.zeros(5), requires_grad=True)
    p.grad = gradient.copy()
    optim.Adam([p], lr=0.01, betas=betas, eps=1e-8).step()
    np.testing.assert_allclose(p.data, adam_first_step(gradient, lr=0.01, eps=1e-8), rtol=1e-12)
    # a gradient 1e4 times below eps moves its parameter 1e4 times less than lr
    assert abs(adam_first_step(1e-12, lr=0.01)) == pytest.approx(0.01 * 1e-4, rel=1e-3)


@pytest.mark.parametrize("batch", [4, 8, 32])
def test_a_linear_batchnorm_chain_grows_the_squared_gradient_by_b_minus_2_over_b_minus_3(batch):
    growth = batchnorm_gradient_growth(batch)
    assert growth.method == "exact" and growth.squared == (batch - 2) / (batch - 3)
    assert growth.per_layer == pytest.approx(np.sqrt((batch - 2) / (batch - 3)))


@pytest.mark.parametrize("batch", [8, 16])
def test_the_monte_carlo_maps_reproduce_the_exact_linear_rate(batch):
    # statistical error ~ 1/sqrt(samples) = 0.3% at 1e5 samples; 1% is three of those
    estimate = batchnorm_gradient_growth_monte_carlo(batch, "linear", samples=100_000)
    assert estimate.squared == pytest.approx((batch - 2) / (batch - 3), rel=0.01)


def test_relu_explodes_faster_than_tanh_and_both_slow_down_towards_pi_over_pi_minus_1_with_the_batch():
    relu = [batchnorm_gradient_growth(b, "relu", samples=20_000).squared for b in (8, 32)]
    tanh = [batchnorm_gradient_growth(b, "tanh", samples=20_000).squared for b in (8, 32)]
    assert relu[0] > relu[1] > np.pi / (np.pi - 1) > 1
    assert relu[1] > tanh[1] > 1 and tanh[0] > tanh[1]


def test_batches_below_4_are_refused():
    with pytest.raises(ValueError, match="at least 4"):
        batchnorm_gradient_growth(3)


def measured_batchnorm_gain(activation, batch, seed, depth=30, width=256):
    """Geometric-mean gain |dL/dh_(l-1)| / |dL/dh_l| over layers 10..L-1 of an engine chain with
    BatchNorm before each activation, under a fixed random read-out (dL/dh_L independent of h)."""
    rng = np.random.default_rng(seed)
    chain = nn.DeepChain(depth, width, activation=activation, init="normal", norm="batch", rng=rng)
    out, outputs = chain.forward_with_outputs(rng.standard_normal((batch, width)))
    (out * Tensor(rng.standard_normal(out.shape))).sum().backward()
    norms = np.array([np.linalg.norm(h.grad) for h in outputs])
    return np.exp(np.mean(np.log(norms[9:-1] / norms[10:])))


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh"])
def test_engine_chains_with_batchnorm_explode_at_the_mean_field_rate(activation):
    # at width 256 each layer's gain fluctuates by ~1/sqrt(256 * 8) = 2%; over 20 layers and 2
    # seeds the mean's spread is ~0.3%; finite width shifts it by ~1/width. 1.5% covers both.
    measured = np.mean([measured_batchnorm_gain(activation, 8, seed) for seed in range(2)])
    predicted = batchnorm_gradient_growth(8, activation, samples=50_000).per_layer
    assert measured == pytest.approx(predicted, rel=0.015)
    assert measured > 1.05
