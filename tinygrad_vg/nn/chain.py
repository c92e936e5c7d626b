"""DeepChain: the deep chain every experiment of the project studies.

h_0 = x of shape (batch, width); for l = 1..L:  z_l = h_{l-1} @ W_l.T + b_l,  h_l = phi(z_l)
(with norm="layer" or "batch": h_l = phi(LayerNorm(z_l)) or phi(BatchNorm1d(z_l)); with dropout=p:
h_l = Dropout_p(phi(...)); with residual: h_l = h_{l-1} + alpha * (what h_l was without it)).
Layer l is the module `layers.{l-1}` (0-based, as PyTorch names children), its activation
`activations.{l-1}`, its norm `norms.{l-1}`, its dropout `dropouts.{l-1}`, so an overflow in layer
38's linear op (x @ W.T + b, one node) is reported as "linear in layers.37 (Linear)".

Initialisations (biases are zero unless said otherwise):
  identity    W = scale * I                       (the "a bit larger or smaller than I" chain)
  normal      W ~ N(0, sigma_w^2 / width), b ~ N(0, sigma_b^2)   (the mean-field convention)
  xavier      W ~ N(0, scale^2 * 2 / (fan_in + fan_out))         (Glorot)
  he          W ~ N(0, scale^2 * 2 / fan_in)                     (He, for relu)
  orthogonal  W = scale * Q, Q Haar-random orthogonal
  default     PyTorch's Linear default: W, b ~ U(-1/sqrt(width), 1/sqrt(width))
"""
import numpy as np

from ..tensor import Tensor
from . import init as initialisers
from .activations import activation as make_activation
from .batch_norm import BatchNorm1d
from .dropout import Dropout
from .layer_norm import LayerNorm
from .linear import Linear
from .module import Module
from .sequential import Sequential

INITS = ("identity", "normal", "xavier", "he", "orthogonal", "default")
NORMS = {"layer": LayerNorm, "batch": BatchNorm1d}


def initialise(layer, scheme, scale, sigma_w, sigma_b, rng):
    w, b = layer.weight, layer.bias
    if scheme == "default":
        return
    if scheme == "identity":
        initialisers.identity_(w, scale)
    elif scheme == "normal":
        initialisers.normal_(w, 0.0, sigma_w / np.sqrt(layer.in_features), rng)
    elif scheme == "xavier":
        initialisers.xavier_normal_(w, gain=scale, rng=rng)
    elif scheme == "he":
        initialisers.normal_(w, 0.0, scale * initialisers.kaiming_std(w, 0.0, "fan_in", "relu"), rng)
    elif scheme == "orthogonal":
        initialisers.orthogonal_(w, gain=scale, rng=rng)
    if b is not None:
        if scheme == "normal" and sigma_b:
            initialisers.normal_(b, 0.0, sigma_b, rng)
        else:
            initialisers.constant_(b, 0.0)


class DeepChain(Module):
    def __init__(self, depth, width, activation="linear", init="identity", scale=1.0, sigma_w=1.0,
                 sigma_b=0.0, residual=False, alpha=1.0, norm=None, dropout=0.0, bias=True, dtype=np.float64,
                 rng=None):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"DeepChain: unknown init {init!r}; choose one of {', '.join(INITS)}")
        if norm is not None and not (isinstance(norm, str) and norm in NORMS):
            raise ValueError(f"DeepChain: unknown norm {norm!r}; choose None, 'layer' (LayerNorm) or 'batch' "
                             "(BatchNorm1d), placed before each activation")
        if depth < 1 or width < 1:
            raise ValueError(f"DeepChain: depth and width must be at least 1, got depth={depth}, width={width}")
        rng = np.random.default_rng(rng)
        self.depth, self.width, self.dtype = depth, width, np.dtype(dtype)
        self.config = dict(depth=depth, width=width, activation=activation, init=init, scale=scale,
                           sigma_w=sigma_w, sigma_b=sigma_b, residual=residual, alpha=alpha, norm=norm,
                           dropout=dropout, bias=bias, dtype=self.dtype.name)
        self.layers = Sequential(*[Linear(width, width, bias=bias, dtype=dtype, rng=rng) for _ in range(depth)])
        for layer in self.layers:
            initialise(layer, init, scale, sigma_w, sigma_b, rng)
        self.norms = Sequential(*[NORMS[norm](width, dtype=dtype) for _ in range(depth)]) if norm else None
        self.activations = Sequential(*[make_activation(activation) for _ in range(depth)])
        if dropout:
            # a seed per layer, drawn after the weights: a seeded chain has the same weights with or without dropout
            self.dropouts = Sequential(*[Dropout(dropout, rng=seed) for seed in rng.integers(2 ** 63, size=depth)])
        else:
            self.dropouts = None
        self.residual, self.alpha = residual, alpha

    def forward(self, x):
        return self.forward_with_outputs(x)[0]

    def forward_with_outputs(self, x):
        """(h_L, [h_1, ..., h_L]): each h_l is a node of the graph that asks to keep its gradient
        (retain_grad), so after loss.backward() h_l.grad is dLoss/dh_l. An ndarray input is cast to
        the chain's dtype."""
        h = x if isinstance(x, Tensor) else Tensor(x, dtype=self.dtype)
        outputs = []
        norms = self.norms or [None] * self.depth
        dropouts = self.dropouts or [None] * self.depth
        for layer, norm, phi, drop in zip(self.layers, norms, self.activations, dropouts):
            z = layer(h)
            a = phi(z if norm is None else norm(z))
            a = a if drop is None else drop(a)
            h = h + self.alpha * a if self.residual else a
            if h.requires_grad:
                h.retain_grad()
            outputs.append(h)
        return h, outputs

    @property
    def output_names(self):
        """Names aligned with forward_with_outputs' list: the Linear of each layer."""
        return [layer.path for layer in self.layers]

    @property
    def weights(self):
        """[W_1, ..., W_L]."""
        return [layer.weight for layer in self.layers]

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())
