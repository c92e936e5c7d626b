"""What every optimiser shares (parameter groups, state, zero_grad, in-place updates) and the argument
checks, with torch's messages; the update rules themselves are in test_optim_rules.py."""
import numpy as np
import pytest

from extras import require
from tinygrad_vg import Tensor, optim

ALL = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop]


def parameters_with_grads(*grads, dtype=np.float64):
    """Zero parameters of the gradients' shapes, each holding its gradient (test_optim_clipping too)."""
    params = []
    for g in grads:
        p = Tensor(np.zeros(np.shape(g), dtype=dtype), requires_grad=True)
        p.grad = np.array(g, dtype=dtype)
        params.append(p)
    return params


def test_sgd_steps_against_the_gradient_of_a_quadratic():
    # loss = sum (p - 3)^2: grad 2 (p - 3), so p <- p - lr 2 (p - 3)
    p = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)
    for _ in range(3):
        opt.zero_grad()
        ((p - 3.0) * (p - 3.0)).sum().backward()
        opt.step()
    # each step halves the distance to 3: p = 3 - (3 - p0) / 8
    np.testing.assert_allclose(p.data, 3 - np.array([3.0, 2.0]) / 8, rtol=1e-15)


def test_sgd_momentum_buffer_starts_as_the_first_gradient_and_dampens_only_after_it():
    p = parameters_with_grads([1.0])[0]
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    opt.step()          # b = 1 (not 0.5),        p = -0.1
    opt.step()          # b = 0.9 + 0.5 = 1.4,    p = -0.24
    opt.step()          # b = 1.26 + 0.5 = 1.76,  p = -0.416
    assert p.data[0] == pytest.approx(-0.416, rel=1e-14)
    assert opt.state[p]["momentum_buffer"][0] == pytest.approx(1.76, rel=1e-14)


@pytest.mark.parametrize("make", ALL, ids=lambda make: make.__name__)
def test_a_step_writes_into_each_parameter_keeps_its_dtype_and_never_touches_the_gradient(make):
    p, q, r = parameters_with_grads([1.0, -2.0], [5.0], 3.0, dtype=np.float32)
    q.grad = None
    data, grad = p.data, p.grad
    opt = make([p, q, r], lr=0.5, momentum=0.5) if make in (optim.SGD, optim.RMSprop) else make([p, q, r], lr=0.5)
    opt.step()
    opt.step()
    assert p.data is data and p.dtype == np.float32 and r.dtype == np.float32 and r.shape == ()
    assert p.grad is grad and grad.tolist() == [1.0, -2.0]          # read, never written into
    assert np.all(p.data * np.array([1.0, -2.0]) < 0)               # moved against the gradient
    np.testing.assert_array_equal(q.data, [0.0])                    # no gradient: skipped,
    assert q not in opt.state                                       # and no state made for it
    assert all(buffer is not grad for buffer in opt.state[p].values())


def test_zero_grad_sets_every_gradient_to_none():
    params = parameters_with_grads([1.0], [[2.0, 3.0]])
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:]}])
    opt.zero_grad()
    assert [p.grad for p in params] == [None, None]


def test_param_groups_take_the_defaults_unless_a_group_gives_its_own_and_edits_take_effect():
    a, b = parameters_with_grads([1.0], [1.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 1.0}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0] and opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[0]["nesterov"] is False and opt.defaults["lr"] == 0.1
    opt.step()
    assert (a.data[0], b.data[0]) == (-0.1, -1.0)
    opt.param_groups[0]["lr"] = 0.5                    # what a scheduler does
    opt.step()
    assert (a.data[0], b.data[0]) == (-0.6, -2.0)


def test_state_is_kept_per_parameter_under_torch_s_names():
    p = parameters_with_grads([1.0, 2.0])[0]
    adam = optim.Adam([p], amsgrad=True)
    adam.step()
    adam.step()
    assert set(adam.state[p]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"} and adam.state[p]["step"] == 2
    # m = 0.1 g + 0.09 g after two steps with the same g
    np.testing.assert_allclose(adam.state[p]["exp_avg"], 0.19 * np.array([1.0, 2.0]), rtol=1e-15)
    rms = optim.RMSprop([p], momentum=0.9, centered=True)
    rms.step()
    assert set(rms.state[p]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}
    np.testing.assert_allclose(rms.state[p]["square_avg"], 0.01 * np.array([1.0, 4.0]), rtol=1e-15)


def test_a_step_is_a_write_that_backward_through_the_old_values_refuses():
    p = Tensor([2.0], requires_grad=True)
    y = (p * p).sum()
    p.grad = np.array([1.0])
    optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="mul needs the values of its input 0"):
        y.backward()


INVALID = [
    (optim.SGD, {"lr": -0.1}, "Invalid learning rate: -0.1"),
    (optim.SGD, {"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
    (optim.SGD, {"lr": 0.1, "weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
    (optim.SGD, {"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
     "Nesterov momentum requires a momentum and zero dampening"),
    (optim.Adam, {"lr": -1e-3}, "Invalid learning rate: -0.001"),
    (optim.Adam, {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    (optim.Adam, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    (optim.Adam, {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
    (optim.Adam, {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    (optim.AdamW, {"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1: 1.5"),
    (optim.RMSprop, {"lr": -0.01}, "Invalid learning rate: -0.01"),
    (optim.RMSprop, {"eps": -1.0}, "Invalid epsilon value: -1.0"),
    (optim.RMSprop, {"momentum": -0.9}, "Invalid momentum value: -0.9"),
    (optim.RMSprop, {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    (optim.RMSprop, {"alpha": -0.99}, "Invalid alpha value: -0.99"),
]
INVALID_IDS = [f"{make.__name__}-{next(iter(kwargs.items()))}" for make, kwargs, _ in INVALID]


@pytest.mark.parametrize("make, kwargs, message", INVALID, ids=INVALID_IDS)
def test_invalid_hyperparameters_are_value_errors_that_name_them(make, kwargs, message):
    with pytest.raises(ValueError) as error:
        make(parameters_with_grads([1.0]), **kwargs)
    assert str(error.value) == message


@pytest.mark.parametrize("make, kwargs, message", INVALID, ids=INVALID_IDS)
def test_invalid_hyperparameters_raise_what_torch_raises(make, kwargs, message):
    torch = require("torch")
    with pytest.raises(ValueError) as error:
        getattr(torch.optim, make.__name__)([torch.zeros(1, requires_grad=True)], **kwargs)
    assert str(error.value) == message


def test_params_must_be_a_non_empty_iterable_of_tensors_each_in_one_group():
    p, q = parameters_with_grads([1.0], [2.0])
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is ndarray"):
        optim.Adam([p, np.zeros(2)])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.Adam([{"params": {p, q}}])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.Adam([{"params": [p, q]}, {"params": [q]}])
    opt = optim.Adam([p])
    opt.add_param_group({"params": [q], "lr": 0.5})
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 0.5] and opt.param_groups[1]["betas"] == (0.9, 0.999)


def test_the_defaults_are_torch_s():
    p = parameters_with_grads([1.0])
    assert optim.SGD(p).defaults == {"lr": 1e-3, "momentum": 0, "dampening": 0, "weight_decay": 0,
                                     "nesterov": False, "maximize": False}
    assert optim.Adam(p).defaults == {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                                      "amsgrad": False, "maximize": False}
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    assert optim.RMSprop(p).defaults == {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0,
                                         "momentum": 0, "centered": False, "maximize": False}


@pytest.mark.parametrize("make", ALL, ids=lambda make: make.__name__)
def test_every_default_equals_torch_s(make):
    torch = require("torch")
    ours = make(parameters_with_grads([1.0])).defaults
    theirs = getattr(torch.optim, make.__name__)([torch.zeros(1, requires_grad=True)]).defaults
    assert ours == {name: theirs[name] for name in ours}


def test_adam_s_first_step_is_lr_g_over_abs_g_plus_eps_so_only_gradients_below_eps_stay_small():
    g = np.array([1e6, 1.0, 1e-4, -1e-8, 1e-12, 0.0])
    p = parameters_with_grads(g)[0]
    optim.Adam([p], lr=0.01).step()
    np.testing.assert_allclose(-p.data, 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(-p.data[:3], 0.01, rtol=1e-4)             # |g| >> eps: a step of lr
    assert -p.data[3] == pytest.approx(-0.005, rel=1e-14)                # |g| = eps: half of it
    assert -p.data[4] == pytest.approx(0.01 * 1e-4, rel=1e-3)            # |g| << eps: lr |g| / eps
