"""Dropout, inverted as in PyTorch: in training mode y = x * mask / (1 - p), each mask entry 0 with
probability p and 1 otherwise, drawn afresh at each call; in evaluation mode y = x.

Dividing by 1 - p keeps E[y] = x, so evaluation needs no rescaling. The mask enters the graph as a
constant factor, so dy/dx = mask / (1 - p): the dropped units pass no gradient back.
"""
import numpy as np

from .module import Module


class Dropout(Module):
    def __init__(self, p=0.5, rng=None):
        """rng: a numpy.random.Generator, a seed, or None for a fresh generator (seed it to reproduce a run)."""
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p, self.rng = p, np.random.default_rng(rng)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p == 1:         # every unit dropped (PyTorch returns zeros); 1 / (1 - p) has no value
            return x * np.zeros(x.shape, x.dtype)
        keep = self.rng.random(x.shape) >= self.p       # random() is uniform on [0, 1): P(keep) = 1 - p
        return x * (keep / (1 - self.p)).astype(x.dtype)

    def extra_repr(self):
        return f"p={self.p}"
