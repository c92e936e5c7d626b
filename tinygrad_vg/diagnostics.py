"""Where, layer by layer, a deep chain's gradient grows or shrinks.

For a chain h_0 -> h_1 -> ... -> h_L -> loss, write g_l = dLoss/dh_l. Backward carries g_L down to
g_0 one layer at a time, g_{l-1} = g_l J_l with J_l = dh_l/dh_{l-1}, so

    |g_{l-1}| / |g_L| = prod_{k=l..L} gain_k,    gain_k = |g_{k-1}| / |g_k|,

and sigma_min(J_k) <= gain_k <= sigma_max(J_k). The report measures each factor, reads the
singular values of J_k off the graph (chain_rule.jacobian) when the layer is small, and changes
nothing: it reads the .grad that loss.backward() left on each layer output (or, for an output that
did not ask to keep it, the gradient chain_rule.gradients computes again from loss.grad).
"""
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from . import chain_rule
from .views.text import log_axis, log_bars
from .norms import global_norm
from .tensor import Tensor
from .views.notebook import Shown

HOW_TO_GET_OUTPUTS = "`output, outputs = model.forward_with_outputs(x)` (Sequential, DeepChain) returns them"


def norm(array):
    """The Frobenius norm of one array, without overflow or underflow (norms.global_norm)."""
    return global_norm([np.asarray(array)])


def ratio(top, bottom):
    """top / bottom for norms, where x / 0 is inf (or nan for 0 / 0) instead of an exception."""
    if top is None or bottom is None:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(top) / np.float64(bottom))


def singular_values(output, input, max_size):
    """Singular values (descending) of d output / d input, or None when either side has more than
    max_size elements or the Jacobian is not finite."""
    if output.size > max_size or input.size > max_size:
        return None
    matrix = chain_rule.jacobian(output, input).reshape(output.size, input.size)
    if not np.all(np.isfinite(matrix)):
        return None
    return np.linalg.svd(matrix, compute_uv=False)


@dataclass
class LayerRecord:
    """One layer l of the chain (1-based), h_l its output, g_l = dLoss/dh_l.

    activation_norm   |h_l|
    grad_norm         |g_l|
    gain              |g_{l-1}| / |g_l|: how layer l scales the gradient passing back through it
                      (None for layer 1 unless the chain's input, with its grad, was given)
    cumulative_gain   gain_L * ... * gain_l = |g_{l-1}| / |g_L|
    weight_grad_norm  |dLoss/dW_l| over the layer's weight tensors, None when it has none
    jacobian_singular_values   of dh_l/dh_{l-1} (whole batch), descending; None for big layers
    """
    layer: int
    shape: tuple
    activation_norm: float
    grad_norm: float
    gain: float | None
    cumulative_gain: float | None
    weight_grad_norm: float | None
    jacobian_singular_values: np.ndarray | None

    def to_dict(self):
        record = dict(vars(self))
        record["shape"] = list(self.shape)
        if self.jacobian_singular_values is not None:
            record["jacobian_singular_values"] = [float(s) for s in self.jacobian_singular_values]
        return record


def layer_output_list(layer_outputs):
    """layer_outputs as a list, or a TypeError saying what was given instead of Tensors."""
    if isinstance(layer_outputs, Tensor) or not isinstance(layer_outputs, Iterable):
        raise TypeError("chain_report: layer_outputs must be an iterable of the Tensors h_1 .. h_L of one "
                        f"forward pass, got {type(layer_outputs).__name__}; {HOW_TO_GET_OUTPUTS}")
    outputs = list(layer_outputs)
    for k, h in enumerate(outputs):
        if not isinstance(h, Tensor):
            raise TypeError(f"chain_report: layer_outputs[{k}] is of type {type(h).__name__}, not a Tensor; "
                            f"{HOW_TO_GET_OUTPUTS}")
    return outputs


def weight_groups(weights, depth):
    """weights as one list of tensors per layer ([] where an entry, or weights itself, is None),
    after checking that every entry is what chain_report's docstring allows."""
    if weights is None:
        return [[] for _ in range(depth)]
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"chain_report: weights must be a sequence with one entry per layer, "
                        f"got {type(weights).__name__}")
    if len(weights) != depth:
        raise ValueError(f"chain_report: {len(weights)} weight entries for {depth} layers")
    groups = []
    for l, entry in enumerate(weights):
        if entry is not None and not isinstance(entry, (Tensor, list, tuple)):
            raise TypeError(f"chain_report: weights[{l}] must be None, a Tensor or a sequence of Tensors, "
                            f"got {type(entry).__name__}")
        group = [] if entry is None else [entry] if isinstance(entry, Tensor) else list(entry)
        for k, w in enumerate(group):
            if not isinstance(w, Tensor):
                raise TypeError(f"chain_report: weights[{l}][{k}] is of type {type(w).__name__}, not a Tensor")
        groups.append(group)
    return groups


def describe(value, spec=".3e"):
    return "-" if value is None else format(value, spec)


@dataclass
class ChainReport(Shown):
    """The per-layer records, and the chain end to end.

    end_to_end_ratio   |g_first| / |g_L| measured directly, where first is the input when it was
                       given with its grad, else layer 1: the running product of gains ends there
    end_to_end_singular_values   of dh_L/dh_first, or None when too big
    """
    layers: list
    loss: float
    input_norm: float | None
    input_grad_norm: float | None
    end_to_end_ratio: float | None
    end_to_end_singular_values: np.ndarray | None

    def to_dicts(self):
        """One plain dict per layer, ready for json."""
        return [record.to_dict() for record in self.layers]

    def to_dict(self):
        """The whole report as plain data, ready for json."""
        spectrum = self.end_to_end_singular_values
        return {"loss": self.loss, "input_norm": self.input_norm, "input_grad_norm": self.input_grad_norm,
                "end_to_end_ratio": self.end_to_end_ratio,
                "end_to_end_singular_values": None if spectrum is None else [float(s) for s in spectrum],
                "layers": self.to_dicts()}

    def table(self, bar_width=30):
        """The aligned per-layer table, with a log-scale bar of |dL/dh| per layer."""
        bars, (low, high) = log_bars([r.grad_norm for r in self.layers], bar_width)
        header = ["layer", "shape", "|h|", "|dL/dh|", "gain", "cumulative", "|dL/dW|",
                  "sigma_max", "sigma_min"]
        rows = []
        for record, bar in zip(self.layers, bars):
            spectrum = record.jacobian_singular_values
            rows.append([str(record.layer), "x".join(map(str, record.shape)),
                         describe(record.activation_norm), describe(record.grad_norm),
                         describe(record.gain, ".4f"), describe(record.cumulative_gain),
                         describe(record.weight_grad_norm),
                         describe(None if spectrum is None else spectrum[0], ".4f"),
                         describe(None if spectrum is None else spectrum[-1], ".4f")])
        widths = [max(len(row[k]) for row in rows + [header]) for k in range(len(header))]

        def line(cells, bar):
            return "  ".join(cell.rjust(width) for cell, width in zip(cells, widths)) + "  " + bar

        text = [f"chain report: {len(self.layers)} layers, loss {self.loss:.6g}",
                "  gain       = |dL/dh_(l-1)| / |dL/dh_l|: how layer l scales the gradient passing back",
                "  cumulative = product of the gains from the top = |dL/dh_(l-1)| / |dL/dh_L|",
                "  sigma      = largest and smallest singular values of the local Jacobian dh_l/dh_(l-1)",
                line(header, "|dL/dh| " + log_axis(low, high, bar_width)),
                *(line(row, "        " + bar).rstrip() for row, bar in zip(rows, bars))]
        if self.input_grad_norm is not None:
            text.append(f"input: |x| {describe(self.input_norm)}, |dL/dx| {describe(self.input_grad_norm)}")
        end = f"end to end: |dL/d(first)| / |dL/dh_L| = {describe(self.end_to_end_ratio)}"
        if self.end_to_end_singular_values is not None:
            spectrum = self.end_to_end_singular_values
            end += f"; singular values of dh_L/d(first) from {spectrum[0]:.4e} down to {spectrum[-1]:.4e}"
        text.append(end)
        return "\n".join(text)

    def __str__(self):
        return self.table()

    def display_title(self):
        return f"chain report: {len(self.layers)} layers, loss {self.loss:.6g}"

    def panels(self):
        """Per layer |dL/dh_l| and |dL/dW_l| on a log axis, and the table (views' vocabulary)."""
        layers = [record.layer for record in self.layers]
        lines = [{"label": "|dL/dh_l|", "x": layers, "y": [r.grad_norm for r in self.layers], "style": "o"}]
        if any(record.weight_grad_norm is not None for record in self.layers):
            lines.append({"label": "|dL/dW_l|", "x": layers, "y": [r.weight_grad_norm for r in self.layers],
                          "style": "C1s"})
        rows = [[r.layer, "x".join(map(str, r.shape)), r.activation_norm, r.grad_norm, r.gain, r.cumulative_gain,
                 r.weight_grad_norm, *(("-", "-") if r.jacobian_singular_values is None else
                                       (float(r.jacobian_singular_values[0]), float(r.jacobian_singular_values[-1])))]
                for r in self.layers]
        return [{"title": "gradient norms per layer", "xlabel": "layer l", "ylabel": "norm", "lines": lines},
                {"title": "per layer", "table": {
                    "header": ["layer", "shape", "|h_l|", "|dL/dh_l|", "gain", "cumulative", "|dL/dW_l|",
                               "sigma_max", "sigma_min"],
                    "rows": [["-" if cell is None else cell for cell in row] for row in rows]}}]


def chain_report(layer_outputs, loss, weights=None, input=None, spectra_max_size=128):
    """The per-layer report of a chain whose loss has been back-propagated.

    layer_outputs     h_1 .. h_L, the tensors of one forward pass, in order
    loss              the scalar loss tensor, after loss.backward()
    weights           optional, one entry per layer: None, a tensor, or a sequence of tensors
                      (e.g. (W_l, b_l)) whose gradients' joint norm is weight_grad_norm
    input             optional h_0: gives layer 1 its gain (if it has .grad) and its spectrum
    spectra_max_size  singular values are computed for a layer when h_(l-1) and h_l have at most
                      this many elements each (the end-to-end spectrum likewise)

    An argument of the wrong type (a model instead of its layer outputs, a float loss) is a
    TypeError that names what was given.
    """
    layer_outputs = layer_output_list(layer_outputs)
    if not layer_outputs:
        raise ValueError("chain_report: no layer outputs given")
    if not isinstance(loss, Tensor):
        raise TypeError(f"chain_report: loss must be a Tensor, got {type(loss).__name__}")
    if loss.size != 1:
        raise ValueError(f"chain_report: loss must have one element, got shape {loss.shape}")
    if input is not None and not isinstance(input, Tensor):
        raise TypeError(f"chain_report: input must be None or a Tensor, got {type(input).__name__}")
    # backward() keeps the gradients of the outputs that asked (retain_grad, as forward_with_outputs
    # does); the others are computed again from loss.grad
    found = {} if all(h.grad is not None for h in layer_outputs) else chain_rule.gradients(loss)
    grads = [h.grad if h.grad is not None else found.get(id(h)) for h in [input] + layer_outputs if h is not None]
    input_grad = grads.pop(0) if input is not None else None
    for l, (h, g) in enumerate(zip(layer_outputs, grads), 1):
        if g is None:
            raise RuntimeError(f"chain_report: layer {l}'s output (shape {h.shape}) has no .grad; "
                               "call loss.backward() first, with the layer outputs in its graph")
    weight_tensors = weight_groups(weights, len(layer_outputs))

    has_input_grad = input_grad is not None
    grad_norms = [norm(input_grad) if has_input_grad else None] + [norm(g) for g in grads]
    gains = [ratio(grad_norms[l - 1], grad_norms[l]) for l in range(1, len(grad_norms))]
    cumulative, running = [None] * len(gains), 1.0
    for l in reversed(range(len(gains))):
        if gains[l] is None:
            break
        running *= gains[l]
        cumulative[l] = running

    records = []
    for l, h in enumerate(layer_outputs):
        previous = layer_outputs[l - 1] if l else input
        weight_grads = [w.grad for w in weight_tensors[l] if w.grad is not None]
        records.append(LayerRecord(
            layer=l + 1, shape=tuple(h.shape), activation_norm=norm(h.data), grad_norm=grad_norms[l + 1],
            gain=gains[l], cumulative_gain=cumulative[l],
            weight_grad_norm=global_norm(weight_grads) if weight_grads else None,
            jacobian_singular_values=None if previous is None else
            singular_values(h, previous, spectra_max_size)))

    first = input if input is not None else layer_outputs[0]
    first_grad_norm = grad_norms[0] if has_input_grad else grad_norms[1]
    return ChainReport(
        layers=records, loss=float(loss.data.reshape(())),
        input_norm=None if input is None else norm(input.data),
        input_grad_norm=grad_norms[0],
        end_to_end_ratio=ratio(first_grad_norm, grad_norms[-1]),
        end_to_end_singular_values=None if first is layer_outputs[-1] else
        singular_values(layer_outputs[-1], first, spectra_max_size))
