"""detect_anomaly: the first op that makes inf or NaN out of finite inputs, or rounds a value to
exactly 0 that a wider dtype keeps nonzero, is named, with its layer, kind and phase; ops that only
pass a bad value along are not, nor zeros by definition; outside the context nothing is checked."""
import numpy as np
import pytest

import tinygrad_vg as tg
from tinygrad_vg import NonFiniteError, Tensor, UnderflowError, anomaly, detect_anomaly, nn

LONG_DOUBLE_IS_WIDER = anomaly.wider(np.dtype(np.float64)) is not None

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")   # numpy's overflow warnings


def test_forward_overflow_names_the_producing_op_kind_phase_and_input_magnitudes():
    x = Tensor(np.array([1e200, 1.0]), requires_grad=True)
    with detect_anomaly(), pytest.raises(NonFiniteError) as caught:
        (x * x).exp()
    error = caught.value
    assert (error.op, error.module, error.kind, error.phase) == ("mul", None, "inf", "forward")
    assert error.input_magnitudes == [1e200, 1e200]
    assert str(error) == ("mul produced inf in the forward pass from finite inputs "
                          "(largest |value| of each input: 1e+200, 1e+200)")


@pytest.mark.parametrize("make, op", [(lambda x: (x - 2.0).log(), "log"),
                                      (lambda x: (x - 2.0).sqrt(), "sqrt"),
                                      (lambda x: (x - 1.0) / (x - 1.0), "div")])
def test_nan_from_finite_inputs_is_told_apart_from_inf(make, op):
    x = Tensor(np.array([1.0]), requires_grad=True)
    with detect_anomaly(), pytest.raises(NonFiniteError) as caught:
        make(x)
    assert (caught.value.op, caught.value.kind, caught.value.phase) == (op, "nan", "forward")


def test_the_producer_is_named_not_the_ops_that_propagate_the_bad_value():
    x = Tensor(np.array([1e200]), requires_grad=True)
    already_inf = x * x                          # made outside the context: nobody checks
    with detect_anomaly():
        propagated = (already_inf + 1.0).exp() * 2.0        # inf in, inf out: not a producer
    assert np.isinf(propagated.data).all()
    model = nn.Sequential(nn.Linear(1, 1, rng=0), nn.Linear(1, 1, rng=1), nn.Linear(1, 1, rng=2))
    for layer, weight in zip(model, [1e200, 1e200, 1.0]):
        nn.init.constant_(layer.weight, weight)
        nn.init.constant_(layer.bias, 0.0)
    # layer 0 gives 1e200 (finite), layer 1 gives 1e200 * 1e200 = inf: layer 1 produced it, not
    # layer 0 (whose weights are as large) nor layer 2 (which would only pass the inf on).
    with detect_anomaly(), pytest.raises(NonFiniteError) as caught:
        model(Tensor(np.array([[1.0]])))
    assert (caught.value.op, caught.value.module) == ("linear", "1 (Linear)")
    assert "linear in 1 (Linear) produced inf in the forward pass" in str(caught.value)


def test_backward_inf_is_named_with_the_op_and_layer_whose_vjp_produced_it():
    layer = nn.Sequential(nn.Linear(2, 2, bias=False))
    nn.init.constant_(layer[0].weight, 1e200)
    x = Tensor(np.full((1, 2), 1e-200), requires_grad=True)
    with detect_anomaly():
        loss = (layer(x) * 1e200).sum()      # forward: 2e0 * 1e200, finite
        with pytest.raises(NonFiniteError) as caught:
            loss.backward()                   # d loss / dx = (1e200 g) @ W: 1e400, inf
    error = caught.value
    assert (error.op, error.module, error.kind, error.phase) == ("linear", "0 (Linear)", "inf", "backward")
    assert "in the backward pass" in str(error)


def test_backward_nan_from_finite_values():
    # d(a^b)/db = a^b log(a): for a = -2, b = 2 the forward 4 is fine, log(-2) is NaN
    b = Tensor(np.array(2.0), requires_grad=True)
    with detect_anomaly():
        y = Tensor(np.array(-2.0)) ** b
        with pytest.raises(NonFiniteError) as caught:
            y.backward()
    assert (caught.value.op, caught.value.kind, caught.value.phase) == ("pow", "nan", "backward")


def test_backward_sqrt_at_zero_gives_inf_in_the_backward_pass_only():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with detect_anomaly():
        total = x.sqrt().sum()               # sqrt(0) = 0: the forward is finite
        with pytest.raises(NonFiniteError) as caught:
            total.backward()                 # d sqrt(x)/dx = 1 / (2 sqrt(0)) = inf
    assert (caught.value.op, caught.value.kind, caught.value.phase) == ("sqrt", "inf", "backward")


def test_outside_the_context_nothing_is_checked_and_no_module_is_recorded():
    layer = nn.Linear(1, 1, bias=False)
    nn.init.constant_(layer.weight, 1e300)
    out = layer(Tensor(np.array([[1e300]])))
    assert np.isinf(out.data).all() and out.module is None
    out.sum().backward()                      # inf gradients, no error either
    assert not anomaly.enabled and anomaly.module_stack == []


def test_the_context_restores_the_previous_state_even_after_an_error():
    with detect_anomaly():
        with detect_anomaly():
            pass
        assert anomaly.enabled
        with pytest.raises(NonFiniteError):
            Tensor(np.array([-1.0]), requires_grad=True).log()
        assert anomaly.enabled
    assert not anomaly.enabled and anomaly.module_stack == []


def test_inside_the_context_outputs_carry_the_running_modules_name():
    chain = nn.DeepChain(3, 2, activation="tanh", rng=0)
    with detect_anomaly():
        out, outputs = chain.forward_with_outputs(np.ones((1, 2)))
    assert [h.module for h in outputs] == ["activations.0 (Tanh)", "activations.1 (Tanh)", "activations.2 (Tanh)"]
    assert outputs[0].inputs[0].module == "layers.0 (Linear)"


# ---- underflow: exactly 0 because of rounding ----
def float16_chain():
    """Three float16 layers W = 0.1 I: the forward stays at 1e-3 and above; a backward started
    from 1e-6 shrinks by 10 a layer, below float16's smallest subnormal (6e-8)."""
    chain = nn.DeepChain(3, 2, init="identity", scale=0.1, dtype=np.float16, rng=0)
    return chain, Tensor(np.ones((1, 2), dtype=np.float16), requires_grad=True)


def test_a_float16_gradient_that_underflows_is_named_with_its_op_and_layer():
    chain, x = float16_chain()
    with detect_anomaly():
        out = chain(x)
        with pytest.raises(UnderflowError) as caught:
            out.backward(np.full(out.shape, 1e-6))
    error = caught.value
    assert (error.op, error.kind, error.phase) == ("linear", "underflow", "backward")
    assert error.module == "layers.2 (Linear)"       # dL/dW_3 = g^T h_2, 1e-6 times 1e-2: the first to vanish
    assert error.largest_lost < np.finfo(np.float16).smallest_subnormal
    assert str(error).startswith("linear in layers.2 (Linear) rounded 4 of 4 float16 elements to exactly 0 "
                                 "in the backward pass")


def test_without_anomaly_detection_the_same_gradient_is_silently_zero():
    chain, x = float16_chain()
    out = chain(x)
    out.backward(np.full(out.shape, 1e-6))
    assert not chain.layers[2].weight.grad.any()


def test_a_forward_product_that_underflows_is_named():
    x = Tensor(np.array([1e-3, 1.0], dtype=np.float16), requires_grad=True)
    with detect_anomaly(), pytest.raises(UnderflowError) as caught:
        x * Tensor(np.array([1e-5, 0.0], dtype=np.float16))
    assert (caught.value.op, caught.value.phase, caught.value.count) == ("mul", "forward", 1)


def test_cancellation_to_zero_is_not_underflow_saturated_tanh_and_the_bias_before_batchnorm():
    x = Tensor(np.full(3, 6.0, dtype=np.float16), requires_grad=True)
    with detect_anomaly():
        x.tanh().sum().backward()            # tanh(6) rounds to 1 in float16: 1 - 1^2 = 0, lost 2.5e-5
    chain = nn.DeepChain(20, 8, activation="tanh", init="normal", norm="batch", rng=0)
    with detect_anomaly():
        chain(np.random.default_rng(1).normal(size=(8, 8))).sum().backward()
    # d/db of a bias before BatchNorm is 0 in exact arithmetic, rounding noise in any dtype
    assert max(np.abs(layer.bias.grad).max() for layer in chain.layers) < 1e-12


@pytest.mark.skipif(not LONG_DOUBLE_IS_WIDER, reason="long double is no wider than float64 here")
def test_a_float64_exp_that_underflows_is_found_in_long_double():
    x = Tensor(np.array([-800.0, 0.0]), requires_grad=True)
    with detect_anomaly(), pytest.raises(UnderflowError) as caught:
        x.exp()
    assert caught.value.op == "exp" and 0 < caught.value.largest_lost < 5e-324
    assert "in long double they are nonzero" in str(caught.value)


@pytest.mark.parametrize("make", [lambda x: x.relu(), lambda x: tg.where(x.data > 0, x, 0.0),
                                  lambda x: x * Tensor(np.array([0.0, 1.0, 2.0], dtype=x.dtype)),
                                  lambda x: x - x, lambda x: x * 0.0, lambda x: x[np.array([0, 0])] - x[0],
                                  lambda x: (x - 1.0).abs(), lambda x: tg.maximum(x, 0.0) * x],
                         ids=["relu", "where", "times a zero", "x - x", "times 0.0", "getitem", "abs", "maximum"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_zeros_by_definition_are_not_underflow_forward_or_backward(make, dtype):
    x = Tensor(np.array([-1.0, 1.0, 2.0], dtype=dtype), requires_grad=True)
    with detect_anomaly():
        make(x).sum().backward()


def test_underflow_checks_can_be_turned_off_and_training_does_not_halt_on_them():
    chain, x = float16_chain()
    with detect_anomaly(check_underflow=False):
        out = chain(x)
        out.backward(np.full(out.shape, 1e-6))
    assert not anomaly.underflow_enabled
    record = tg.training.train(chain, np.ones((1, 2)), np.zeros((1, 2)), steps=2, lr=0.0,
                               loss_fn=lambda out, target: ((out - target) * 1e-6).sum())
    assert record.halted is None and record.steps == 2
