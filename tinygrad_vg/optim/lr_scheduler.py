"""Learning-rate schedules that step as torch.optim.lr_scheduler's do.

A scheduler writes each parameter group's "lr". At construction it records the group's lr as
"initial_lr" (base_lrs) and takes the first step, to epoch 0; then `scheduler.step()` is called once
per epoch, *after* `optimizer.step()` (calling it before skips the schedule's first value, so it
warns, as PyTorch does). StepLR and ExponentialLR multiply the group's current lr, so they compose
with other changes to it (chainable); LambdaLR recomputes it from base_lrs.

    StepLR:         lr_e = lr_(e-1) gamma if e is a non-zero multiple of step_size, else lr_(e-1)
    ExponentialLR:  lr_e = lr_(e-1) gamma (epoch 0 keeps the initial lr)
    LambdaLR:       lr_e = initial_lr lr_lambda(e)   (epoch 0 included)
"""
import warnings

from .optimizer import Optimizer


class LRScheduler:
    def __init__(self, optimizer, last_epoch=-1):
        """`last_epoch` other than -1 resumes a schedule: every group must then hold "initial_lr"."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for index, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"param 'initial_lr' is not specified in param_groups[{index}] when "
                               "resuming scheduler with last_epoch >= 0")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.steps_taken = 0                    # the constructor's step included
        self.optimizer_steps_at_start = optimizer.steps_taken
        self.initial = True
        self.step()
        self.initial = False

    def get_lr(self):
        """The groups' learning rates at epoch `last_epoch` (just incremented by step)."""
        raise NotImplementedError

    def get_last_lr(self):
        """The learning rates the last step set, one per parameter group."""
        return list(self.last_lr)

    def step(self):
        """Advance one epoch and write the new learning rates into the optimizer's groups."""
        if self.steps_taken == 1 and self.optimizer.steps_taken == self.optimizer_steps_at_start:
            warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`: the "
                          "optimizer should step first, or the schedule's first learning rate is "
                          "skipped", UserWarning, stacklevel=2)
        self.steps_taken += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self.last_lr = [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """lr *= gamma every step_size epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class ExponentialLR(LRScheduler):
    """lr *= gamma every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.initial:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch); lr_lambda is one function or a list of one per group."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        groups = optimizer.param_groups
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(groups):
                raise ValueError(f"Expected {len(groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(groups)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]
