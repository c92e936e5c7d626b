"""Module: the base class of layers. It registers child modules and parameters by attribute.

`self.linear = Linear(3, 4)` registers a child; `self.weight = Tensor(w, requires_grad=True)`
registers a parameter (a leaf tensor that requires grad). Every module knows its dotted path inside
its root (`layers.37`) and, while it runs, puts the label `layers.37 (Linear)` on anomaly's module
stack, so a NonFiniteError raised by an op inside it can say which layer produced the bad value.
"""
from .. import anomaly
from ..tensor import Tensor


def is_parameter(value):
    """A parameter is a leaf tensor that requires grad (an intermediate result is not)."""
    return isinstance(value, Tensor) and value.requires_grad and value.op is None


class Module:
    def __init__(self):
        d = self.__dict__
        d["_modules"], d["_parameters"] = {}, {}
        d["path"], d["label"] = "", type(self).__name__

    def __setattr__(self, name, value):
        if "_modules" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning "
                                 f"attribute {name!r}")
        self._modules.pop(name, None)
        self._parameters.pop(name, None)
        if isinstance(value, Module):
            self._modules[name] = value
            value.rename(f"{self.path}.{name}" if self.path else name)
        elif is_parameter(value):
            self._parameters[name] = value
        object.__setattr__(self, name, value)

    def rename(self, path):
        """Give this module the dotted path `path` and its descendants the paths below it."""
        stack = [(self, path)]
        while stack:
            module, path = stack.pop()
            module.__dict__["path"] = path
            module.__dict__["label"] = f"{path} ({type(module).__name__})" if path else type(module).__name__
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
