"""Learning-rate schedules: the lr sequence by hand and torch's, exactly; what the constructor does to
the optimizer; the order warning; the errors."""
import warnings

import numpy as np
import pytest

from extras import require
from tinygrad_vg import Tensor, optim
from tinygrad_vg.optim import lr_scheduler

EPOCHS = 12


def two_groups(module):
    """An SGD over two groups (lr 0.1 and 0.03), from tinygrad_vg.optim or torch.optim."""
    if module is optim:
        a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    else:
        a, b = (require("torch").zeros(1, requires_grad=True) for _ in range(2))
    return module.SGD([{"params": [a]}, {"params": [b], "lr": 0.03}], lr=0.1, momentum=0.9)


def learning_rates(optimizer, schedulers, epochs=EPOCHS):
    """get_last_lr() of the last scheduler after construction and after each epoch's steps."""
    rates = [schedulers[-1].get_last_lr()]
    for _ in range(epochs):
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
        rates.append(schedulers[-1].get_last_lr())
    return rates


SCHEDULES = {
    "StepLR": lambda module, opt: [module.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)],
    "ExponentialLR": lambda module, opt: [module.lr_scheduler.ExponentialLR(opt, gamma=0.9)],
    "LambdaLR": lambda module, opt: [module.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (1 + epoch))],
    "LambdaLR per group": lambda module, opt: [
        module.lr_scheduler.LambdaLR(opt, [lambda epoch: 0.5 ** epoch, lambda epoch: epoch // 4])],
    "StepLR then ExponentialLR": lambda module, opt: [module.lr_scheduler.StepLR(opt, 4, gamma=0.5),
                                                      module.lr_scheduler.ExponentialLR(opt, gamma=0.8)],
}


def test_step_lr_multiplies_by_gamma_at_every_multiple_of_step_size():
    optimizer = two_groups(optim)
    rates = learning_rates(optimizer, [lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1)])
    by_hand = [[0.1 * 0.1 ** (epoch // 3), 0.03 * 0.1 ** (epoch // 3)] for epoch in range(EPOCHS + 1)]
    np.testing.assert_allclose(rates, by_hand, rtol=1e-15)
    assert rates[2] == [0.1, 0.03] and rates[3] == [0.1 * 0.1, 0.03 * 0.1]


def test_exponential_lr_multiplies_by_gamma_every_epoch_from_epoch_1():
    optimizer = two_groups(optim)
    rates = learning_rates(optimizer, [lr_scheduler.ExponentialLR(optimizer, gamma=0.9)])
    by_hand = [[0.1 * 0.9 ** epoch, 0.03 * 0.9 ** epoch] for epoch in range(EPOCHS + 1)]
    np.testing.assert_allclose(rates, by_hand, rtol=1e-14)
    assert rates[0] == [0.1, 0.03]


def test_lambda_lr_scales_the_initial_lr_already_at_construction():
    optimizer = two_groups(optim)
    scheduler = lr_scheduler.LambdaLR(optimizer, [lambda epoch: 0.5 ** epoch, lambda epoch: epoch // 4])
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.0]          # epoch 0: 0.1 * 1, 0.03 * 0
    assert [g["initial_lr"] for g in optimizer.param_groups] == scheduler.base_lrs == [0.1, 0.03]
    rates = learning_rates(optimizer, [scheduler])
    assert rates[-1] == [0.1 * 0.5 ** EPOCHS, 0.03 * (EPOCHS // 4)] and scheduler.last_epoch == EPOCHS


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_lr_sequence_is_torch_s_exactly(schedule):
    torch = require("torch")
    ours_optimizer, theirs_optimizer = two_groups(optim), two_groups(torch.optim)
    ours = learning_rates(ours_optimizer, SCHEDULES[schedule](optim, ours_optimizer))
    theirs = learning_rates(theirs_optimizer, SCHEDULES[schedule](torch.optim, theirs_optimizer))
    assert ours == theirs
    assert [g["lr"] for g in ours_optimizer.param_groups] == [g["lr"] for g in theirs_optimizer.param_groups]


def test_the_scheduled_lr_is_the_one_the_next_step_uses():
    p = Tensor([0.0], requires_grad=True)
    optimizer = optim.SGD([p], lr=1.0)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for _ in range(5):
        p.grad = np.array([1.0])
        optimizer.step()
        scheduler.step()
    assert p.data[0] == -(1.0 + 1.0 + 0.5 + 0.5 + 0.25)


def test_stepping_the_scheduler_before_the_optimizer_warns_as_torch_does():
    optimizer = two_groups(optim)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        scheduler.step()
    optimizer = two_groups(optim)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer.step()
        scheduler.step()
        scheduler.step()            # only the first step is checked, as in torch


def test_schedulers_refuse_what_torch_refuses():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(two_groups(optim), [lambda epoch: 1.0])
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.ExponentialLR(two_groups(optim), gamma=0.5, last_epoch=3)


def test_a_resumed_schedule_continues_from_last_epoch():
    optimizer = two_groups(optim)
    lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1)
    resumed = lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1, last_epoch=1)
    assert resumed.last_epoch == 2 and resumed.get_last_lr() == [0.1, 0.03]
    optimizer.step()
    resumed.step()
    assert resumed.get_last_lr() == [0.1 * 0.1, 0.03 * 0.1]
