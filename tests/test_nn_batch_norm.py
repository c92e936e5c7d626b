"""BatchNorm1d: the batch statistics and the running estimates written out in numpy, gradcheck
(float64) through the batch mean and variance and in evaluation mode, PyTorch's refusals, and
torch.nn.BatchNorm1d step by step as an oracle when torch is installed."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import extras
from test_nn import gradcheck_module
from tinygrad_vg import Tensor, gradcheck, nn

EPS = 1e-5


def batch(shape, seed):
    """Values with a spread in every channel (a channel of equal values is BatchNorm's pole)."""
    return np.random.default_rng(seed).normal(2.0, 3.0, size=shape)


def with_random_affine(norm, seed):
    rng = np.random.default_rng(seed)
    norm.weight = Tensor(rng.normal(size=norm.num_features), requires_grad=True)
    norm.bias = Tensor(rng.normal(size=norm.num_features), requires_grad=True)
    return norm


def channel_view(v, ndim):
    """A per-channel vector (C,) shaped to broadcast against (N, C) or (N, C, L)."""
    return v if ndim == 2 else v[:, None]


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_training_mode_normalises_each_channel_by_its_batch_mean_and_biased_variance(shape):
    norm = with_random_affine(nn.BatchNorm1d(3), seed=1)
    x = batch(shape, seed=0)
    axes = (0,) if x.ndim == 2 else (0, 2)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    w, b = (channel_view(t.data, x.ndim) for t in (norm.weight, norm.bias))
    np.testing.assert_allclose(norm(Tensor(x)).data, (x - mean) / np.sqrt(var + EPS) * w + b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4)])
def test_training_mode_passes_gradcheck_through_the_batch_mean_and_variance(shape):
    norm = with_random_affine(nn.BatchNorm1d(shape[1]), seed=2)
    cotangent = np.random.default_rng(3).normal(size=shape)     # sum(y) alone has gradient 0 w.r.t. x
    report = gradcheck_module(norm, [batch(shape, seed=4)], ["weight", "bias"], lambda y: (y * cotangent).sum())
    assert report, report


@given(n=st.integers(2, 6), channels=st.integers(1, 4), length=st.sampled_from([None, 1, 3]),
       seed=st.integers(0, 2**32 - 1))
def test_training_mode_gradient_w_r_t_the_input_matches_central_differences_at_any_shape(n, channels, length, seed):
    shape = (n, channels) if length is None else (n, channels, length)
    norm = with_random_affine(nn.BatchNorm1d(channels), seed=seed)
    cotangent = np.random.default_rng(seed + 1).normal(size=shape)
    report = gradcheck(lambda x: (norm(x) * cotangent).sum(), [batch(shape, seed)])
    assert report, report


def test_gradcheck_fails_when_the_batch_statistics_are_treated_as_constants():
    """The check above can fail: normalising by the statistics' values alone (no path through them)
    is the 'eval-style' gradient, wrong in training mode."""
    x = batch((5, 3), seed=5)
    cotangent = np.random.default_rng(6).normal(size=x.shape)

    def constant_statistics(x):
        mean, var = x.data.mean(axis=0), x.data.var(axis=0)
        return ((x - mean) / np.sqrt(var + EPS) * cotangent).sum()

    batch_norm = (nn.BatchNorm1d(3)(Tensor(x)) * cotangent).sum()
    np.testing.assert_allclose(constant_statistics(Tensor(x)).data, batch_norm.data, rtol=1e-13)
    assert not gradcheck(constant_statistics, [x])


def trained(norm, batches):
    for x in batches:
        norm(Tensor(x))
    return norm


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_eval_mode_applies_the_running_statistics_and_passes_gradcheck(shape):
    norm = with_random_affine(trained(nn.BatchNorm1d(3), [batch(shape, seed) for seed in range(3)]), seed=7).eval()
    running_mean, running_var = norm.running_mean.data.copy(), norm.running_var.data.copy()
    x = batch(shape, seed=8)
    mean, var, w, b = (channel_view(v, x.ndim) for v in (running_mean, running_var, norm.weight.data, norm.bias.data))
    np.testing.assert_allclose(norm(Tensor(x)).data, (x - mean) / np.sqrt(var + EPS) * w + b, rtol=1e-13, atol=1e-14)
    cotangent = np.random.default_rng(9).normal(size=shape)
    report = gradcheck_module(norm, [x], ["weight", "bias"], lambda y: (y * cotangent).sum())
    assert report, report
    # eval mode is an affine map per channel: dy/dx = weight / sqrt(running_var + eps), whatever the batch
    leaf = Tensor(x, requires_grad=True)
    norm(leaf).sum().backward()
    np.testing.assert_allclose(leaf.grad, np.broadcast_to(w / np.sqrt(var + EPS), shape), rtol=1e-14)
    np.testing.assert_array_equal(running_mean, norm.running_mean.data)       # eval mode updates nothing
    np.testing.assert_array_equal(running_var, norm.running_var.data)


def independent_running_statistics(batches, momentum, axes):
    """The running estimates written out: start at mean 0, variance 1; per batch, the factor f is the
    momentum, or 1/k at the k-th batch when momentum is None, and the variance is unbiased (ddof=1)."""
    mean, var = np.zeros(3), np.ones(3)
    for k, x in enumerate(batches, start=1):
        f = 1 / k if momentum is None else momentum
        mean = (1 - f) * mean + f * x.mean(axis=axes)
        var = (1 - f) * var + f * x.var(axis=axes, ddof=1)
    return mean, var


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_running_statistics_follow_the_momentum_formula_with_the_unbiased_variance(momentum, shape):
    batches = [batch(shape, seed) * (1 + seed) for seed in range(4)]
    norm = trained(nn.BatchNorm1d(3, momentum=momentum), batches)
    mean, var = independent_running_statistics(batches, momentum, (0,) if len(shape) == 2 else (0, 2))
    np.testing.assert_allclose(norm.running_mean.data, mean, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(norm.running_var.data, var, rtol=1e-14)
    assert norm.num_batches_tracked == 4


def test_momentum_none_makes_the_running_statistics_the_plain_average_of_the_batches():
    batches = [batch((5, 3), seed) for seed in range(3)]
    norm = trained(nn.BatchNorm1d(3, momentum=None), batches)
    np.testing.assert_allclose(norm.running_mean.data, np.mean([x.mean(axis=0) for x in batches], axis=0), rtol=1e-14)
    np.testing.assert_allclose(norm.running_var.data, np.mean([x.var(axis=0, ddof=1) for x in batches], axis=0),
                               rtol=1e-14)


def test_running_statistics_are_buffers_updated_in_place_without_a_graph():
    norm = nn.BatchNorm1d(3)
    running_mean = norm.running_mean
    assert [name for name, _ in norm.named_parameters()] == ["weight", "bias"]
    assert [name for name, _ in norm.named_buffers()] == ["running_mean", "running_var"]
    x = Tensor(batch((4, 3), seed=0), requires_grad=True)
    y = norm(x)
    assert norm.running_mean is running_mean and running_mean.op is None and not running_mean.requires_grad
    np.testing.assert_allclose(running_mean.data, 0.1 * x.data.mean(axis=0), rtol=1e-15)
    (y * y).sum().backward()        # the update wrote nothing the graph had saved
    assert x.grad.shape == (4, 3) and norm.weight.grad.shape == (3,)
    chain = nn.Sequential(nn.Linear(3, 3, rng=0), norm)
    assert [name for name, _ in chain.named_buffers()] == ["1.running_mean", "1.running_var"]
    assert all(b is not p for b in chain.buffers() for p in chain.parameters())


def test_a_buffer_holds_only_a_tensor_that_does_not_require_grad():
    norm = nn.BatchNorm1d(2)
    norm.running_mean = Tensor([1.0, 2.0])
    assert norm.buffers()[0] is norm.running_mean
    with pytest.raises(TypeError, match="BatchNorm1d.running_var: a buffer is a Tensor that does not require grad"):
        norm.running_var = Tensor([1.0, 1.0], requires_grad=True)
    with pytest.raises(TypeError, match="got ndarray"):
        norm.running_var = np.ones(2)


def test_without_track_running_stats_both_modes_normalise_with_the_batch():
    norm = nn.BatchNorm1d(3, track_running_stats=False)
    assert norm.running_mean is None and norm.running_var is None and norm.num_batches_tracked is None
    assert norm.buffers() == []
    x = batch((5, 3), seed=0)
    in_training = norm(Tensor(x)).data
    np.testing.assert_array_equal(norm.eval()(Tensor(x)).data, in_training)
    np.testing.assert_allclose(in_training, (x - x.mean(0)) / np.sqrt(x.var(0) + EPS), rtol=1e-13)
    assert gradcheck(lambda x: (norm(x) * x).sum(), [x])


def test_switching_tracking_off_after_construction_uses_the_batch_and_freezes_the_estimates():
    """PyTorch's rule: the batch is used in training mode, the estimates (kept, not updated) in eval mode."""
    norm = nn.BatchNorm1d(3)
    norm.track_running_stats = False
    x = batch((5, 3), seed=0)
    np.testing.assert_allclose(norm(Tensor(x)).data, (x - x.mean(0)) / np.sqrt(x.var(0) + EPS), rtol=1e-13)
    assert norm.num_batches_tracked == 0 and not norm.running_mean.data.any()
    np.testing.assert_allclose(norm.eval()(Tensor(x)).data, x / np.sqrt(1 + EPS), rtol=1e-15)


def test_affine_false_has_no_parameters_and_outputs_the_normalised_batch():
    norm = nn.BatchNorm1d(3, affine=False)
    assert norm.parameters() == [] and norm.weight is None and norm.bias is None
    x = batch((4, 3), seed=1)
    np.testing.assert_allclose(norm(Tensor(x)).data, (x - x.mean(0)) / np.sqrt(x.var(0) + EPS), rtol=1e-13)


def test_one_value_per_channel_in_training_mode_is_the_error_pytorch_raises():
    norm = nn.BatchNorm1d(3)
    for shape in [(1, 3), (1, 3, 1)]:
        with pytest.raises(ValueError, match=r"expected more than 1 value per channel when training, "
                                             rf"got input of shape \({shape[0]}, 3"):
            norm(Tensor(np.ones(shape)))
    assert norm.num_batches_tracked == 0
    assert norm(Tensor(np.ones((1, 3, 2)))).shape == (1, 3, 2)        # n = N * L = 2 values per channel
    assert norm.eval()(Tensor(np.ones((1, 3)))).shape == (1, 3)          # the running statistics need no batch
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3, track_running_stats=False).eval()(Tensor(np.ones((1, 3))))


def test_wrong_input_shapes_are_clear_errors():
    norm = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 1D input of shape \(3,\)\)"):
        norm(Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        norm(Tensor(np.ones((2, 3, 2, 2))))
    with pytest.raises(ValueError, match=r"input of shape \(2, 4\) has 4 channels \(axis 1\), but num_features is 3"):
        norm(Tensor(np.ones((2, 4))))


def test_float32_data_and_a_float32_module_stay_float32():
    norm = nn.BatchNorm1d(3, dtype=np.float32)
    y = norm(Tensor(batch((4, 3), seed=0), dtype=np.float32))
    assert y.dtype == np.float32 and norm.running_var.dtype == np.float32 and norm.weight.dtype == np.float32


def test_repr_names_the_options_as_pytorch_does():
    assert repr(nn.BatchNorm1d(4, momentum=None, affine=False)) == (
        "BatchNorm1d(4, eps=1e-05, momentum=None, affine=False, track_running_stats=True)")


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_matches_torch_step_by_step_in_both_modes(momentum, shape):
    """Per batch: output, the gradients w.r.t. input, weight and bias (of a random-cotangent sum),
    and the running estimates; every third batch in eval mode. Differences are rounding (< 1e-14)."""
    torch = extras.require("torch")
    ours = with_random_affine(nn.BatchNorm1d(3, momentum=momentum), seed=0)
    theirs = torch.nn.BatchNorm1d(3, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    for step in range(6):
        training = step % 3 != 2
        ours.train(training), theirs.train(training)
        x, cotangent = batch(shape, seed=10 + step) * (step + 1), np.random.default_rng(step).normal(size=shape)
        ours.zero_grad(), theirs.zero_grad()
        x_ours, x_theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
        (y_ours * cotangent).sum().backward()
        (y_theirs * torch.from_numpy(cotangent)).sum().backward()
        pairs = [(y_ours.data, y_theirs), (x_ours.grad, x_theirs.grad), (ours.weight.grad, theirs.weight.grad),
                 (ours.bias.grad, theirs.bias.grad), (ours.running_mean.data, theirs.running_mean),
                 (ours.running_var.data, theirs.running_var)]
        for mine, oracle in pairs:
            oracle = oracle.detach().numpy()
            np.testing.assert_allclose(mine, oracle, rtol=1e-12, atol=1e-14 * np.abs(oracle).max())
        assert ours.num_batches_tracked == int(theirs.num_batches_tracked)
