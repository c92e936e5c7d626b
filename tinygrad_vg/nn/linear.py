"""Linear: y = x @ weight.T + bias, with weight of shape (out_features, in_features) as in PyTorch."""
import math

import numpy as np

from ..tensor import Tensor
from . import init
from .module import Module


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True, dtype=np.float64, rng=None):
        """PyTorch's default init: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features))
        (kaiming_uniform_ with a = sqrt(5) for the weight). Either size may be 0, as in PyTorch:
        Linear(0, n) maps (B, 0) to its bias broadcast to (B, n), and that bias starts at 0."""
        super().__init__()
        rng = np.random.default_rng(rng)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Tensor(np.empty((out_features, in_features), dtype=dtype), requires_grad=True)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if bias:
            bound = 1 / math.sqrt(in_features) if in_features else 0.0
            self.bias = init.uniform_(Tensor(np.empty(out_features, dtype=dtype), requires_grad=True),
                                      -bound, bound, rng)
        else:
            self.bias = None

    def forward(self, x):
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
