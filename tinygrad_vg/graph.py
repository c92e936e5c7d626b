"""Walking the explicit graph, without recursion.

A node is anything with `.inputs` (an ordered tuple, duplicates kept: x * x has two edges from x)
and `.op` (None for a leaf). Every walk here uses an explicit stack, so a chain 10^6 nodes deep is
no harder than a chain of 3.
"""


def topological_order(root):
    """Every node `root` depends on, each once, inputs before the nodes that use them; root last.

    Depth-first with an explicit stack: a node is emitted after all of its inputs have been.
    """
    order, visited = [], set()
    stack = [(root, iter(root.inputs))]
    visited.add(id(root))
    while stack:
        node, pending = stack[-1]
        for parent in pending:
            if id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(parent.inputs)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def nodes(root):
    """The nodes of the graph ending at root, in topological order."""
    return topological_order(root)


def edges(root):
    """Every edge as (input, output, position): x * x gives (x, y, 0) and (x, y, 1)."""
    return [(parent, node, i) for node in topological_order(root) for i, parent in enumerate(node.inputs)]


def node_label(node):
    """`name: op shape` for a graph drawing."""
    kind = node.op.name if node.op is not None else "leaf"
    name = getattr(node, "name", None)
    return f"{name + ': ' if name else ''}{kind} {tuple(node.shape)}"


def to_dot(root):
    """Graphviz text of the graph: one box per node (op and shape), one arrow per edge."""
    order = topological_order(root)
    ids = {id(node): f"n{k}" for k, node in enumerate(order)}
    lines = ["digraph tinygrad_vg {", "  rankdir=LR;", "  node [shape=box];"]
    lines += [f'  {ids[id(node)]} [label="{node_label(node)}"];' for node in order]
    lines += [f'  {ids[id(parent)]} -> {ids[id(node)]} [label="{i}"];'
              for parent, node, i in edges(root)]
    lines.append("}")
    return "\n".join(lines)
