"""Dropout: the mask's statistics and scale, the gradient mask / (1 - p) (a constant factor of the
graph), identity in eval mode, p = 0 and p = 1 as PyTorch, and reproducibility from a seed."""
import numpy as np
import pytest

from tinygrad_vg import Tensor, gradcheck, nn


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest_by_one_over_one_minus_p(p):
    n = 200_000
    x = np.random.default_rng(0).uniform(1.0, 2.0, size=n)          # no zeros of its own
    y = nn.Dropout(p, rng=1)(Tensor(x)).data
    kept = y != 0
    # the dropped fraction is binomial: within 5 standard deviations of p
    assert abs((1 - kept.mean()) - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-15)
    # so the mean survives: E[y] = x (here within 5 standard deviations of the sample mean)
    ratio = y / x
    assert abs(ratio.mean() - 1) < 5 * ratio.std() / np.sqrt(n)


def test_dropout_draws_a_fresh_mask_each_call_and_a_seed_reproduces_the_sequence():
    x = Tensor(np.ones((50, 40)))
    first, second = nn.Dropout(0.5, rng=7), nn.Dropout(0.5, rng=7)
    masks = [first(x).data for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1])
    for mask in masks:
        np.testing.assert_array_equal(second(x).data, mask)
    generator = np.random.default_rng(7)
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=generator)(x).data, masks[0])   # a Generator is used as is
    assert not np.array_equal(nn.Dropout(0.5, rng=8)(x).data, masks[0])


def test_dropout_gradient_is_the_mask_over_one_minus_p():
    p = 0.3
    x = Tensor(np.random.default_rng(0).uniform(1.0, 2.0, size=(20, 30)), requires_grad=True)
    cotangent = np.random.default_rng(1).normal(size=x.shape)
    y = nn.Dropout(p, rng=2)(x)
    (y * cotangent).sum().backward()
    mask = (y.data != 0) / (1 - p)
    assert 0 < (mask == 0).mean() < 1
    np.testing.assert_array_equal(x.grad, cotangent * mask)
    np.testing.assert_array_equal(y.data, x.data * mask)
    assert y.inputs[0] is x and not y.inputs[1].requires_grad        # the mask is a constant of the graph


def test_dropout_with_a_fixed_mask_passes_gradcheck():
    """A module made afresh from the same seed at every call draws the same mask each time."""
    x = np.random.default_rng(0).normal(size=(4, 5))
    report = gradcheck(lambda x: (nn.Dropout(0.4, rng=3)(x) * x).sum(), [x])
    assert report, report


def test_dropout_in_eval_mode_returns_its_input_itself():
    dropout = nn.Dropout(0.9, rng=0).eval()
    x = Tensor(np.ones(5), requires_grad=True)
    assert dropout(x) is x and not dropout.training
    assert dropout.train()(x) is not x


def test_dropout_of_p_0_passes_x_and_of_p_1_gives_zeros_with_zero_gradient_as_pytorch():
    x = Tensor(np.array([1.5, -2.0, 3.0]), requires_grad=True)
    assert nn.Dropout(0.0)(x) is x
    y = nn.Dropout(1.0)(x)
    np.testing.assert_array_equal(y.data, np.zeros(3))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(3))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_outside_0_to_1_is_a_value_error(p):
    with pytest.raises(ValueError, match=f"Dropout: probability has to be between 0 and 1, but got {p}"):
        nn.Dropout(p)


def test_dropout_keeps_float32_float32_and_names_p_in_its_repr():
    x = Tensor(np.ones(8, dtype=np.float32))
    assert nn.Dropout(0.25, rng=0)(x).dtype == np.float32
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"
