"""Module: the base class of layers. It registers child modules and parameters by attribute.

`self.linear = Linear(3, 4)` registers a child; `self.weight = Tensor(w, requires_grad=True)`
registers a parameter (a leaf tensor that requires grad). Every module knows its dotted path inside
its root (`layers.37`) and, while it runs, puts the label `layers.37 (Linear)` on anomaly's module
stack, so a NonFiniteError raised by an op inside it can say which layer produced the bad value.

Modules in a plain list, tuple or dict attribute would not be registered (their parameters would be
missing from .parameters()), so assigning one is a TypeError, unless each module in it is registered
already through another attribute: nn.ModuleList and nn.Sequential hold them.

`training` (True when made) is the mode: train() and eval() set it on the module and, recursively,
its children, as in PyTorch; BatchNorm1d and Dropout read it. A buffer (register_buffer) is a
tensor the module keeps but training does not learn, such as BatchNorm1d's running mean: it is in
named_buffers(), not in parameters().
"""
from .. import anomaly
from ..tensor import Tensor


def is_parameter(value):
    """A parameter is a leaf tensor that requires grad (an intermediate result is not)."""
    return isinstance(value, Tensor) and value.requires_grad and value.op is None


def hides_modules(owner, name, container):
    """Whether the list, tuple or dict `container`, assigned to owner.name, holds a module that would
    not stay registered: one outside owner's other children (a list of aliases hides nothing)."""
    items = container.values() if isinstance(container, dict) else container
    modules = [item for item in items if isinstance(item, Module)]
    if not modules:
        return False
    registered = {id(m) for other, child in owner._modules.items() if other != name for _, m in child.named_modules()}
    return any(id(m) not in registered for m in modules)


class Module:
    def __init__(self):
        d = self.__dict__
        d["_modules"], d["_parameters"], d["_buffers"] = {}, {}, {}
        d["path"], d["label"], d["training"] = "", type(self).__name__, True

    def __setattr__(self, name, value):
        if "_modules" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning "
                                 f"attribute {name!r}")
        if isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value            # a replaced child keeps its place, as in PyTorch
            value.rename(f"{self.path}.{name}" if self.path else name)
        elif name in self._buffers:
            self.check_buffer(name, value)
            self._buffers[name] = value
        elif is_parameter(value):
            self._modules.pop(name, None)
            self._parameters[name] = value
        else:
            if isinstance(value, (list, tuple, dict)) and hides_modules(self, name, value):
                raise TypeError(f"{type(self).__name__}.{name}: a {type(value).__name__} of modules would not be "
                                "registered (their parameters would be missing from .parameters()); "
                                "hold them in an nn.ModuleList or an nn.Sequential")
            self._modules.pop(name, None)
            self._parameters.pop(name, None)
        object.__setattr__(self, name, value)

    def register_buffer(self, name, tensor):
        """Keep `tensor` (a Tensor that does not require grad, or None) as the buffer self.name."""
        self.check_buffer(name, tensor)
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    def check_buffer(self, name, value):
        if value is not None and not (isinstance(value, Tensor) and not value.requires_grad):
            given = "one that requires grad" if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"{type(self).__name__}.{name}: a buffer is a Tensor that does not require grad, "
                            f"or None; got {given}")

    def rename(self, path):
        """Give this module the dotted path `path` and its descendants the paths below it."""
        stack = [(self, path)]
        while stack:
            module, path = stack.pop()
            module.__dict__["path"] = path
            module.__dict__["label"] = f"{path} ({module.type_name()})" if path else module.type_name()
            stack.extend((child, f"{path}.{name}" if path else name) for name, child in module._modules.items())

    def __call__(self, *args, **kwargs):
        # The same as `with anomaly.module_scope(self.label)`, without a generator per call:
        # deep chains call thousands of modules per step.
        stack = anomaly.module_stack
        stack.append(self.label)
        try:
            return self.forward(*args, **kwargs)
        finally:
            stack.pop()

    def type_name(self):
        """What the label shows beside the path: the class name (a Lambda adds its function's)."""
        return type(self).__name__

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def named_modules(self):
        """(relative dotted name, module) for this module ('' ) and every descendant, each once,
        parents before children, in the order they were assigned."""
        seen, stack, out = set(), [("", self)], []
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            out.append((name, module))
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))
        return out

    def named_children(self):
        return list(self._modules.items())

    def children(self):
        return list(self._modules.values())

    def named_parameters(self):
        """(dotted name, parameter) for every parameter of this module and its descendants, each once."""
        seen, out = set(), []
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{prefix}.{name}" if prefix else name, p))
        return out

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self):
        """(dotted name, buffer) for every buffer of this module and its descendants that is not None."""
        return [(f"{prefix}.{name}" if prefix else name, b)
                for prefix, module in self.named_modules() for name, b in module._buffers.items() if b is not None]

    def buffers(self):
        return [b for _, b in self.named_buffers()]

    def train(self, mode=True):
        """Set training mode (True) or evaluation mode (False) on this module and its children; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode, the same as train(False): BatchNorm1d uses its running statistics, Dropout passes x on."""
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def extra_repr(self):
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        body = "".join(f"\n  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items())
        return head + body + "\n)"
