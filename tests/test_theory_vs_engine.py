"""Theory beside measurement on chains built with the engine: ReLU on both sides of its critical
point sigma_w = sqrt(2) (He et al. 2015), where the squared gradient norm changes by sigma_w^2 / 2
per layer (theory.backward_gains)."""
import numpy as np
import pytest

from tinygrad_vg import theory
from tinygrad_vg import Tensor
from tinygrad_vg.nn import DeepChain

DEPTH, WIDTH, BATCH, SEEDS = 20, 256, 16, 4


def measured_log_ratio(sigma_w, seed):
    """log(|dL/dh_1| / |dL/dh_L|) for one random ReLU chain. The loss is a fixed random readout,
    L = sum(h_L * r), so dL/dh_L = r does not depend on the forward pass: theory assumes the
    gradient is independent of the activations (an MSE loss makes dL/dh_L grow with h_L and line
    up with it, and the mask relu' then passes more than half of it)."""
    rng = np.random.default_rng(seed)
    chain = DeepChain(DEPTH, WIDTH, activation="relu", init="normal", sigma_w=sigma_w, sigma_b=0.0, rng=rng)
    x = rng.standard_normal((BATCH, WIDTH))
    out, outputs = chain.forward_with_outputs(x)
    (out * Tensor(rng.standard_normal((BATCH, WIDTH)))).sum().backward()
    return np.log(np.linalg.norm(outputs[0].grad) / np.linalg.norm(outputs[-1].grad))


@pytest.mark.parametrize("sigma_w", [1.2, 1.6])
def test_relu_chain_gradient_ratio_matches_he_on_both_sides_of_critical(sigma_w):
    gains = theory.backward_gains(sigma_w, 0.0, DEPTH, 1.0, activation="relu")
    predicted = np.log(theory.grad_norm_ratios(gains)[0])
    assert predicted == pytest.approx(0.5 * (DEPTH - 1) * np.log(sigma_w ** 2 / 2))
    measured = np.mean([measured_log_ratio(sigma_w, seed) for seed in range(SEEDS)])
    # Each layer's squared gain fluctuates by ~sqrt(2/WIDTH) = 0.09 (relative), so the log of the
    # 19-layer ratio has a spread of ~0.5 * sqrt(19) * 0.09 = 0.2 per chain and ~0.1 over 4 seeds:
    # 0.35 is 3.5 standard errors. The sides differ by 19 * 0.5 * log(1.6^2 / 1.2^2) = 5.5.
    assert abs(measured - predicted) < 0.35
    assert (measured > 0) == (sigma_w > np.sqrt(2))
