"""Linear: y = x @ weight.T + bias, with weight of shape (out_features, in_features) as in PyTorch,
and `linear`, the one op it runs (PyTorch's F.linear)."""
import math

import numpy as np

from .. import ops
from ..tensor import Tensor, apply
from . import init
from .module import Module


def linear(input, weight, bias=None):
    """input @ weight.T + bias, recorded as one node `linear` (as PyTorch records addmm) rather
    than a matmul and an add: the graph keeps one array for it, not two. Its inputs are input,
    weight and, when given, bias; an ndarray becomes a constant tensor."""
    given = (input, weight) if bias is None else (input, weight, bias)
    return apply(ops.Linear(), *[t if isinstance(t, Tensor) else Tensor(t) for t in given])


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
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
