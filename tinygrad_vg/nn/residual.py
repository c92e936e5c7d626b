"""Residual: x + alpha * block(x). The identity path gives the gradient a route that no layer scales."""
from .module import Module


class Residual(Module):
    def __init__(self, block, alpha=1.0):
        super().__init__()
        self.block, self.alpha = block, alpha

    def forward(self, x):
        return x + self.alpha * self.block(x)

    def extra_repr(self):
        return f"alpha={self.alpha}"
