"""Every op's forward against numpy and its vjp against central differences (gradcheck).

Values are kept away from kinks and poles: relu and abs inputs, division and log/sqrt bases at
least 0.25 from 0, max/maximum operands at least 1/8 apart. gradcheck's step is 1e-6, so no
difference quotient straddles a kink, and its tolerances (1e-5 of the Jacobian's scale plus 1e-3
of the entry) sit five orders of magnitude above the ~1e-10 error of central differences here.
"""
import itertools
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_vg as tg
from tinygrad_vg import Tensor, gradcheck, ops

smooth = st.floats(-2, 2)
positive = st.floats(0.25, 2)
away_from_zero = st.floats(0.25, 2) | st.floats(-2, -0.25)
# a grid of eighths: two draws are equal or at least 1/8 apart; maximum's other operand sits on
# the grid shifted by 1/16, so it never ties with the first
eighths = st.integers(-16, 16).map(lambda k: k / 8)
shifted_eighths = eighths.map(lambda v: v + 1 / 16)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


def arrays(shape, elements=smooth, unique=False):
    return hnp.arrays(np.float64, shape, elements=elements, unique=unique)


def check(fn, *inputs, **options):
    report = gradcheck(fn, inputs, **options)
    assert report, report


def sigmoid_reference(x):
    return 1 / (1 + np.exp(-x))


UNARY = {
    "neg": (lambda x: -x, np.negative, smooth),
    "exp": (Tensor.exp, np.exp, smooth),
    "log": (Tensor.log, np.log, positive),
    "sqrt": (Tensor.sqrt, np.sqrt, positive),
    "tanh": (Tensor.tanh, np.tanh, smooth),
    "sigmoid": (Tensor.sigmoid, sigmoid_reference, smooth),
    "relu": (Tensor.relu, lambda x: np.maximum(x, 0), away_from_zero),
    "abs": (Tensor.abs, np.abs, away_from_zero),
}


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary(name, data):
    fn, reference, elements = UNARY[name]
    x = data.draw(arrays(shapes, elements))
    y = fn(Tensor(x, requires_grad=True))
    assert y.op.name == name and y.shape == x.shape
    np.testing.assert_allclose(y.data, reference(x), rtol=1e-12)
    check(fn, x)


# ---- the whole float64 range: no nan where the math has none, derivatives to a few ulps ----
# hypothesis' floats reach the huge, the tiny and the subnormal. The references are the textbook
# derivatives evaluated in long double (a wider exponent, 11 more bits) and rounded to float64, so
# they carry one rounding. Tolerances: `ulps` of float64 relative error for a derivative made of
# one to three correctly rounded operations; 2e-323 absolute for results in the subnormals (where
# a rounding is worth one subnormal step, not an ulp); and for tanh and sigmoid, whose vjp is
# built from their output y (1 - y^2, y (1 - y)), 2.3e-16 absolute: y is rounded to 1.1e-16 near
# 1, so 1 - y carries that much, which is why tanh'(20) comes out 0 and not 1.7e-17.
LONG_DOUBLE_IS_WIDER = np.finfo(np.longdouble).minexp < np.finfo(np.float64).minexp
needs_long_double = pytest.mark.skipif(not LONG_DOUBLE_IS_WIDER, reason="long double is float64 here")
finite = st.floats(allow_nan=False, allow_infinity=False)
finite_positive = st.floats(min_value=0, exclude_min=True, allow_infinity=False)
ULP = np.finfo(np.float64).eps
SUBNORMAL_ROUNDING = 2e-323

WHOLE_RANGE_UNARY = {  # name: (function, elements, derivative in long double, relative, absolute)
    "exp": (Tensor.exp, finite, np.exp, 4 * ULP, SUBNORMAL_ROUNDING),
    "log": (Tensor.log, finite_positive, lambda x: 1 / x, 2 * ULP, 0.0),
    "sqrt": (Tensor.sqrt, finite_positive | st.just(0.0), lambda x: 0.5 / np.sqrt(x), 3 * ULP, 0.0),
    "tanh": (Tensor.tanh, finite, lambda x: 1 / np.cosh(x) ** 2, 4 * ULP, 2 * ULP),
    "sigmoid": (Tensor.sigmoid, finite, lambda x: np.exp(-abs(x)) / (1 + np.exp(-abs(x))) ** 2, 4 * ULP, 2 * ULP),
    "relu": (Tensor.relu, finite, lambda x: (x > 0).astype(x.dtype), 0.0, 0.0),     # 0 at the kink
    "abs": (Tensor.abs, finite, np.sign, 0.0, 0.0),                                # 0 at the kink
}


@needs_long_double
@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # exp's overflow to inf, and 1/0 in the references
@pytest.mark.parametrize("name", WHOLE_RANGE_UNARY)
@given(data=st.data())
def test_unary_derivatives_over_the_whole_float64_range(name, data):
    fn, elements, derivative, relative, absolute = WHOLE_RANGE_UNARY[name]
    x = data.draw(arrays((6,), elements))
    t = Tensor(x, requires_grad=True)
    y = fn(t)
    y.sum().backward()
    assert not np.isnan(y.data).any() and not np.isnan(t.grad).any()
    reference = derivative(x.astype(np.longdouble)).astype(np.float64)
    np.testing.assert_allclose(t.grad, reference, rtol=relative, atol=absolute)


def test_stable_sigmoid_is_accurate_at_every_magnitude():
    x = np.array([-1e308, -745.0, -700.0, -40.0, -1e-300, 0.0, 1e-300, 40.0, 700.0, 1e308])
    reference = (1 / (1 + np.exp(-x.astype(np.longdouble)))).astype(np.float64)
    np.testing.assert_allclose(Tensor(x).sigmoid().data, reference, rtol=2 * ULP, atol=SUBNORMAL_ROUNDING)


@needs_long_double
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@given(a=arrays((6,), st.floats(1e-150, 1e150) | st.floats(-1e150, -1e-150)),
       b=arrays((6,), st.floats(1e-150, 1e150) | st.floats(-1e150, -1e-150)))
def test_division_derivatives_wherever_they_are_representable(a, b):
    # d(a/b)/db = -a/b^2 is representable for these magnitudes (1e-450 .. 1e450 is not: it rounds
    # to 0 or inf, as it should); b*b alone would overflow past |b| = 1.3e154
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    (x / y).sum().backward()
    wide_a, wide_b = a.astype(np.longdouble), b.astype(np.longdouble)
    np.testing.assert_allclose(x.grad, (1 / wide_b).astype(np.float64), rtol=ULP)
    np.testing.assert_allclose(y.grad, (-wide_a / wide_b ** 2).astype(np.float64), rtol=3 * ULP,
                               atol=SUBNORMAL_ROUNDING)


def test_the_derivative_of_a_huge_quotient_by_a_huge_divisor_does_not_overflow():
    a, b = Tensor([1e300], requires_grad=True), Tensor([1e160], requires_grad=True)
    (a / b).sum().backward()
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [1e-160, -1e-20], rtol=4 * ULP)


@needs_long_double
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@given(a=arrays((6,), st.floats(1e-100, 1e100)), b=arrays((6,), st.floats(-3, 3)))
def test_pow_derivatives_over_a_hundred_decades_of_base(a, b):
    # b a^(b-1) is computed as written: for bases below 1e-154 and exponents just below 0 it can
    # overflow where b times it would not (1e-300 ** -1.03 is inf, -0.03 times it is -3e307);
    # within 1e-100 .. 1e100 and |b| <= 3 it cannot
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    (x ** y).sum().backward()
    wide_a, wide_b = a.astype(np.longdouble), b.astype(np.longdouble)
    da = (wide_b * wide_a ** (wide_b - 1)).astype(np.float64)
    db = (wide_a ** wide_b * np.log(wide_a)).astype(np.float64)
    # b - 1 is rounded in float64, by up to half an ulp of 4 (4.4e-16), and a^(b-1) turns an error
    # d of its exponent into a relative error d |ln a| <= 4.4e-16 * 230: 460 ulps, plus pow's own
    np.testing.assert_allclose(x.grad, da, rtol=500 * ULP, atol=SUBNORMAL_ROUNDING)
    np.testing.assert_allclose(y.grad, db, rtol=4 * ULP, atol=SUBNORMAL_ROUNDING)


BINARY = {  # name: (function, numpy reference, elements of a, elements of b)
    "add": (lambda a, b: a + b, np.add, smooth, smooth),
    "sub": (lambda a, b: a - b, np.subtract, smooth, smooth),
    "mul": (lambda a, b: a * b, np.multiply, smooth, smooth),
    "div": (lambda a, b: a / b, np.divide, smooth, away_from_zero),
    "pow": (lambda a, b: a ** b, np.power, positive, smooth),
    "maximum": (tg.maximum, np.maximum, eighths, shifted_eighths),
}


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_with_broadcasting(name, data):
    fn, reference, a_elements, b_elements = BINARY[name]
    a_shape, b_shape = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=2)).input_shapes
    a, b = data.draw(arrays(a_shape, a_elements)), data.draw(arrays(b_shape, b_elements))
    y = fn(Tensor(a, requires_grad=True), Tensor(b, requires_grad=True))
    assert y.op.name == name
    np.testing.assert_allclose(y.data, reference(a, b), rtol=1e-12)
    check(fn, a, b)


TABLE_SHAPES = [(), (4,), (3, 4), (1, 4), (2, 1, 4)]


def where_with_fixed_mask(a, b):
    shape = np.broadcast_shapes(a.shape, b.shape)
    return tg.where(np.arange(int(np.prod(shape))).reshape(shape) % 3 == 0, a, b)


@pytest.mark.parametrize("name", [*BINARY, "where"])
@pytest.mark.parametrize("a_shape, b_shape", list(itertools.product(TABLE_SHAPES, TABLE_SHAPES)))
def test_every_broadcasting_pair(name, a_shape, b_shape):
    """Each pair of the shapes (), (4,), (3,4), (1,4), (2,1,4): gradients summed back to each shape."""
    rng = np.random.default_rng(zlib.crc32(f"{name} {a_shape} {b_shape}".encode()))
    a = rng.uniform(0.25, 2, a_shape) * rng.choice([-1, 1], a_shape) if name != "pow" else rng.uniform(0.25, 2, a_shape)
    b = rng.uniform(0.25, 2, b_shape) * rng.choice([-1, 1], b_shape)
    fn = where_with_fixed_mask if name == "where" else BINARY[name][0]
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = fn(x, y)
    assert out.shape == np.broadcast_shapes(a_shape, b_shape)
    out.backward(np.ones(out.shape))
    assert x.grad.shape == a_shape and y.grad.shape == b_shape
    check(fn, a, b)


def test_python_scalars_and_arrays_on_either_side():
    x = np.array([0.5, 1.5, 2.0])
    for fn in (lambda t: t + 2.0, lambda t: 2.0 + t, lambda t: t - 3, lambda t: 3 - t, lambda t: t * 2.5,
               lambda t: 2.5 * t, lambda t: t / 4.0, lambda t: 4.0 / t, lambda t: t ** 3, lambda t: t ** 0.5,
               lambda t: t ** -1.5, lambda t: 2.0 ** t, lambda t: np.array([1.0, 2.0, 3.0]) * t,
               lambda t: t @ np.array([1.0, -2.0, 0.5]), lambda t: np.eye(3) @ t):
        out = fn(Tensor(x, requires_grad=True))
        assert isinstance(out, Tensor) and out.requires_grad
        check(fn, x)


@given(data=st.data())
def test_pow_tensor_to_scalar_and_scalar_to_tensor(data):
    x = data.draw(arrays(shapes, away_from_zero))
    integer = data.draw(st.integers(-3, 3))
    check(lambda t: t ** integer, x)                       # any base away from 0, integer exponent
    exponent = data.draw(smooth)
    check(lambda t: t.abs() ** exponent, x)                 # real exponent, positive base
    base = data.draw(positive)
    check(lambda t: base ** t, x)


# d/da a^b and d/db a^b at base 0, as PyTorch defines them: a^0 = 1 is constant in a (also at 0),
# 0^b = 0 is constant in b for b > 0; where the limit is infinite it stays infinite
POW_AT_ZERO = [  # (a, b, d/da, d/db)
    (0.0, 0.0, 0.0, 0.0), (0.0, 2.0, 0.0, 0.0), (0.0, 1.0, 1.0, 0.0), (0.0, 0.5, np.inf, 0.0),
    (0.0, -1.0, -np.inf, -np.inf), (2.0, 0.0, 0.0, np.log(2.0)),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("a, b, da, db", POW_AT_ZERO)
def test_pow_gradients_at_base_and_exponent_zero_follow_pytorch(a, b, da, db):
    base, exponent = Tensor([a], requires_grad=True), Tensor([b], requires_grad=True)
    (base ** exponent).sum().backward()
    np.testing.assert_array_equal([base.grad[0], exponent.grad[0]], [da, db])


def test_a_learnable_exponent_over_relu_zeros_gets_a_finite_gradient():
    x, p = Tensor([-1.0, 0.0, 2.0]), Tensor(3.0, requires_grad=True)
    (x.relu() ** p).sum().backward()
    assert p.grad == 2.0 ** 3 * np.log(2.0)          # the zeros contribute 0, not nan


MATMUL_KINDS = ["1d@1d", "1d@2d", "2d@1d", "2d@2d", "batched", "1d@batched", "batched@1d"]


@pytest.mark.parametrize("kind", MATMUL_KINDS)
@given(data=st.data())
def test_matmul(kind, data):
    n, k, m = (data.draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=2)).input_shapes
    a_shape, b_shape = {
        "1d@1d": ((k,), (k,)), "1d@2d": ((k,), (k, m)), "2d@1d": ((n, k), (k,)), "2d@2d": ((n, k), (k, m)),
        "batched": (batch_a + (n, k), batch_b + (k, m)), "1d@batched": ((k,), batch_b + (k, m)),
        "batched@1d": (batch_a + (n, k), (k,))}[kind]
    a, b = data.draw(arrays(a_shape)), data.draw(arrays(b_shape))
    out = Tensor(a, requires_grad=True) @ Tensor(b, requires_grad=True)
    assert out.op.name == "matmul"
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-12, atol=1e-12)
    check(lambda a, b: a @ b, a, b)


@given(data=st.data())
def test_linear_is_matmul_then_add_bit_for_bit_in_one_node(data):
    """x (..., in) or (in,), w (out, in) or (in,), b absent, (out,), (1, out) or 0-d."""
    k, m = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    x_shape = data.draw(st.sampled_from([(k,), (2, k), (3, 2, k)]))
    w_shape = data.draw(st.sampled_from([(m, k), (k,)]))
    out_shape = (x_shape[:-1] + w_shape[:1]) if len(w_shape) == 2 else x_shape[:-1]
    b_shape = data.draw(st.sampled_from([None, (), out_shape[-1:], (1,) + out_shape[-1:]])) if out_shape else None
    if b_shape is not None and len(b_shape) > len(out_shape):
        b_shape = out_shape
    x, w = data.draw(arrays(x_shape)), data.draw(arrays(w_shape))
    inputs = (x, w) if b_shape is None else (x, w, data.draw(arrays(b_shape)))
    out = tg.nn.functional.linear(*[Tensor(a, requires_grad=True) for a in inputs])
    assert out.op.name == "linear" and len(out.inputs) == len(inputs)
    expected = x @ w.T if b_shape is None else x @ w.T + inputs[2]
    np.testing.assert_array_equal(out.data, expected)
    check(tg.nn.functional.linear, *inputs)


def test_linear_is_the_one_node_of_a_linear_layer_and_keeps_the_layer_dtype():
    layer = tg.nn.Linear(3, 2, dtype=np.float32, rng=0)
    y = layer(Tensor(np.ones((4, 3), dtype=np.float32)))
    assert (y.op.name, y.dtype, [t is p for t, p in zip(y.inputs[1:], (layer.weight, layer.bias))]) == \
        ("linear", np.float32, [True, True])
    promoted = tg.nn.functional.linear(np.ones((4, 3), np.float32), layer.weight, np.zeros(2))
    assert promoted.dtype == np.float64      # numpy's promotion, as for matmul then add


@pytest.mark.parametrize("shapes, pattern", [
    (((2, 3), (4, 2)), r"linear: input \(2, 3\) and weight \(4, 2\) do not fit"),
    (((), (4, 2)), r"linear: input \(\) and weight \(4, 2\) do not fit"),
    (((2, 3), (2, 4, 3)), r"linear: input \(2, 3\) and weight \(2, 4, 3\) do not fit"),
    (((2, 3), (4, 3), (2, 1, 4)), r"linear: bias \(2, 1, 4\) does not broadcast to the output's shape \(2, 4\)"),
    (((2, 3), (4, 3), (3,)), r"linear: .*\(2, 4\).*\(3,\).*inputs: \(2, 3\) float64, \(4, 3\) float64, \(3,\) float64"),
])
def test_linear_names_the_shapes_that_do_not_fit(shapes, pattern):
    with pytest.raises(ValueError, match=pattern):
        tg.nn.functional.linear(*[Tensor(np.ones(shape)) for shape in shapes])


def test_linear_backward_reads_the_input_and_weight_not_the_bias():
    x, w, b = (Tensor(np.ones(shape), requires_grad=True) for shape in [(2, 3), (4, 3), (4,)])
    y = tg.nn.functional.linear(x, w, b)
    with tg.no_grad():
        b -= 1.0                             # dL/dx and dL/dW do not depend on b
    y.sum().backward()
    np.testing.assert_array_equal(w.grad, np.full((4, 3), 2.0))
    y = tg.nn.functional.linear(x, w, b)
    with tg.no_grad():
        w -= 1.0
    with pytest.raises(RuntimeError, match=r"linear needs the values of its input 1 \(shape \(4, 3\)"):
        y.sum().backward()


@st.composite
def shape_and_axis(draw, values=smooth, unique=False):
    """An array, an axis (None, an int, or a tuple; negative ones too) and keepdims."""
    x = draw(arrays(nonempty_shapes, values, unique))
    ndim = x.ndim
    axis = draw(st.none() | st.integers(-ndim, ndim - 1)
                | st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                           unique_by=lambda a: a % ndim).map(tuple))
    return x, axis, draw(st.booleans())


@pytest.mark.parametrize("name", ["sum", "mean", "logsumexp"])
@given(case=shape_and_axis())
def test_smooth_reductions(name, case):
    x, axis, keepdims = case
    reduce = getattr(Tensor, name)
    reference = {"sum": np.sum, "mean": np.mean,
                 "logsumexp": lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))}[name]
    out = reduce(Tensor(x, requires_grad=True), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, reference(x, axis=axis, keepdims=keepdims), rtol=1e-12, atol=1e-12)
    check(lambda t: reduce(t, axis=axis, keepdims=keepdims), x)


@given(case=shape_and_axis(values=eighths, unique=True))
def test_max_without_ties(case):
    x, axis, keepdims = case
    out = Tensor(x, requires_grad=True).max(axis=axis, keepdims=keepdims)
    assert out.op.name == "max"
    np.testing.assert_array_equal(out.data, np.max(x, axis=axis, keepdims=keepdims))
    check(lambda t: t.max(axis=axis, keepdims=keepdims), x)


def test_reductions_of_a_scalar():
    for reduce in (Tensor.sum, Tensor.mean, Tensor.max, Tensor.logsumexp):
        check(reduce, np.array(0.7))


def test_ties_share_the_gradient_equally():
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0, 0.5, 0.5, 0])
    rows = Tensor([[5.0, 5.0, 5.0], [1.0, 2.0, 0.0]], requires_grad=True)
    rows.max(axis=1).backward(np.array([3.0, 1.0]))
    np.testing.assert_array_equal(rows.grad, [[1, 1, 1], [0, 1, 0]])
    a, b = Tensor([1.0, 2.0, 3.0], requires_grad=True), Tensor([1.0, 0.0, 3.0], requires_grad=True)
    tg.maximum(a, b).backward(np.ones(3))
    np.testing.assert_array_equal(a.grad, [0.5, 1, 0.5])
    np.testing.assert_array_equal(b.grad, [0.5, 0, 0.5])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_and_log_softmax(name, data):
    x = data.draw(arrays(nonempty_shapes))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    fn = lambda t: getattr(t, name)(axis=axis)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    softmax = shifted / shifted.sum(axis=axis, keepdims=True)
    out = fn(Tensor(x, requires_grad=True))
    np.testing.assert_allclose(out.data, softmax if name == "softmax" else np.log(softmax), rtol=1e-10, atol=1e-14)
    check(fn, x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("shift", [1e6, -1e6, 1e12])
@given(x=arrays(st.tuples(st.integers(1, 3), st.integers(1, 5)), st.floats(-30, 30)),
       weights=arrays((5,), st.floats(-2, 2)))
def test_softmax_of_shifted_logits_is_bit_for_bit_that_of_the_unshifted_ones(name, shift, x, weights, ):
    # softmax(x + s) = softmax(x). Adding s rounds x, so compare with the logits as rounded: both
    # subtract their max exactly (Sterbenz), and from there on compute the very same numbers
    shifted = x + shift
    rounded = shifted - shift
    grads = []
    for logits in (shifted, rounded):
        t = Tensor(logits, requires_grad=True)
        out = getattr(t, name)(axis=-1)
        (out * weights[:x.shape[1]] if name != "logsumexp" else out * weights[:x.shape[0]]).sum().backward()
        grads.append(t.grad)
    np.testing.assert_array_equal(grads[0], grads[1])


def test_softmax_at_logits_near_1e6_keeps_the_sign_of_a_1e_13_gradient():
    # written as exp(x - logsumexp(x)), the last entry came out -5.6e-13 instead of +5.6e-13
    logits, weights = np.array([0.0, 0.0, 0.0, 30.0]), Tensor([1.0, 2.0, 3.0, 4.0])
    grads = []
    for shift in (0.0, 1e6):
        x = Tensor(logits + shift, requires_grad=True)
        (x.softmax() * weights).sum().backward()
        grads.append(x.grad)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
    assert grads[1][3] > 0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_minus_inf_logits_get_probability_zero_and_gradient_zero():
    x = Tensor([-np.inf, 0.0, 0.0], requires_grad=True)
    lse = x.logsumexp()
    assert lse.item() == np.log(2.0)
    lse.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])
    y = Tensor([-np.inf, 0.0, 0.0], requires_grad=True)
    probabilities = y.softmax()
    np.testing.assert_array_equal(probabilities.data, [0.0, 0.5, 0.5])
    (probabilities * Tensor([1.0, 2.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, -0.5, 0.5])
    np.testing.assert_array_equal(Tensor([-np.inf, 0.0]).log_softmax().data, [-np.inf, 0.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_empty_arrays_reduce_as_numpy_does_and_backward_gives_empty_gradients():
    x = Tensor(np.zeros((3, 0)), requires_grad=True)
    total = x.sum(axis=1)
    np.testing.assert_array_equal(total.data, [0.0, 0.0, 0.0])
    total.sum().backward()
    assert x.grad.shape == (3, 0)
    assert np.isnan(x.mean(axis=1).data).all()                       # numpy: the mean of nothing is nan
    np.testing.assert_array_equal(x.logsumexp(axis=1).data, [-np.inf] * 3)   # log 0, as PyTorch
    with pytest.raises(ValueError, match="max: zero-size array"):
        x.max(axis=1)
    assert Tensor(np.zeros((0, 2))).softmax().shape == (0, 2)


@given(data=st.data())
def test_reshape(data):
    x = data.draw(arrays(shapes))
    target = data.draw(st.sampled_from([(x.size,), (1, x.size), (x.size, 1), x.shape[::-1], (-1,), (-1, 1)]))
    out = Tensor(x, requires_grad=True).reshape(target)
    assert out.op.name == "reshape"
    np.testing.assert_array_equal(out.data, x.reshape(target))
    check(lambda t: t.reshape(*target), x)


@given(data=st.data())
def test_transpose_and_T(data):
    x = data.draw(arrays(shapes))
    axes = tuple(data.draw(st.permutations(range(x.ndim))))
    # numpy also takes an axis counted from the end: -1 for the last
    axes = tuple(axis - x.ndim if data.draw(st.booleans()) else axis for axis in axes)
    np.testing.assert_array_equal(Tensor(x).transpose(axes).data, x.transpose(axes))
    np.testing.assert_array_equal(Tensor(x).T.data, x.T)
    np.testing.assert_array_equal(Tensor(x).transpose().data, x.transpose())
    check(lambda t: t.transpose(*axes), x)
    check(lambda t: t.T, x)


@given(data=st.data())
def test_broadcast_to(data):
    target = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=2, max_side=3))
    shape = data.draw(hnp.broadcastable_shapes(target, min_dims=0, max_dims=len(target), min_side=1))
    x = data.draw(arrays(shape))
    out = Tensor(x, requires_grad=True).broadcast_to(target)
    assert out.shape == target and out.op.name == "broadcast_to"
    check(lambda t: t.broadcast_to(target), x)


GETITEM_INDICES = [
    1, -1, (0, 2), (1, -1, 0), slice(1, 3), slice(None, None, -1), (slice(None), 1), (None, 0),
    (Ellipsis, 1), (0, Ellipsis, None), (slice(None), None, slice(1, 3)), [0, 2, 2],
    ([0, 1, 1], [3, 3, 0]), np.array([[0, 1], [2, 2]]), (slice(None), [1, 1, 3]), (Ellipsis, [0, 0]),
]


@pytest.mark.parametrize("index", GETITEM_INDICES, ids=repr)
def test_getitem(index):
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    out = Tensor(x, requires_grad=True)[index]
    assert out.op.name == "getitem"
    np.testing.assert_array_equal(out.data, x[index])
    check(lambda t: t[index], x)


@given(data=st.data())
def test_getitem_hypothesis_indices(data):
    x = data.draw(arrays(nonempty_shapes))
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True)
                      | hnp.integer_array_indices(x.shape))
    np.testing.assert_array_equal(Tensor(x)[index].data, x[index])
    check(lambda t: t[index], x)


def test_repeated_indices_accumulate():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x[[0, 0, 2, 0]] * Tensor([1.0, 10.0, 100.0, 1000.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1011.0, 0.0, 100.0])
    x.zero_grad()
    x[np.array([1, 1])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.0])


def test_a_boolean_mask_selects_and_its_gradient_lands_on_the_selected_elements():
    x = Tensor([1.0, -2.0, 3.0, -4.0], requires_grad=True)
    picked = x[x > 0]
    np.testing.assert_array_equal(picked.data, [1.0, 3.0])
    (picked * Tensor([10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [10.0, 0.0, 100.0, 0.0])


@pytest.mark.parametrize("index", [Tensor([True, False, True]), Tensor([0, 2]), (Tensor([0]), slice(None))],
                         ids=["mask tensor", "index tensor", "tensor in a tuple"])
def test_a_tensor_index_is_a_type_error_because_its_floats_cannot_tell_a_mask_from_positions(index):
    # Tensor([True, False, True]) holds 1., 0., 1.: read as positions it would pick x[1], x[0], x[1]
    with pytest.raises(TypeError, match="getitem: a Tensor index holds floats.*booleans mask.*integers pick"):
        Tensor(np.ones((3, 2)))[index]


@given(data=st.data())
def test_concatenate(data):
    base = data.draw(nonempty_shapes)
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = [data.draw(arrays(base[:axis % len(base)] + (n,) + base[axis % len(base) + 1:])) for n in sizes]
    out = tg.concatenate([Tensor(p, requires_grad=True) for p in parts], axis=axis)
    assert out.op.name == "concatenate"
    np.testing.assert_array_equal(out.data, np.concatenate(parts, axis=axis))
    check(lambda *ts: tg.concatenate(ts, axis=axis), *parts)


@given(data=st.data())
def test_stack(data):
    shape = data.draw(shapes)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    parts = [data.draw(arrays(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    np.testing.assert_array_equal(tg.stack([Tensor(p) for p in parts], axis=axis).data, np.stack(parts, axis=axis))
    check(lambda *ts: tg.stack(ts, axis=axis), *parts)


@given(data=st.data())
def test_where(data):
    a_shape, b_shape, mask_shape = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=2)).input_shapes
    a, b = data.draw(arrays(a_shape)), data.draw(arrays(b_shape))
    mask = data.draw(hnp.arrays(bool, mask_shape))
    out = tg.where(mask, Tensor(a, requires_grad=True), Tensor(b, requires_grad=True))
    assert out.op.name == "where"
    np.testing.assert_array_equal(out.data, np.where(mask, a, b))
    check(lambda a, b: tg.where(mask, a, b), a, b)


def test_unbroadcast_sums_leading_axes_then_size_one_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ops.unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(ops.unbroadcast(g, ()), g.sum())
    assert ops.unbroadcast(g, (2, 3, 4)) is g


# ---- random compositions: hypothesis writes small programs over a pool of nodes ----
SHAPE = (2, 3)
MASK = np.array([[True, False, True], [False, False, True]])
UNARY_STEPS = {   # each smooth everywhere and of bounded growth; shapes stay broadcastable to (2, 3)
    "tanh": Tensor.tanh, "sigmoid": Tensor.sigmoid, "neg": Tensor.__neg__,
    "exp_tanh": lambda x: x.tanh().exp(), "log1p_square": lambda x: (x * x + 1).log(),
    "hypot": lambda x: (x * x + 1).sqrt(), "sum0": lambda x: x.sum(axis=0, keepdims=True),
    "mean_last": lambda x: x.mean(axis=-1, keepdims=True), "lse": lambda x: x.logsumexp(axis=-1, keepdims=True),
    "softmax": lambda x: x.broadcast_to(SHAPE).softmax(), "log_softmax": lambda x: x.log_softmax(axis=0),
    "reshape": lambda x: x.reshape(-1).reshape(x.shape), "T.T": lambda x: x.T.T, "reverse": lambda x: x[..., ::-1],
}
BINARY_STEPS = {
    "add": Tensor.__add__, "sub": Tensor.__sub__, "mul": Tensor.__mul__,
    "div": lambda a, b: a / (b * b + 1), "pow": lambda a, b: (a * a + 1) ** b.tanh(),
    "where": lambda a, b: tg.where(MASK, a, b),
    "matmul": lambda a, b: a.broadcast_to(SHAPE) @ b.broadcast_to(SHAPE).T @ a.broadcast_to(SHAPE) * 0.25,
    "concat_slice": lambda a, b: tg.concatenate([a.broadcast_to(SHAPE), b.broadcast_to(SHAPE)])[1:3],
    "stack_sum": lambda a, b: tg.stack([a.broadcast_to(SHAPE), b.broadcast_to(SHAPE)], axis=-1).sum(axis=-1),
}
steps = st.lists(st.tuples(st.sampled_from(sorted(UNARY_STEPS) + sorted(BINARY_STEPS)),
                           st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=7)


def run_program(program, *inputs):
    """Replay the program; each step reads any earlier node (reuse and fan-out). Two outputs."""
    pool = list(inputs)
    for name, first, second in program:
        a, b = pool[first % len(pool)], pool[second % len(pool)]
        pool.append(UNARY_STEPS[name](a) if name in UNARY_STEPS else BINARY_STEPS[name](a, b))
    return pool[-1], pool[len(pool) // 2].sum()


# Inputs of natural scale: 0 or at least 1e-3 in size. A step like log(x * x + 1) at x = 2e-16 has
# the gradient 4e-16 but is computed to +-1e-16 (gradcheck's docstring): no central difference over
# a step of 1e-6 can see it.
natural = st.floats(-2, 2).filter(lambda v: v == 0 or abs(v) >= 1e-3)


@given(program=steps, a=arrays(SHAPE, natural), b=arrays((2, 1), natural), c=arrays((1, 3), natural))
def test_random_compositions(program, a, b, c):
    check(lambda *xs: run_program(program, *xs), a, b, c)
