"""LayerNorm over the last dimension, built from engine ops (so its gradient comes from ops.py):
y = (x - mean) / sqrt(var + eps) * weight + bias, mean and the biased variance over the last axis."""
import numpy as np

from ..tensor import Tensor
from .module import Module


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype=np.float64):
        super().__init__()
        self.normalized_shape, self.eps = normalized_shape, eps
        if elementwise_affine:
            self.weight = Tensor(np.ones(normalized_shape, dtype=dtype), requires_grad=True)
            self.bias = Tensor(np.zeros(normalized_shape, dtype=dtype), requires_grad=True)
        else:
            self.weight = self.bias = None

    def forward(self, x):
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        y = centred / (variance + self.eps).sqrt()
        return y if self.weight is None else y * self.weight + self.bias

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"
