"""Walking the explicit graph, without recursion.

A node is anything with `.inputs` (an ordered tuple, duplicates kept: x * x has two edges from x)
and `.op` (None for a leaf). Every walk here uses an explicit stack, so a chain 10^6 nodes deep is
no harder than a chain of 3.
"""
import numpy as np

from .norms import global_norm


FINISH = object()   # on the stack under a node's inputs: once it comes off, they are all emitted


def topological_order(root):
    """Every node `root` depends on, each once, inputs before the nodes that use them; root last.

    Depth-first with an explicit stack. The first time a node comes off the stack it is marked
    visited and put back under a FINISH marker, with its inputs on top. By the time the marker comes
    off, every input has been emitted, so the node under it is emitted. (A visited node that is not
    yet emitted would be its own ancestor: a graph of ops has no cycles.) The walk allocates no
    Python objects per node but set entries, so it does not wake the cyclic garbage collector.
    """
    order, visited = [], set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node is FINISH:
            order.append(stack.pop())
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append(node)
            stack.append(FINISH)
            stack.extend(reversed(node.inputs))
    return order


def reachable(root):
    """Every node `root` depends on, each once, root first, in no particular order beyond that:
    for a caller that orders them itself. Breadth-first, about a third of topological_order's cost."""
    found, seen = [root], {id(root)}
    for node in found:                  # found grows while it is walked
        for parent in node.inputs:
            if id(parent) not in seen:
                seen.add(id(parent))
                found.append(parent)
    return found


def nodes(root):
    """The nodes of the graph ending at root, in topological order."""
    return topological_order(root)


def edges(root):
    """Every edge as (input, output, position): x * x gives (x, y, 0) and (x, y, 1)."""
    return [(parent, node, i) for node in topological_order(root) for i, parent in enumerate(node.inputs)]


def node_label(node, values=False, grad=None):
    """`name: op shape` for a graph drawing; with values, also the value (or its norm) and the
    gradient (or its norm) on lines of their own: `grad`, or else node.grad."""
    kind = node.op.name if node.op is not None else "leaf"
    name = getattr(node, "name", None)
    lines = [f"{name + ': ' if name else ''}{kind} {tuple(node.shape)}"]
    if values:
        grad = node.grad if grad is None else grad
        lines.append(f"value {magnitude(node.data)}")
        lines.append(f"grad {magnitude(grad) if grad is not None else '-'}")
    return "\\n".join(quote(line) for line in lines)   # Graphviz's own line break


def magnitude(array):
    """A scalar as itself, an array as its Frobenius norm (finite whenever the entries are)."""
    array = np.asarray(array)
    return f"{array.item():.4g}" if array.size == 1 else f"|{global_norm([array]):.4g}|"


def quote(text):
    """Text made safe inside a double-quoted Graphviz string."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def to_dot(root, edge_label=None, values=False, highlight=None, max_nodes=None, grads=None):
    """Graphviz text of the graph: one box per node (op and shape), one arrow per edge.

    edge_label(input, output, position) -> str labels each edge (default: its input position);
    values adds each node's value and gradient: its .grad, or else grads[id(node)] when given (e.g.
    chain_rule.gradients(root): the intermediates' gradients, which backward frees); highlight is
    a sequence of edges (input, output, position), e.g. a chain_rule path's, drawn in red. A graph of more than max_nodes nodes is drawn
    summarised instead (no highlight): one box per op kind with its count, one arrow per kind of edge.
    """
    order = topological_order(root)
    if max_nodes is not None and len(order) > max_nodes:
        return summary_dot(order, max_nodes)
    ids = {id(node): f"n{k}" for k, node in enumerate(order)}
    marked_edges = {(id(parent), id(node), i) for parent, node, i in highlight or ()}
    marked_nodes = {end for edge in marked_edges for end in edge[:2]}
    red = ", color=red, fontcolor=red, penwidth=2.5"
    lines = ["digraph tinygrad_vg {", "  rankdir=LR;", "  node [shape=box];"]
    for node in order:
        style = red if id(node) in marked_nodes else ""
        label = node_label(node, values, (grads or {}).get(id(node)))
        lines.append(f'  {ids[id(node)]} [label="{label}"{style}];')
    for node in order:                  # the edges, from the walk already made
        for i, parent in enumerate(node.inputs):
            label = quote(edge_label(parent, node, i)) if edge_label else i
            style = red if (id(parent), id(node), i) in marked_edges else ""
            lines.append(f'  {ids[id(parent)]} -> {ids[id(node)]} [label="{label}"{style}];')
    lines.append("}")
    return "\n".join(lines)


def summary_dot(order, max_nodes):
    """A graph too big to read, drawn as one box per kind of node (op name, `leaf`, `constant`)
    with how many there are, and one arrow per (kind -> kind) with how many edges it stands for."""
    def kind(node):
        if node.op is not None:
            return node.op.name
        return "leaf" if getattr(node, "requires_grad", False) else "constant"

    kinds, arrows = {}, {}
    for node in order:
        kinds[kind(node)] = kinds.get(kind(node), 0) + 1
        for parent in node.inputs:
            arrows[kind(parent), kind(node)] = arrows.get((kind(parent), kind(node)), 0) + 1
    ids = {name: f"k{k}" for k, name in enumerate(kinds)}
    lines = ["digraph tinygrad_vg {", "  rankdir=LR;", "  node [shape=box];",
             f'  label="summary: {len(order)} nodes, {sum(arrows.values())} edges '
             f'(more than max_nodes={max_nodes}); boxes are kinds of node, arrows count edges";']
    lines += [f'  {ids[name]} [label="{quote(name)} x{count}"];' for name, count in kinds.items()]
    lines += [f'  {ids[a]} -> {ids[b]} [label="x{count}"];' for (a, b), count in arrows.items()]
    lines.append("}")
    return "\n".join(lines)
