"""detect_anomaly: the first op that makes inf or NaN out of finite inputs is named, with its layer,
kind and phase; ops that only pass a bad value along are not; outside the context nothing is checked."""
import numpy as np
import pytest

from tinygrad_vg import NonFiniteError, Tensor, anomaly, detect_anomaly, nn

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
    assert (caught.value.op, caught.value.module) == ("matmul", "1 (Linear)")
    assert "matmul in 1 (Linear) produced inf in the forward pass" in str(caught.value)


def test_backward_inf_is_named_with_the_op_and_layer_whose_vjp_produced_it():
    layer = nn.Sequential(nn.Linear(2, 2, bias=False))
    nn.init.constant_(layer[0].weight, 1e200)
    x = Tensor(np.full((1, 2), 1e-200), requires_grad=True)
    with detect_anomaly():
        loss = (layer(x) * 1e200).sum()      # forward: 2e0 * 1e200, finite
        with pytest.raises(NonFiniteError) as caught:
            loss.backward()                   # d loss / dx = (1e200 g) @ W: 1e400, inf
    error = caught.value
    assert (error.op, error.module, error.kind, error.phase) == ("matmul", "0 (Linear)", "inf", "backward")
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
