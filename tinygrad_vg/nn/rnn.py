"""A vanilla RNN unrolled over time: h_t = phi(x_t @ weight_ih.T + h_{t-1} @ weight_hh.T + bias).

Backpropagation through time is ordinary backward over the unrolled graph. The same weight_hh
multiplies the gradient at every step, so over T steps it is scaled by roughly T factors of
weight_hh^T diag(phi'): its eigenvalues decide whether the gradient vanishes or explodes.

nonlinearity is "tanh" or "relu" as in PyTorch, or "linear" (phi(z) = z), which PyTorch's RNN does
not have: this project's addition, so that the theory is exact, dL/dh_t = dL/dh_T weight_hh^(T-t).
"""
import math

import numpy as np

from ..tensor import Tensor, stack
from . import init
from .linear import linear
from .module import Module

NONLINEARITIES = {"tanh": Tensor.tanh, "relu": Tensor.relu, "linear": lambda z: z}


class RNN(Module):
    def __init__(self, input_size, hidden_size, nonlinearity="tanh", dtype=np.float64, rng=None):
        """Weights and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in PyTorch."""
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"RNN: nonlinearity must be 'tanh', 'relu' or 'linear', got {nonlinearity!r}")
        rng = np.random.default_rng(rng)
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        bound = 1 / math.sqrt(hidden_size)

        def parameter(*shape):
            return init.uniform_(Tensor(np.empty(shape, dtype=dtype), requires_grad=True), -bound, bound, rng)

        self.weight_ih = parameter(hidden_size, input_size)
        self.weight_hh = parameter(hidden_size, hidden_size)
        self.bias = parameter(hidden_size)
        self.hidden_states = []

    def forward(self, x, h0=None):
        """x of shape (T, batch, input_size) -> (outputs of shape (T, batch, hidden_size), h_T).

        Afterwards `self.hidden_states` is [h_0, h_1, ..., h_T], nodes of the graph that ask to keep
        their gradient (retain_grad): after backward, hidden_states[t].grad is the gradient of the
        loss with respect to h_t, through time.
        """
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"RNN: input must have shape (T, batch, {self.input_size}), got {x.shape}")
        h = h0 if h0 is not None else Tensor(np.zeros((x.shape[1], self.hidden_size), dtype=self.weight_hh.dtype))
        states = [h]
        for t in range(x.shape[0]):
            z = linear(x[t], self.weight_ih) + linear(h, self.weight_hh, self.bias)
            h = NONLINEARITIES[self.nonlinearity](z)
            if h.requires_grad:
                h.retain_grad()
            states.append(h)
        self.hidden_states = states
        return stack(states[1:]), h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
