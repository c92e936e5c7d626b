"""The chain rule read as a sum over paths.

For y built from x by the engine,

    dy/dx = sum over every edge-path x -> n_1 -> ... -> y  of  J_k ... J_2 J_1,

where J_j is the local Jacobian of one op with respect to the input that the path enters it by.
x * x has two edges from x, so two paths, each with product diag(x): their sum is diag(2x).

Every local Jacobian here is read off the op's vjp (ops.py) by feeding it one-hot cotangents: this
file knows no derivative of its own. Nothing here writes `.grad` or changes the graph.
"""
from dataclasses import dataclass

import numpy as np

from . import graph
from .tensor import sweep_order
from .views.notebook import Shown


def one_hots(shape):
    """The identity as a stack of cotangents: row k is the one-hot array of `shape` at flat index k."""
    size = int(np.prod(shape, dtype=np.int64))
    return np.eye(size).reshape((size,) + tuple(shape))


def pull_back(node, i, cotangents):
    """Row k: the vjp of cotangent row k through node's op to its input i. (A vjp takes one
    cotangent of the output's shape at a time, so a batch of them is a loop.)"""
    rows = [node.op.vjp(g, i) for g in cotangents]
    return np.stack(rows) if rows else np.zeros((0,) + node.inputs[i].shape)


def local_jacobian(node, i):
    """d node / d node.inputs[i] for one op, shape node.shape + node.inputs[i].shape.

    Row k of the flattened Jacobian is the vjp of the k-th one-hot cotangent."""
    if node.op is None:
        raise ValueError(f"local_jacobian: the node of shape {node.shape} is a leaf (made by no op)")
    if not 0 <= i < len(node.inputs):
        raise IndexError(f"local_jacobian: {node.op.name} has {len(node.inputs)} inputs, asked for input {i}")
    rows = pull_back(node, i, one_hots(node.shape))
    return rows.reshape(node.shape + node.inputs[i].shape)


def reachable_between(output, input):
    """The nodes of output's graph that depend on `input` (input included), in topological order,
    and the set of their ids. Only these carry a path from input to output."""
    reached, between = {id(input)}, []
    for node in graph.topological_order(output):
        if node is input or any(id(parent) in reached for parent in node.inputs):
            reached.add(id(node))
            between.append(node)
    return between, reached


def jacobian(output, input):
    """d output / d input, shape output.shape + input.shape (zeros if output does not depend on input).

    One reverse sweep, like backward, but carrying the whole identity of cotangents (one per output
    element) instead of a single gradient, and only over the nodes that depend on `input`: that is
    output.size vjps per node and output.size x node.size numbers held per node, so it is meant for
    outputs of up to a few thousand elements."""
    between, reached = reachable_between(output, input)
    if id(output) not in reached:
        return np.zeros(output.shape + input.shape)
    pending = {id(output): one_hots(output.shape)}
    for node in reversed(between):
        cotangents = pending.pop(id(node))
        if node is input:
            return cotangents.reshape(output.shape + input.shape)
        for i, parent in enumerate(node.inputs):
            if id(parent) in reached:
                contribution = pull_back(node, i, cotangents)
                key = id(parent)
                pending[key] = contribution if key not in pending else pending[key] + contribution
    raise AssertionError("jacobian: the sweep never reached the input")  # unreachable: input is between[0]


def gradients(output):
    """{id(node): the gradient that output's last backward sent to node}, for every node of output's
    graph that requires grad, computed again without writing `.grad`: the intermediates' gradients
    that backward() frees once passed on (what backward(retain_grads=True) would have kept).

    The sweep is backward's, in the same order, seeded with output.grad, which backward keeps on the
    tensor it was called on. Gradients are linear in the seed, so after several backward calls from
    output this is their sum, as .grad would be. Empty when output has no .grad."""
    if getattr(output, "grad", None) is None:
        return {}
    found = {id(output): output.grad}
    for node in reversed(sweep_order(output)):
        g = found.get(id(node))
        for i, parent in enumerate(node.inputs if g is not None else ()):
            if parent.requires_grad:
                contribution = node.op.vjp(g, i).astype(parent.dtype, copy=False)
                key = id(parent)
                found[key] = contribution if key not in found else found[key] + contribution
    return found


def count_paths(output, input):
    """The number of edge-paths from input to output, an exact int, without listing them:
    paths(node) = sum over node's input edges of paths(that input), in topological order."""
    between, _ = reachable_between(output, input)
    count = {id(input): 1}
    for node in between:
        if node is not input:
            count[id(node)] = sum(count.get(id(parent), 0) for parent in node.inputs)
    return count.get(id(output), 0)


def short_name(node):
    """A node's name if it has one, else the op that made it (or `leaf`)."""
    if getattr(node, "name", None):
        return node.name
    return node.op.name if node.op is not None else "leaf"


@dataclass(frozen=True, repr=False)
class Path:
    """One edge-path from an input to an output.

    edges            ((input, output, position), ...) from the input to the output
    local_jacobians  the local Jacobian of each edge, shape edge_output.shape + edge_input.shape
    product          their chained product, shape output.shape + input.shape (it may underflow to 0
                     or overflow to inf when the path is long: log10_norm does not)
    log10_norm       log10 of the Frobenius norm of product, kept on a log scale at every step
    """
    edges: tuple
    local_jacobians: tuple
    product: np.ndarray
    log10_norm: float

    @property
    def magnitude(self):
        """The product as one number: itself between scalars, else its Frobenius norm."""
        return float(self.product.item()) if self.product.size == 1 else float(np.linalg.norm(self.product))

    def route(self, name=short_name):
        """The nodes the path passes through, input first: `x -> mul -> tanh -> mul`."""
        passed = [self.edges[0][0], *(node for _, node, _ in self.edges)] if self.edges else []
        return " -> ".join(name(node) for node in passed) or "(empty path: input is output)"

    def __str__(self):
        if not self.edges:
            return f"(empty path: input is output) log10|product| = {self.log10_norm:.4g}"
        steps = [short_name(self.edges[0][0])]
        for (parent, node, position), local in zip(self.edges, self.local_jacobians):
            derivative = f"{local.item():.6g}" if local.size == 1 else f"J{local.shape}"
            steps.append(f"-[{node.op.name}.{position}: {derivative}]-> {short_name(node)}")
        product = f"{self.product.item():.6g}" if self.product.size == 1 else f"array{self.product.shape}"
        return f"{' '.join(steps)}   product {product}   log10|product| {self.log10_norm:.4f}"

    __repr__ = __str__


class PathListing(list, Shown):
    """What paths() returns: the list of Paths (it indexes, iterates and sums as a list does) that
    also shows itself in a notebook: a row per path with its product, and their sum, the gradient."""

    def display_title(self):
        return f"{len(self)} paths: the gradient is the sum of their products"

    def panels(self):
        rows = [[k + 1, path.route(), path.magnitude, path.log10_norm] for k, path in enumerate(self)]
        if self:
            total = sum(path.product for path in self)
            rows.append(["sum", "= the gradient (jacobian)",
                         float(total.item()) if total.size == 1 else float(np.linalg.norm(total)), ""])
        numbers = list(range(1, len(self) + 1))
        return [{"title": "|product| of each path's local derivatives", "xlabel": "path", "ylabel": "|product|",
                 "lines": [{"label": "|product|", "x": numbers, "y": [abs(path.magnitude) for path in self],
                            "style": "o"}]},
                {"title": "the paths", "table": {"header": ["path", "through", "product (|product| for arrays)",
                                                            "log10 |product|"], "rows": rows}}]

    def __str__(self):
        return "\n".join([self.display_title(), *(f"{k + 1}: {path}" for k, path in enumerate(self))])

    def _repr_pretty_(self, printer, cycle):
        """IPython prints a list by its own rule, over the mime bundle's text/plain: this text instead."""
        printer.text(str(self))


def chain_product(local_jacobians, output_shape, input_shape):
    """(J_k ... J_1 as an array of shape output_shape + input_shape, log10 of its Frobenius norm).

    After each multiplication the running product is divided by a power of two near its largest
    entry (exact in floating point) and the exponent is added up, so no intermediate under- or
    overflows however long the path; only the returned product itself is scaled back."""
    input_size = int(np.prod(input_shape, dtype=np.int64))
    running, exponent = None, 0
    for local in local_jacobians:
        if running is None:
            running = local.reshape(-1, input_size)
        else:
            running = local.reshape(-1, running.shape[0]) @ running
        largest = np.max(np.abs(running)) if running.size else 0.0
        if 0 < largest < np.inf:            # a zero or non-finite product has nothing to rescale
            _, shift = np.frexp(largest)
            running = np.ldexp(running, -shift)
            exponent += int(shift)
    if running is None:                     # the empty path: the input is the output
        running = np.eye(input_size)
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        log10_norm = float(np.log10(np.linalg.norm(running)) + exponent * np.log10(2.0))
        product = np.ldexp(running, exponent)
    return product.reshape(tuple(output_shape) + tuple(input_shape)), log10_norm


def paths(output, input, max_paths=10_000):
    """Every edge-path from input to output with its local Jacobians, product and log10_norm.

    sum(p.product for p in paths(y, x)) == jacobian(y, x) up to rounding. Paths come in the order
    of the input positions taken, walking back from the output (position 0 first). Refuses, naming
    the count, when there are more than max_paths."""
    total = count_paths(output, input)
    if total > max_paths:
        raise ValueError(f"paths: there are {total} paths from the input of shape {input.shape} to the "
                         f"output of shape {output.shape}, more than max_paths={max_paths}; "
                         "count_paths() counts them without listing them")
    _, reached = reachable_between(output, input)
    if id(output) not in reached:
        return PathListing()
    local = {}          # (id(node), position) -> local Jacobian, shared by the paths through that edge
    found = []
    # Depth-first from the output, with an explicit stack of (node, rest): rest is the path from node
    # on to the output as a linked list (edge, rest'), so extending a path costs O(1), not O(length).
    stack = [(output, None)]
    while stack:
        node, rest = stack.pop()
        if node is not input:
            for position in reversed(range(len(node.inputs))):     # position 0 is popped first
                parent = node.inputs[position]
                if id(parent) in reached:
                    stack.append((parent, ((parent, node, position), rest)))
            continue
        edges, jacobians = [], []
        while rest is not None:
            (parent, child, position), rest = rest
            if (id(child), position) not in local:
                local[id(child), position] = local_jacobian(child, position)
            edges.append((parent, child, position))
            jacobians.append(local[id(child), position])
        product, log10_norm = chain_product(jacobians, output.shape, input.shape)
        found.append(Path(tuple(edges), tuple(jacobians), product, log10_norm))
    return PathListing(found)


def derivative_label(parent, node, position, max_entries=250_000):
    """An edge's local derivative for a drawing: the number itself when both ends are scalars, else
    the spectral norm of the local Jacobian (its largest singular value)."""
    if node.size * parent.size > max_entries:
        return f"{position}: J {node.shape}x{parent.shape}"
    local = local_jacobian(node, position)
    if local.size == 1:
        return f"{position}: {local.item():.4g}"
    if not np.all(np.isfinite(local)):     # an overflowed graph: no singular values to compute
        return f"{position}: J holds {'nan' if np.isnan(local).any() else 'inf'}"
    return f"{position}: |J|={np.linalg.norm(local.reshape(node.size, parent.size), 2):.3g}"


def to_dot(root, derivatives=True, values=True, highlight=None, max_nodes=60):
    """Graphviz text of root's graph: each edge labelled with its local derivative, each node with
    its value and gradient norm (an intermediate's that backward freed computed again from
    root.grad, by `gradients`), `highlight` (a Path, or its edges) drawn in red. Graphs of more
    than max_nodes nodes are summarised by op (see graph.to_dot)."""
    too_big = max_nodes is not None and len(graph.reachable(root)) > max_nodes     # drawn without values
    return graph.to_dot(root, edge_label=derivative_label if derivatives else None, values=values,
                        highlight=getattr(highlight, "edges", highlight), max_nodes=max_nodes,
                        grads=gradients(root) if values and not too_big else None)
