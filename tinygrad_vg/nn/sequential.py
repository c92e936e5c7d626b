"""Sequential: runs its children in order, named "0", "1", "2", ... as in PyTorch.

It is a ModuleList with a forward (PyTorch keeps the two apart; their list methods are the same).
A plain callable among its entries (a function, a lambda) is wrapped in a Lambda module, so it is
counted, named and run in its place like any layer.
"""
from .module import Module
from .module_list import ModuleList


def function_name(fn):
    """fn's __name__ (`<lambda>` for a lambda), or the name of its type for a callable object."""
    return getattr(fn, "__name__", type(fn).__name__)


class Lambda(Module):
    """A plain function of tensors as a module; its label names the function: `1 (Lambda: double)`."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.rename(self.path)          # Module.__init__ labelled it before fn was known

    def type_name(self):
        return f"Lambda: {function_name(self.fn)}"

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def extra_repr(self):
        return function_name(self.fn)


class Sequential(ModuleList):
    def __init__(self, *modules):
        super().__init__(modules)

    def checked(self, value, position):
        """A Module as it is, any other callable wrapped in a Lambda; a TypeError for the rest."""
        if isinstance(value, (Module, type)):
            return super().checked(value, position)
        if not callable(value):
            raise TypeError(f"Sequential: item {position} is of type {type(value).__name__}, "
                            "neither a Module nor callable")
        return Lambda(value)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def forward_with_outputs(self, x):
        """(final output, [output of each child in order]): every one is a node of the graph that
        asks to keep its gradient (retain_grad), so after loss.backward() its .grad is the gradient
        of the loss with respect to it."""
        outputs = []
        for module in self._modules.values():
            x = module(x)
            if x.requires_grad:
                x.retain_grad()
            outputs.append(x)
        return x, outputs

    @property
    def output_names(self):
        """The dotted paths of the children, aligned with forward_with_outputs' list."""
        return [module.path for module in self._modules.values()]
