"""Tensor: dtype rules, error messages, no_grad, backward's accumulation, reuse, depth and memory."""
import gc
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_vg as tg
from tinygrad_vg import Tensor, no_grad


# ---- dtypes ----
@pytest.mark.parametrize("data", [1.5, 2, True, [1, 2, 3], [[1.0, 2.0]], np.arange(3), np.array([True, False]),
                                  np.arange(3, dtype=np.int8), np.array(2.0), np.float64(3.0)], ids=repr)
def test_numbers_lists_bools_and_integers_become_float64(data):
    t = Tensor(data)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_data_keeps_its_dtype(dtype):
    array = np.ones(3, dtype=dtype)
    assert Tensor(array).dtype == dtype
    assert Tensor(array).data is array                       # used as is, not copied
    assert Tensor([1, 2], dtype=dtype).dtype == dtype


@pytest.mark.parametrize("data, named", [(np.array([1 + 2j]), "complex"), (1j, "complex"),
                                         (np.array([object()]), "object"), ("abc", "str"),
                                         (np.array(["a", "b"]), "<U1")],
                         ids=["complex array", "complex", "object array", "str", "string array"])
def test_complex_object_and_string_data_are_type_errors(data, named):
    with pytest.raises(TypeError, match=named):
        Tensor(data)


def test_a_non_float_dtype_argument_is_a_type_error():
    with pytest.raises(TypeError, match="int64"):
        Tensor([1.0], dtype=np.int64)


FLOAT32_OPS = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y,
    "pow": lambda x, y: x ** y, "matmul": lambda x, y: x @ y.reshape(3, 1), "neg": lambda x, y: -x,
    "exp": lambda x, y: x.exp(), "log": lambda x, y: x.log(), "sqrt": lambda x, y: x.sqrt(),
    "tanh": lambda x, y: x.tanh(), "sigmoid": lambda x, y: x.sigmoid(), "relu": lambda x, y: x.relu(),
    "abs": lambda x, y: x.abs(), "sum": lambda x, y: x.sum(axis=1), "mean": lambda x, y: x.mean(),
    "max": lambda x, y: x.max(axis=0), "logsumexp": lambda x, y: x.logsumexp(axis=1),
    "softmax": lambda x, y: x.softmax(), "log_softmax": lambda x, y: x.log_softmax(axis=0),
    "reshape": lambda x, y: x.reshape(-1), "transpose": lambda x, y: x.T, "getitem": lambda x, y: x[[0, 0], 1:],
    "broadcast_to": lambda x, y: x.broadcast_to((4, 2, 3)), "concatenate": lambda x, y: tg.concatenate([x, y.reshape(1, 3)]),
    "stack": lambda x, y: tg.stack([x[0], y], axis=1), "maximum": lambda x, y: tg.maximum(x, y),
    "where": lambda x, y: tg.where(x.data > 1, x, y),
}


@pytest.mark.parametrize("name", FLOAT32_OPS)
def test_float32_stays_float32_through_ops_and_gradients(name):
    x = Tensor(np.array([[0.5, 1.5, 2.0], [1.0, 0.7, 1.2]], dtype=np.float32), requires_grad=True)
    y = Tensor(np.array([1.1, 0.3, 0.9], dtype=np.float32), requires_grad=True)
    out = FLOAT32_OPS[name](x, y)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape))
    assert x.grad.dtype == np.float32
    assert y.grad is None or y.grad.dtype == np.float32


def test_mixed_float32_and_float64_follow_numpy_promotion():
    x32 = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    x64 = Tensor(np.ones(3), requires_grad=True)
    out = x32 * x64
    assert out.dtype == np.result_type(np.float32, np.float64) == np.float64
    out.sum().backward()
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64   # each gradient in its input's dtype
    assert (x32 + np.ones(3)).dtype == np.float64                          # a float64 array promotes too
    assert (np.ones(3, dtype=np.float32) + x64).dtype == np.float64


def test_numpy_scalars_promote_as_in_numpy():
    x32 = Tensor(np.ones(3, dtype=np.float32))
    for scalar in (np.float64(2), np.float32(2)):
        assert (x32 * scalar).dtype == (np.ones(3, dtype=np.float32) * scalar).dtype
        assert (scalar + x32).dtype == (scalar + np.ones(3, dtype=np.float32)).dtype


@pytest.mark.parametrize("expression", [lambda t: t * 2, lambda t: 2.5 * t, lambda t: t + 1, lambda t: 1 - t,
                                        lambda t: t / 3.0, lambda t: 3.0 / t, lambda t: t ** 2, lambda t: 2 ** t,
                                        lambda t: tg.maximum(t, 0.5), lambda t: tg.where(t.data > 1, t, 0.0),
                                        lambda t: t.mean()])
def test_python_scalars_do_not_upcast_float32(expression):
    assert expression(Tensor(np.array([1.0, 2.0], dtype=np.float32))).dtype == np.float32


def test_ndarrays_on_either_side_give_tensors():
    t = Tensor([1.0, 2.0], requires_grad=True)
    for out in (np.ones(2) + t, t + np.ones(2), np.ones(2) * t, np.eye(2) @ t, t @ np.eye(2), np.ones(2) ** t):
        assert isinstance(out, Tensor) and out.requires_grad


# ---- the Tensor API ----
def test_properties_item_numpy_detach_and_repr():
    t = Tensor([[1.0, 2.0, 3.0]], requires_grad=True, name="w")
    assert (t.shape, t.ndim, t.size, t.dtype) == ((1, 3), 2, 3, np.float64)
    assert t.numpy() is t.data
    assert Tensor([[4.0]]).item() == 4.0 and isinstance(Tensor(4.0).item(), float)
    detached = (t * 2).detach()
    assert not detached.requires_grad and detached.op is None and detached.inputs == ()
    text = repr(t * 2)
    assert text.startswith("Tensor(") and "requires_grad=True" in text and "op=mul" in text
    assert "name='w'" in repr(t)


# ---- error messages: the op, and the shapes or dtypes ----
@pytest.mark.parametrize("make, error, pattern", [
    (lambda: Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 2))), ValueError, r"matmul.*\(3, 4\).*\(5, 2\)"),
    (lambda: Tensor(np.ones(3)) @ Tensor(np.ones(4)), ValueError, r"matmul.*\(3,\).*\(4,\)"),
    (lambda: Tensor(2.0) @ Tensor(np.ones(2)), ValueError, r"matmul.*\(\).*\(2,\)"),
    (lambda: Tensor(np.ones(3)) + Tensor(np.ones(4)), ValueError, r"add.*\(3,\).*\(4,\)"),
    (lambda: Tensor(np.ones((2, 3))) * np.ones((3, 2)), ValueError, r"mul.*\(2, 3\).*\(3, 2\)"),
    (lambda: tg.maximum(np.ones(2), Tensor(np.ones(3))), ValueError, r"maximum.*\(2,\).*\(3,\)"),
    (lambda: Tensor(np.ones((2, 3))).reshape(4, 2), ValueError, r"reshape.*\(4, ?2\).*\(2, 3\)"),
    (lambda: Tensor(np.ones((2, 3))).sum(axis=2), ValueError, r"sum.*axis 2.*\(2, 3\)"),
    (lambda: Tensor(np.ones((2, 3))).max(axis=-3), ValueError, r"max.*axis -3.*\(2, 3\)"),
    (lambda: Tensor(np.ones((2, 3))).softmax(axis=5), ValueError, r"softmax.*axis 5.*\(2, 3\)"),
    (lambda: Tensor(np.ones((2, 3))).transpose(0, 2), ValueError, r"transpose.*\(2, 3\)"),
    (lambda: Tensor(np.ones(3))[5], IndexError, r"getitem.*\(3,\)"),
    (lambda: Tensor(np.ones(3)).broadcast_to((2, 4)), ValueError, r"broadcast_to.*\(3,\)"),
    (lambda: tg.concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]), ValueError,
     r"concatenate.*\(2, 3\).*\(2, 4\)"),
    (lambda: tg.stack([Tensor(np.ones(2))], axis=3), ValueError, r"stack.*axis 3"),
])
def test_error_messages_name_the_op_and_the_shapes(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_backward_errors():
    with pytest.raises(RuntimeError, match=r"backward.*does not require grad"):
        (Tensor([1.0, 2.0]) * 2).sum().backward()
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward.*\(2, 3\).*grad="):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"backward.*\(3, 2\).*\(2, 3\)"):
        (x * 2).backward(np.ones((3, 2)))
    Tensor(np.ones((1, 1)), requires_grad=True).tanh().backward()   # one element: the implicit grad 1


# ---- comparisons, truth, and numpy functions ----
def test_eq_and_ne_compare_elementwise_like_the_other_comparisons():
    t = Tensor([0.0, 1.0, 2.0])
    np.testing.assert_array_equal(t == 0, [True, False, False])
    np.testing.assert_array_equal(t != Tensor([0.0, 1.0, 5.0]), [False, False, True])
    np.testing.assert_array_equal(tg.where(t == 0, 5, t).data, [5.0, 1.0, 2.0])
    assert (t == None) is False and (t != "text") is True      # noqa: E711  not numbers: identity
    assert len({t, t, Tensor([0.0])}) == 2                       # hashed by identity, as in PyTorch


def test_comparing_shapes_that_do_not_broadcast_names_the_comparison():
    with pytest.raises(ValueError, match=r"equal: .*shapes \(2,\) and \(3,\)"):
        Tensor([1.0, 2.0]) == Tensor([1.0, 2.0, 3.0])


def test_only_a_one_element_tensor_has_a_truth_value():
    assert bool(Tensor([3.0])) and not bool(Tensor(0.0))
    with pytest.raises(ValueError, match=r"bool: a tensor of shape \(2,\) has no single truth value"):
        bool(Tensor([1.0, 2.0]))


def test_numpy_functions_see_the_values_of_a_constant():
    t = Tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.ravel(t), [1.0, 2.0, 3.0, 4.0])
    assert np.asarray(t).dtype == np.float64 and np.asarray(t, dtype=np.float32).dtype == np.float32


def test_numpy_functions_refuse_a_tensor_that_requires_grad_instead_of_dropping_its_graph():
    with pytest.raises(TypeError, match=r"numpy cannot differentiate.*requires grad"):
        np.ravel(Tensor([1.0], requires_grad=True))


@pytest.mark.parametrize("numpy_call, method", [
    (lambda t: np.sum(t), lambda t: t.sum()), (lambda t: np.sum(t, axis=0, keepdims=True), lambda t: t.sum(0, True)),
    (lambda t: np.mean(t, axis=1), lambda t: t.mean(1)), (lambda t: np.max(t), lambda t: t.max()),
    (lambda t: np.exp(t), Tensor.exp), (lambda t: np.tanh(t), Tensor.tanh), (lambda t: np.abs(t), abs),
    (lambda t: np.add(np.ones(3), t), lambda t: 1.0 + t), (lambda t: np.maximum(t, 0.5), lambda t: tg.maximum(t, 0.5)),
    (lambda t: np.matmul(t, np.ones((3, 1))), lambda t: t @ Tensor(np.ones((3, 1)))),
], ids=["sum", "sum axis keepdims", "mean", "max", "exp", "tanh", "abs", "add", "maximum", "matmul"])
def test_numpy_reductions_and_ufuncs_with_a_vjp_run_as_ops(numpy_call, method):
    values = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    via_numpy, via_method = Tensor(values, requires_grad=True), Tensor(values, requires_grad=True)
    out = numpy_call(via_numpy)
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.data, method(via_method).data)
    out.sum().backward()
    method(via_method).sum().backward()
    np.testing.assert_array_equal(via_numpy.grad, via_method.grad)


@pytest.mark.parametrize("call, named", [(lambda t: np.sin(t), r"np\.sin on a Tensor"),
                                          (lambda t: np.add.reduce(t), r"np\.add\.reduce on a Tensor"),
                                          (lambda t: np.exp(t, out=np.empty(2)), r"np\.exp with out= on a Tensor"),
                                          (lambda t: np.sum(t, out=np.empty(())), r"sum: numpy's dtype= and out="),
                                          (lambda t: np.mean(t, dtype=np.float32), r"mean: numpy's dtype= and out=")],
                         ids=["sin", "reduce", "ufunc out", "sum out", "mean dtype"])
def test_numpy_calls_without_a_vjp_are_type_errors_that_name_the_call(call, named):
    with pytest.raises(TypeError, match=named):
        call(Tensor([1.0, 2.0], requires_grad=True))


# ---- in-place writes and the values backward saved ----
def test_editing_an_inputs_data_after_the_forward_makes_backward_refuse():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = a * a
    a.data += 10
    with pytest.raises(RuntimeError, match=r"backward: mul needs the values of its input 0 .*modified in place"):
        b.sum().backward()


def test_editing_an_outputs_data_after_exp_makes_backward_refuse():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = a.exp()
    b.data = b.data + 1
    with pytest.raises(RuntimeError, match=r"backward: exp needs the values of its output"):
        b.sum().backward()


def test_an_edit_backward_does_not_read_is_allowed_and_an_edit_before_the_forward_is_seen():
    a = Tensor([1.0, 2.0], requires_grad=True)
    c = a + 1.0                          # add's vjp reads no values
    with no_grad():
        a += 1.0
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    (a * a).sum().backward()             # made after the edit: differentiated at the new values
    np.testing.assert_array_equal(a.grad, [1.0 + 4.0, 1.0 + 6.0])


def test_a_write_through_a_view_or_a_detached_copy_is_a_write_into_the_original():
    base = Tensor([1.0, 2.0, 3.0])
    view = base[1:]
    w = Tensor([1.0, 1.0], requires_grad=True)
    y = (base[1:] * w).sum()
    view[0] = 7.0                        # base's memory: the saved base[1:] changed too
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    v = Tensor([1.0, 2.0], requires_grad=True)
    z = (v * v).sum()
    with no_grad():
        v.detach()[0] = 5.0
    with pytest.raises(RuntimeError, match="modified in place"):
        z.backward()


def test_in_place_updates_inside_no_grad_keep_the_same_leaf():
    w = Tensor([1.0, 2.0], requires_grad=True)
    original = w
    (w * w).sum().backward()
    with no_grad():
        w -= 0.1 * w.grad                # every PyTorch tutorial's update
        w *= 2.0
        w /= 4.0
        w += Tensor([1.0, 1.0])
        w[0] = 3.0
    assert w is original and w.requires_grad and w.op is None
    np.testing.assert_allclose(w.data, [3.0, 1.0 + (2.0 - 0.4) * 2.0 / 4.0])
    w.grad = None
    (w * w).sum().backward()             # and it trains on
    np.testing.assert_allclose(w.grad, 2 * w.data)


@pytest.mark.parametrize("update", [lambda w: w.__isub__(1.0), lambda w: w.__setitem__(0, 1.0)], ids=["-=", "setitem"])
def test_an_in_place_update_of_a_leaf_that_requires_grad_outside_no_grad_says_to_use_no_grad(update):
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"leaf tensor .* requires grad.*`with no_grad\(\):`"):
        update(w)


def micrograd_more_ops(in_place):
    """micrograd's test_more_ops: its += on graph nodes, or the same program written out of place."""
    a, b = Tensor(-4.0, requires_grad=True), Tensor(2.0, requires_grad=True)
    c, d = a + b, a * b + b ** 3
    if in_place:
        c += c + 1
        c += 1 + c + (-a)
        d += d * 2 + (b + a).relu()
        d += 3 * d + (b - a).relu()
    else:
        c = c + (c + 1)
        c = c + (1 + c + (-a))
        d = d + (d * 2 + (b + a).relu())
        d = d + (3 * d + (b - a).relu())
    f = (c - d) ** 2
    g = f / 2.0
    if in_place:
        g += 10.0 / f
    else:
        g = g + 10.0 / f
    g.backward()
    return g.item(), a.grad.item(), b.grad.item()


def test_micrograds_sanity_check():
    x = Tensor(-4.0, requires_grad=True)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert (y.item(), x.grad.item()) == (-20.0, 46.0)     # micrograd's values, checked there against torch


def test_minitorchs_broadcast_gradient_keeps_the_inputs_shape():
    a, b = Tensor([2.0], requires_grad=True), Tensor([[1.0, 3.0]], requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (1,) and a.grad[0] == 4.0 and b.grad.shape == (1, 2)


def test_in_place_ops_on_graph_nodes_are_recorded_as_new_nodes_as_in_micrograds_test_more_ops():
    assert micrograd_more_ops(in_place=True) == micrograd_more_ops(in_place=False)
    np.testing.assert_allclose(micrograd_more_ops(in_place=True),          # micrograd's (and torch's) values
                               [24.70408163265306, 138.83381924198252, 645.5772594752186], rtol=1e-13)


def test_an_in_place_op_keeps_the_python_object_and_its_previous_value_in_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    same = y
    y *= y                               # y = (3x)^2: the value y was is an input, twice
    assert y is same and y.op.name == "mul" and y.inputs[0] is y.inputs[1] is not y
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 18.0 * x.data)
    c = Tensor([1.0, 1.0])
    c += x                               # a constant joins the graph, as in PyTorch
    assert c.requires_grad and c.op.name == "add"


def test_a_node_that_used_a_tensor_before_it_was_changed_in_place_makes_backward_refuse():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    z = y * 3.0                          # uses the y that is about to change
    y += 1.0
    with pytest.raises(RuntimeError, match=r"backward: mul used its input 0 .* before an in-place op changed"):
        (z + y).sum().backward()


def test_assigning_into_a_node_of_a_recorded_graph_says_what_to_use_instead():
    y = Tensor([1.0, 2.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"setitem: .*not recorded.*where\(\) or concatenate\(\)"):
        y[0] = 5.0


def test_an_in_place_op_that_would_broadcast_the_tensor_names_the_op_and_shapes():
    t = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\+=: .*\(tensor \(2,\) float64, value \(3, 2\) float64\)"):
        t += np.ones((3, 2))


# ---- no_grad ----
def test_no_grad_records_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = (x * x).exp().sum()
        with no_grad():
            pass
        z = x + 1                                     # still inside after a nested block ends
    assert not y.requires_grad and y.op is None and y.inputs == ()
    assert not z.requires_grad
    assert (x * x).requires_grad                      # recording resumes afterwards
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert (x * 2).op.name == "mul"                   # and after an exception


def test_constants_record_no_graph():
    y = Tensor([1.0]) * Tensor([2.0])
    assert not y.requires_grad and y.op is None and y.inputs == ()


# ---- backward ----
def test_gradients_accumulate_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_backward_keeps_the_gradients_of_the_leaves_the_output_and_the_intermediates_that_asked():
    x = Tensor([0.5, -1.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    y = h.tanh()
    loss = y.sum()
    loss.backward()
    assert y.grad is None and not y.retains_grad             # freed once passed on, as in PyTorch
    np.testing.assert_allclose(h.grad, 1 - np.tanh([1.0, -2.0]) ** 2)
    np.testing.assert_allclose(x.grad, 2 * h.grad)
    assert loss.grad == 1.0                                  # the tensor backward was called on
    assert h.retains_grad and not x.retains_grad             # a leaf keeps its .grad without asking
    x.retain_grad()
    assert not x.retains_grad


def test_retain_grads_true_keeps_every_intermediate_and_asking_without_requires_grad_is_refused():
    x = Tensor([0.5, -1.0], requires_grad=True)
    h = x * 2
    y = h.tanh()
    y.sum().backward(retain_grads=True)
    np.testing.assert_allclose(y.grad, [1.0, 1.0])
    np.testing.assert_allclose(h.grad, 1 - np.tanh([1.0, -2.0]) ** 2)
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).retain_grad()


def test_an_intermediate_that_asked_still_keeps_its_gradient_after_an_in_place_op():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    h += 1                                   # h is now the add node; what asked was h, the name
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * (3 * x.data + 1))
    assert h.inputs[0].grad is None


def test_retain_grads_false_keeps_only_the_leaves_gradients():
    def run(retain_grads):
        x = Tensor([0.5, -1.0], requires_grad=True)
        h = x * 2
        y = h.tanh()
        (y * y).sum().backward(retain_grads=retain_grads)
        return x, h, y
    x, h, y = run(retain_grads=False)
    assert h.grad is None and y.grad is None
    np.testing.assert_array_equal(x.grad, run(retain_grads=True)[0].grad)


def test_retain_grads_false_frees_the_graph_as_it_sweeps():
    import weakref
    x = Tensor([0.5, -1.0], requires_grad=True)
    h = x * 2
    loss = (h.tanh() * h).sum()
    unheld = weakref.ref(loss.inputs[0].inputs[0])   # tanh's output: only loss's graph holds it
    value = h.data.copy()
    loss.backward()                                  # the default keeps the graph: it is still there
    assert unheld() is not None and loss.op.name == "sum" and loss.inputs
    loss.backward(retain_grads=False)                # a second backward through a kept graph works
    np.testing.assert_allclose(x.grad, 2 * (2 * (1 - np.tanh(value) ** 2) * value + 2 * np.tanh(value)))
    assert unheld() is None                          # freed by refcount once swept
    assert loss.op.name == "released" and loss.inputs == () and h.op.name == "released"
    np.testing.assert_array_equal(h.data, value)     # tensors you hold keep their values
    with pytest.raises(RuntimeError, match=r"freed by an earlier backward\(retain_grads=False\)"):
        loss.backward()
    with pytest.raises(RuntimeError, match="freed"):
        (h * 3).sum().backward()                     # a new graph on top of a released tensor

def test_a_gradient_summed_in_place_leaves_the_users_gradients_alone():
    # x feeds four adds, so its gradient is a sum; the first term is h's own gradient array
    # (add passes g through), which the later terms must not be added into.
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = h + h + h + h
    (y * Tensor([1.0, 10.0])).sum().backward(retain_grads=True)
    np.testing.assert_array_equal(y.grad, [1.0, 10.0])
    np.testing.assert_array_equal(h.grad, [4.0, 40.0])
    np.testing.assert_array_equal(x.grad, [12.0, 120.0])


def test_a_scalar_leafs_gradient_is_a_writable_array():
    a = Tensor(0.8, requires_grad=True)
    (a * a * a).backward()
    assert type(a.grad) is np.ndarray and a.grad.flags.writeable
    assert a.grad == pytest.approx(3 * 0.8 ** 2)


def test_the_sweep_reaches_a_weight_transpose_right_after_its_matmul():
    # so the transpose's gradient is passed on to W and freed at once, not held to the end of BPTT
    from tinygrad_vg.tensor import sweep_order
    W = Tensor(np.eye(2) / 2, requires_grad=True)
    h = Tensor(np.ones((1, 2)), requires_grad=True)
    for _ in range(4):
        h = (h @ W.T).tanh()
    sweep = sweep_order(h)[::-1]                    # as backward takes them: root first
    transposes = [i for i, node in enumerate(sweep) if node.op is not None and node.op.name == "transpose"]
    assert len(transposes) == 4
    assert all(sweep[i - 1].op.name == "matmul" and sweep[i - 1].inputs[1] is sweep[i] for i in transposes)


def test_the_sweep_finishes_each_rnn_step_before_the_step_before_it():
    # tanh(x @ U.T + h @ W.T + b): x @ U.T is the first input of its add and h @ W.T the second,
    # yet neither branch waits for the earlier steps: no tanh lies between a node and its inputs
    from tinygrad_vg.tensor import sweep_order
    rng = np.random.default_rng(0)
    U, W, b = (Tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((3, 2), (3, 3), (3,)))
    h = Tensor(np.zeros((1, 3)))
    for _ in range(5):
        h = (Tensor(rng.standard_normal((1, 2))) @ U.T + h @ W.T + b).tanh()
    sweep = sweep_order(h)[::-1]                    # as backward takes them: root first
    position = {id(node): k for k, node in enumerate(sweep)}
    assert sweep[0] is h and len(position) == len(sweep)
    for k, node in enumerate(sweep):
        for parent in node.inputs:
            assert position[id(parent)] > k                      # users before inputs
            if parent.op is not None:
                between = sweep[k + 1:position[id(parent)]]
                assert not any(n.op is not None and n.op.name == "tanh" for n in between)


def test_weight_gradients_are_laid_out_like_the_weights():
    # x @ W.T multiplies by a transposed view; W's gradient still comes out C-order like W, so
    # an optimiser's update p -= lr * grad runs over both in one contiguous sweep
    rng = np.random.default_rng(0)
    W, x = Tensor(rng.standard_normal((4, 3)), requires_grad=True), Tensor(rng.standard_normal((5, 3)))
    (x @ W.T).sum().backward()
    np.testing.assert_allclose(W.grad, np.ones((5, 4)).T @ x.data, rtol=1e-14)
    assert W.grad.flags.c_contiguous
    W.grad = None
    (W.T @ Tensor(rng.standard_normal((4, 2)))).sum().backward()     # the transposed view on the left
    assert W.grad.flags.c_contiguous


def test_constants_get_no_gradient():
    x, c = Tensor([1.0], requires_grad=True), Tensor([5.0])
    (x * c).sum().backward()
    assert c.grad is None and x.grad == 5.0


def test_leaves_never_share_gradient_memory():
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    y = a + b
    y.backward(np.ones(3))
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    (a.sum() + b.sum()).backward()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad *= 2                                      # leaf gradients are writable (optimizers and clipping)
    np.testing.assert_array_equal(b.grad, np.ones(3))


def test_backward_does_not_keep_the_callers_grad_array():
    x = Tensor(np.ones(2), requires_grad=True)
    seed = np.array([1.0, 2.0])
    x.backward(seed)
    seed[:] = 0
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


# ---- reuse and fan-out ----
def test_reuse_b_equals_a_plus_a():
    a = Tensor(3.0, requires_grad=True)
    b = a + a
    b.retain_grad()
    c = b + b
    c.backward()
    assert a.grad == 4.0 and b.grad == 2.0


def test_x_times_x():
    x = Tensor([3.0, -2.0], requires_grad=True)
    (x * x).backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [6.0, -4.0])


def test_diamond():
    # x -> a = 2x, b = tanh(x) -> out = a * b: d out / dx = 2 tanh(x) + 2x (1 - tanh(x)^2)
    x = Tensor(0.7, requires_grad=True)
    a, b = x * 2, x.tanh()
    (a * b).backward(retain_grads=True)
    assert x.grad == pytest.approx(2 * np.tanh(0.7) + 1.4 * (1 - np.tanh(0.7) ** 2))
    assert a.grad == pytest.approx(np.tanh(0.7)) and b.grad == pytest.approx(1.4)


# ---- numerics ----
def test_log_of_zero_is_minus_inf_with_an_infinite_gradient():
    x = Tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        y = x.log()
        y.backward(np.ones(2))
    assert y.data[0] == -np.inf and y.data[1] == 0.0
    assert x.grad[0] == np.inf and x.grad[1] == 1.0


@pytest.mark.parametrize("fn", [Tensor.sigmoid, Tensor.logsumexp, Tensor.softmax, Tensor.log_softmax,
                                lambda t: t.logsumexp(axis=0, keepdims=True)])
def test_stable_forms_stay_finite_at_large_magnitudes(fn):
    x = Tensor([1000.0, -1000.0, 999.0, -998.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fn(x)
        out.backward(np.ones(out.shape))
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))


def test_stable_values_at_large_magnitudes():
    x = Tensor([1000.0, -1000.0, 999.0])
    np.testing.assert_allclose(x.sigmoid().data, [1.0, 0.0, 1.0])
    assert x.logsumexp().item() == pytest.approx(1000 + np.log(1 + np.exp(-1.0)))
    np.testing.assert_allclose(x.softmax().data, [1 / (1 + np.exp(-1)), 0.0, np.exp(-1) / (1 + np.exp(-1))])


# ---- depth and memory ----
def test_stack_of_mismatched_shapes_names_stack_and_the_shapes_given():
    with pytest.raises(ValueError, match=r"stack: .*one shape, got shapes \[\(2,\), \(3,\)\]"):
        tg.stack([Tensor([1.0, 2.0]), Tensor([1.0, 2.0, 3.0])])
    with pytest.raises(ValueError, match="stack: needs one or more tensors"):
        tg.stack([])


def test_a_chain_of_100000_ops_runs_backward_and_is_freed_without_gc():
    depth = 100_000
    x = Tensor(1.0, requires_grad=True)
    h = x
    for _ in range(depth):
        h = h * 1.0
    middle = weakref.ref(h.inputs[0].inputs[0])
    h.backward(retain_grads=True)
    assert x.grad == 1.0 and middle().grad == 1.0
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del h                                          # no reference cycles: refcounting frees it all
        assert middle() is None
    finally:
        if was_enabled:
            gc.enable()


def test_builtin_abs_is_the_abs_op():
    x = Tensor([-2.0, 3.0], requires_grad=True)
    y = abs(x)
    assert y.op.name == "abs"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 1.0])
