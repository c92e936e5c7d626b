"""Activations as modules, so each one runs under its own name (`activations.3 (Tanh)`)."""
from .module import Module


class Identity(Module):
    def forward(self, x):
        return x


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


ACTIVATIONS = {"linear": Identity, "tanh": Tanh, "relu": ReLU, "sigmoid": Sigmoid}


def activation(name):
    """A fresh activation module by name: linear, tanh, relu or sigmoid."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: unknown name {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()
