"""The course's momentum (v <- beta v + (1 - beta) g from v = 0, W <- W - alpha v) is
SGD(lr=alpha (1 - beta), momentum=beta): PyTorch's buffer is b = v / (1 - beta) at every step, so the
two updates are equal in exact arithmetic and differ by rounding alone. dampening=beta looks like the
course's rule but is not: PyTorch's first step does not dampen (b_1 = g_1), and b_t - v_t = beta^t g_1."""
import numpy as np
import pytest

from tinygrad_vg import Tensor, optim

STEPS = 20


def gradients(seed, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(STEPS)]


def course_momentum(w, grads, alpha, beta):
    """The course's update, step by step: the weights after each step."""
    v, trajectory = np.zeros_like(w), []
    for g in grads:
        v = beta * v + (1 - beta) * g
        w = w - alpha * v
        trajectory.append(w)
    return trajectory


def sgd_trajectory(w, grads, **hyper):
    p = Tensor(w.copy(), requires_grad=True)
    optimizer = optim.SGD([p], **hyper)
    trajectory = []
    for g in grads:
        p.grad = g
        optimizer.step()
        trajectory.append(p.data.copy())
    return trajectory


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99])
def test_the_course_s_momentum_is_sgd_with_lr_alpha_times_one_minus_beta_and_momentum_beta(beta):
    alpha, w = 0.05, np.random.default_rng(1).normal(size=(3, 4))
    grads = gradients(seed=2)
    course = course_momentum(w, grads, alpha, beta)
    sgd = sgd_trajectory(w, grads, lr=alpha * (1 - beta), momentum=beta)
    for step, (ours, theirs) in enumerate(zip(sgd, course)):
        # rounding alone: a few ulps of the largest weight (measured: at most half an ulp)
        assert np.max(np.abs(ours - theirs)) <= 4 * np.finfo(float).eps * np.max(np.abs(theirs)), step
    assert np.max(np.abs(course[-1] - w)) > 0.05                 # and the weights did move


def test_dampening_beta_is_not_the_course_s_rule_because_the_first_step_is_not_dampened():
    alpha, beta, g = 0.1, 0.9, np.ones(2)
    course = course_momentum(np.zeros(2), [g] * 3, alpha, beta)
    dampened = sgd_trajectory(np.zeros(2), [g] * 3, lr=alpha, momentum=beta, dampening=beta)
    # a steady gradient: the course's v_t = (1 - beta^t) g ramps up; PyTorch's b_t = g from the start
    np.testing.assert_allclose(course[0], -alpha * (1 - beta) * g, rtol=1e-15)
    np.testing.assert_allclose(dampened[0], -alpha * g, rtol=1e-15)
    np.testing.assert_allclose(dampened[2] - course[2], -alpha * (beta + beta ** 2 + beta ** 3) * g, rtol=1e-13)
