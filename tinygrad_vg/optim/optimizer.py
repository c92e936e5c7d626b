"""Optimizer: what every update rule shares, as in torch.optim.Optimizer.

The parameters are held in `param_groups`, a list of dicts: each has "params" (a list of tensors)
and every hyperparameter ("lr", "momentum", ...), taken from the constructor's defaults unless the
group gives its own. Schedulers and users change a rule's hyperparameters by writing into these
dicts between steps. `state[p]` is a dict per parameter (tensors hash by identity), filled by the
rule on the parameter's first step.

`step()` applies the rule to each parameter whose .grad is not None (a parameter without a gradient
is skipped, its state untouched), with g = -grad when the group says `maximize`. A rule reads the
gradient and never writes into it (an intermediate's .grad may be a view shared with a neighbour,
see Tensor.backward); it writes into `p.data` in place, which is stamped like any in-place write,
so a graph recorded before the step refuses to run backward through the old values. The rule works
on numpy arrays only, so no graph is recorded, and buffers and parameters keep their dtype.
"""
from collections import defaultdict

from ..tensor import Tensor


def check_non_negative(values):
    """PyTorch's ValueError for the first value below 0 (or NaN), as `Invalid learning rate: -0.1`;
    `values` maps each one's description ("learning rate") to it, in the order torch checks them."""
    for what, value in values.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {what}: {value}")


class Optimizer:
    def __init__(self, params, defaults):
        """`params`: an iterable of tensors, or of dicts {"params": tensors, hyperparameter: value}
        (one parameter group each). Errors are PyTorch's."""
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors "
                            "or dicts, but got Tensor")
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self.steps_taken = 0
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group {"params": ..., hyperparameter: value}; missing hyperparameters take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
        taken = {p for group in self.param_groups for p in group["params"]}
        if not taken.isdisjoint(params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        self.param_groups.append(group)

    def zero_grad(self):
        """Set every parameter's .grad to None (PyTorch's default, set_to_none=True)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        """One update of every parameter that has a gradient, by the subclass's `update`."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    g = -p.grad if group["maximize"] else p.grad
                    self.update(p, g, self.state[p], group)
        self.steps_taken += 1

    def update(self, p, g, state, group):
        """Apply the rule to parameter p with gradient g (to read, never to write into), its state
        dict and its group's hyperparameters."""
        raise NotImplementedError
