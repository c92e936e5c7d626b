"""Each update rule, step by step, against its formula written out here with numpy, and against
torch.optim with the same hyperparameters.

Five steps with a different gradient at each, on three parameters of different shapes (a 0-d one
included), in float64 and float32. The formulas below are written from the papers' and PyTorch's
documented math, in float64, term by term (m_hat, v_hat, ...), not in the order of optim's code.
Tolerances are rounding: 16 ulps of the dtype at the largest value reached (at least 1); measured
over 20 seeds, optim is within 1.6 ulps of torch and 2.1 ulps of the float64 formula.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from extras import require
from tinygrad_vg import Tensor, optim

SHAPES = [(3,), (2, 4), ()]
STEPS = 5


def starting_values_and_gradients(seed):
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=shape) for shape in SHAPES]
    grads = [[rng.normal(size=shape) * 2.0 ** rng.integers(-3, 4) for shape in SHAPES] for _ in range(STEPS)]
    return start, grads


def sgd_by_hand(p, grads, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    trajectory, b = [], None
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
        trajectory.append(p)
    return trajectory


def adam_by_hand(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False, decoupled=False):
    (b1, b2), trajectory = betas, []
    m = v = v_max = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        trajectory.append(p)
    return trajectory


def adamw_by_hand(p, grads, weight_decay=1e-2, **hyper):
    return adam_by_hand(p, grads, weight_decay=weight_decay, decoupled=True, **hyper)


def rmsprop_by_hand(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                    maximize=False):
    trajectory = []
    v = g_mean = b = np.zeros_like(p)
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        g_mean = alpha * g_mean + (1 - alpha) * g
        d = np.sqrt(v - g_mean ** 2 if centered else v) + eps
        if momentum:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
        trajectory.append(p)
    return trajectory


BY_HAND = {"SGD": sgd_by_hand, "Adam": adam_by_hand, "AdamW": adamw_by_hand, "RMSprop": rmsprop_by_hand}

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.1, "betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.1, "maximize": True}),
    ("AdamW", {"lr": 0.1}),
    ("AdamW", {"lr": 0.1, "betas": (0.5, 0.7), "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-4, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "maximize": True}),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in hyper.items()) or 'defaults'}" for name, hyper in CASES]


def run_ours(name, hyper, start, grads, dtype):
    params = [Tensor(np.array(s, dtype=dtype), requires_grad=True) for s in start]
    optimizer = getattr(optim, name)(params, **hyper)
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = np.array(g, dtype=dtype)
        optimizer.step()
        trajectory.append([p.data.copy() for p in params])
    return trajectory


def run_torch(name, hyper, start, grads, dtype):
    torch = require("torch")
    params = [torch.tensor(np.array(s, dtype=dtype), requires_grad=True) for s in start]
    optimizer = getattr(torch.optim, name)(params, **hyper)
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(np.array(g, dtype=dtype))
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def run_by_hand(name, hyper, start, grads, dtype):
    """The formula in float64, from the same (dtype-rounded) starting values and gradients."""
    per_param = [BY_HAND[name](np.array(s, dtype=dtype).astype(np.float64),
                               [np.array(step[i], dtype=dtype).astype(np.float64) for step in grads], **hyper)
                 for i, s in enumerate(start)]
    return [[per_param[i][t] for i in range(len(start))] for t in range(len(grads))]


def max_difference(a, b):
    return max(float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)), initial=0.0))
               for step_a, step_b in zip(a, b) for x, y in zip(step_a, step_b))


def rounding_tolerance(trajectory, dtype):
    largest = max(float(np.max(np.abs(x), initial=0.0)) for step in trajectory for x in step)
    return 16 * np.finfo(dtype).eps * max(largest, 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, hyper", CASES, ids=CASE_IDS)
def test_each_step_follows_the_formula_written_out_by_hand(name, hyper, dtype):
    start, grads = starting_values_and_gradients(seed=0)
    ours = run_ours(name, hyper, start, grads, dtype)
    assert all(x.dtype == dtype for step in ours for x in step)
    assert [x.shape for x in ours[-1]] == SHAPES
    expected = run_by_hand(name, hyper, start, grads, dtype)
    assert max_difference(ours, expected) <= rounding_tolerance(expected, dtype)
    assert max_difference(ours[:1], [start]) > 1e-4          # the first step moved the parameters


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, hyper", CASES, ids=CASE_IDS)
def test_each_step_matches_torch_optim_with_the_same_hyperparameters(name, hyper, dtype):
    start, grads = starting_values_and_gradients(seed=1)
    ours = run_ours(name, hyper, start, grads, dtype)
    theirs = run_torch(name, hyper, start, grads, dtype)
    assert max_difference(ours, theirs) <= rounding_tolerance(theirs, dtype)


@given(seed=st.integers(0, 2 ** 32 - 1), case=st.sampled_from(CASES),
       lr=st.floats(1e-4, 1.0), decay=st.sampled_from([0.0, 1e-3, 0.5]))
def test_random_gradients_and_hyperparameters_match_torch_in_float64(seed, case, lr, decay):
    name, hyper = case
    hyper = {**hyper, "lr": lr, "weight_decay": decay}
    start, grads = starting_values_and_gradients(seed)
    ours = run_ours(name, hyper, start, grads, np.float64)
    theirs = run_torch(name, hyper, start, grads, np.float64)
    assert max_difference(ours, theirs) <= rounding_tolerance(theirs, np.float64)


@pytest.mark.parametrize("name", ["Adam", "RMSprop"])
def test_in_float16_the_default_eps_rounds_to_0_so_a_zero_gradient_gives_nan_as_in_torch(name):
    """eps = 1e-8 is below float16's smallest subnormal (6e-8): it adds nothing. A zero gradient is
    then 0 / 0 = nan, and g = 1e-3 has (1 - b2) g^2 = 1e-9 (Adam) or (1 - alpha) g^2 = 1e-8
    (RMSprop) underflow to 0: g / 0 = inf. A float16 model needs a larger eps (1e-4 is fine)."""
    assert np.float16(1e-8) == 0
    grads = [np.array([0.0, 1e-3, 1.0], dtype=np.float16)]
    ours = run_ours(name, {}, [np.zeros(3)], [grads], np.float16)[0][0]
    assert np.isnan(ours[0]) and ours[1] == -np.inf and np.isfinite(ours[2])
    theirs = run_torch(name, {}, [np.zeros(3)], [grads], np.float16)[0][0]
    np.testing.assert_allclose(ours, theirs, rtol=2 * np.finfo(np.float16).eps)     # nan and inf alike
    assert np.isfinite(run_ours(name, {"eps": 1e-4}, [np.zeros(3)], [grads], np.float16)[0][0]).all()
