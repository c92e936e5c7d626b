"""Initialisers: shapes, moments within statistical tolerance, orthogonality, scale * I, seeding.

Tolerances. For n independent draws with variance v and fourth central moment mu4, the sample mean
has standard error sqrt(v / n) and the sample variance sqrt((mu4 - v^2) / n) (to leading order in
1/n). We allow 5 standard errors: a correct initialiser fails with probability below 1e-6 (and the
seeds are fixed), while a wrong fan or gain (a factor of 2 or more in the variance) misses by
hundreds of standard errors at these sizes.
"""
import math

import numpy as np
import pytest

from tinygrad_vg import Tensor, nn
from tinygrad_vg.nn import init

SHAPE = (300, 200)          # fan_out 300, fan_in 200: different, so a swapped fan is caught


def empty(shape=SHAPE, dtype=np.float64):
    return Tensor(np.empty(shape, dtype=dtype), requires_grad=True)


def assert_moments(values, mean, var, mu4):
    values = np.asarray(values, dtype=np.float64).ravel()
    n = values.size
    assert abs(values.mean() - mean) <= 5 * math.sqrt(var / n), (values.mean(), mean)
    assert abs(values.var() - var) <= 5 * math.sqrt((mu4 - var ** 2) / n), (values.var(), var)


def assert_normal(values, mean, std):
    assert_moments(values, mean, std ** 2, 3 * std ** 4)


def assert_uniform(values, low, high):
    values = np.asarray(values)
    assert values.min() >= low and values.max() <= high
    width = high - low                       # U(low, high): variance w^2/12, fourth moment w^4/80
    assert_moments(values, (low + high) / 2, width ** 2 / 12, width ** 4 / 80)


def test_normal_and_uniform_and_constant():
    assert_normal(init.normal_(empty(), 1.5, 0.5, rng=0).data, 1.5, 0.5)
    assert_uniform(init.uniform_(empty(), -2.0, 1.0, rng=0).data, -2.0, 1.0)
    assert np.all(init.constant_(empty(), 0.25).data == 0.25)


def test_xavier_variances_use_both_fans():
    gain = 2.0
    bound = gain * math.sqrt(6 / (200 + 300))
    assert_uniform(init.xavier_uniform_(empty(), gain=gain, rng=1).data, -bound, bound)
    assert_normal(init.xavier_normal_(empty(), gain=gain, rng=2).data, 0.0, gain * math.sqrt(2 / 500))


def test_kaiming_variances_follow_gain_fan_and_mode():
    relu_std = math.sqrt(2 / 200)                 # gain sqrt(2), fan_in 200
    assert_normal(init.kaiming_normal_(empty(), nonlinearity="relu", rng=3).data, 0.0, relu_std)
    assert_normal(init.kaiming_normal_(empty(), mode="fan_out", nonlinearity="relu", rng=4).data,
                  0.0, math.sqrt(2 / 300))
    assert_normal(init.kaiming_normal_(empty(), nonlinearity="tanh", rng=5).data, 0.0, (5 / 3) / math.sqrt(200))
    bound = math.sqrt(3) * relu_std
    assert_uniform(init.kaiming_uniform_(empty(), nonlinearity="relu", rng=6).data, -bound, bound)
    # leaky_relu with a = sqrt(5): gain sqrt(2/6), so bound = sqrt(3) sqrt(1/3) / sqrt(fan_in) = 1/sqrt(fan_in)
    assert_uniform(init.kaiming_uniform_(empty(), a=math.sqrt(5), rng=7).data, -1 / math.sqrt(200), 1 / math.sqrt(200))


def test_fans_of_a_convolution_shaped_weight_include_the_receptive_field():
    assert init.fan_in_and_out(empty((8, 4, 3, 3))) == (36, 72)
    with pytest.raises(ValueError, match=r"2 or more dimensions, got shape \(5,\)"):
        init.xavier_uniform_(empty((5,)))


def test_calculate_gain_values_and_errors():
    assert init.calculate_gain("linear") == init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == 5 / 3 and init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_normal_(empty(), mode="fan_avg")


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8), (4, 2, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape):
    q = init.orthogonal_(empty(shape), gain=1.5, rng=0).data.reshape(shape[0], -1)
    gram = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
    np.testing.assert_allclose(gram, 1.5 ** 2 * np.eye(len(gram)), atol=1e-13)


def test_orthogonal_is_haar_distributed():
    """For Haar Q (n x n), Q[0, 0] is a coordinate of a uniform point on the sphere: mean 0, variance
    1/n. QR without the sign correction gives Q[0, 0] a mean near -0.5 (the routine makes R's diagonal
    negative). 2000 draws of 3 x 3: standard error sqrt(1/3/2000) = 0.013."""
    rng = np.random.default_rng(0)
    corner = np.array([init.orthogonal_(empty((3, 3)), rng=rng).data[0, 0] for _ in range(2000)])
    assert_moments(corner, 0.0, 1 / 3, 1 / 5)     # Q[0,0]^2 ~ Beta(1/2, 1): E[x^4] = 3/(n(n+2)) = 1/5


def test_identity_is_scale_times_i():
    np.testing.assert_array_equal(init.identity_(empty((4, 4)), scale=1.1).data, 1.1 * np.eye(4))
    np.testing.assert_array_equal(init.identity_(empty((2, 3)), scale=0.5).data, 0.5 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2-D"):
        init.identity_(empty((2, 2, 2)))


INITIALISERS = [
    lambda t, rng: init.normal_(t, 0.0, 1.0, rng=rng),
    lambda t, rng: init.uniform_(t, -1.0, 1.0, rng=rng),
    lambda t, rng: init.xavier_uniform_(t, rng=rng),
    lambda t, rng: init.xavier_normal_(t, rng=rng),
    lambda t, rng: init.kaiming_uniform_(t, rng=rng),
    lambda t, rng: init.kaiming_normal_(t, nonlinearity="relu", rng=rng),
    lambda t, rng: init.orthogonal_(t, rng=rng),
]


@pytest.mark.parametrize("initialise", INITIALISERS)
def test_random_initialisers_are_reproducible_in_place_and_keep_dtype(initialise):
    t = empty((5, 4), dtype=np.float32)
    array = t.data
    assert initialise(t, 42) is t and t.data is array and t.dtype == np.float32
    np.testing.assert_array_equal(initialise(empty((5, 4), np.float32), 42).data, array)
    assert not np.array_equal(initialise(empty((5, 4), np.float32), 43).data, array)
    rng = np.random.default_rng(7)                  # a generator moves on: two draws differ
    assert not np.array_equal(initialise(empty((5, 4)), rng).data, initialise(empty((5, 4)), rng).data)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
@pytest.mark.parametrize("initialise", INITIALISERS + [lambda t, rng: init.constant_(t, 1.0),
                                                       lambda t, rng: init.identity_(t, 2.0)],
                         ids=["normal", "uniform", "xavier_uniform", "xavier_normal", "kaiming_uniform",
                              "kaiming_normal", "orthogonal", "constant", "identity"])
def test_initialising_a_zero_element_tensor_is_a_no_op_as_in_pytorch(initialise, shape):
    t = empty(shape)
    assert initialise(t, 0) is t and t.shape == shape


def test_re_initialising_a_weight_after_the_forward_makes_backward_refuse():
    layer = nn.Linear(2, 2, rng=0)
    out = layer(Tensor(np.ones((1, 2)))).sum()
    init.constant_(layer.weight, 0.5)
    with pytest.raises(RuntimeError, match="modified in place"):
        out.backward()
