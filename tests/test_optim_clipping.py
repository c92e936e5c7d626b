"""Clipping by global norm and by value, and the global norm itself, at every scale."""
import math

import numpy as np
import pytest

from test_optim import parameters_with_grads
from tinygrad_vg.norms import global_norm
from tinygrad_vg.optim import clip_grad_norm_, clip_grad_value_, global_grad_norm


def test_clip_grad_norm_returns_the_norm_before_and_leaves_exactly_max_norm():
    params = parameters_with_grads([3.0, 0.0], [[4.0, 12.0]])   # global norm sqrt(9 + 16 + 144) = 13
    before = [p.grad for p in params]
    assert clip_grad_norm_(params, 6.5) == 13.0
    assert global_grad_norm(params) == pytest.approx(6.5, rel=1e-15)
    np.testing.assert_allclose(params[1].grad, [[2.0, 6.0]], rtol=1e-15)      # same direction, half
    assert params[0].grad is not before[0] and before[0][0] == 3.0            # new arrays, old untouched
    assert clip_grad_norm_(params, 100.0) == pytest.approx(6.5, rel=1e-15)    # below max: unchanged
    np.testing.assert_allclose(params[1].grad, [[2.0, 6.0]], rtol=1e-15)


@pytest.mark.parametrize("scale", [1e-200, 1e-30, 1.0, 1e30, 1e200])
def test_clip_grad_norm_is_exact_at_every_scale(scale):
    grads = np.random.default_rng(0).normal(size=(3, 5)) * scale
    params = parameters_with_grads(*grads)
    expected = scale * math.sqrt(float(np.sum((grads / scale) ** 2)))
    assert clip_grad_norm_(params, 0.5 * expected) == pytest.approx(expected, rel=1e-14)
    assert global_grad_norm(params) == pytest.approx(0.5 * expected, rel=1e-14)


def test_clip_grad_norm_leaves_non_finite_gradients_alone():
    params = parameters_with_grads([1.0, np.inf])
    assert clip_grad_norm_(params, 1.0) == math.inf
    assert params[0].grad[1] == np.inf


def test_clip_grad_value_clamps_each_element_into_new_arrays():
    params = parameters_with_grads([-3.0, 0.5, 2.0])
    before = params[0].grad
    clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(before, [-3.0, 0.5, 2.0])


def test_global_norm_of_float32_does_not_overflow_or_underflow():
    big = np.full(4, 1e30, dtype=np.float32)             # its square overflows float32
    assert global_norm([big]) == pytest.approx(2e30, rel=1e-6)
    assert global_norm([np.full(4, 1e-300)]) == pytest.approx(2e-300, rel=1e-14)   # square underflows float64
    assert global_norm([]) == 0.0 and math.isnan(global_norm([np.array([np.nan, 1.0])]))
