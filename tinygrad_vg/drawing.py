"""draw(y): the graph that made y, as a picture a learner can read.

Each node shows what it is (the op, or a parameter by its module path, as PyTorch's torchviz names
the params it is given), its value and its gradient (norms for arrays; "-" where there is none:
before backward nothing has one, and a gradient is never drawn as 0 when it was not computed).
Each edge shows its local derivative (chain_rule.derivative_label: the number itself between
scalars, else the largest singular value of the local Jacobian). Given an input, the drawing lists
every edge-path from it to y (chain_rule.paths): each path is a CSS class on its edges and nodes,
so a page can highlight any of them, and one is drawn highlighted in the DOT text itself.

The layout is Graphviz's (views.graphviz); without `dot` the drawing still shows its edge and path
tables and its DOT text. A graph of more than max_nodes nodes is drawn summarised by kind of node
(graph.summary_dot), and says so.
"""
from collections.abc import Mapping

import numpy as np

from . import chain_rule, graph
from .tensor import Tensor, released
from .views import graphviz
from .views.notebook import Shown

MAX_PATHS = 24          # paths listed (each one a class a page can highlight) at the most
HIGHLIGHT = 'color="#d62728", fontcolor="#d62728", penwidth=2.5'


def parameter_names(params):
    """{id(tensor): name} from torchviz's `params`: a mapping name -> Tensor, e.g.
    dict(model.named_parameters()), or the module itself."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    if not isinstance(params, Mapping):
        raise TypeError(f"draw: params must be a mapping name -> Tensor (dict(model.named_parameters())) "
                        f"or a module, got {type(params).__name__}")
    for name, tensor in params.items():
        if not isinstance(tensor, Tensor):
            raise TypeError(f"draw: params[{name!r}] is of type {type(tensor).__name__}, not a Tensor")
    return {id(tensor): str(name) for name, tensor in params.items()}


def what(node, names):
    """(the node's first label line, its classes): `layers.3.weight: parameter (4, 4)`, `tanh (4,)`."""
    shape = tuple(node.shape)
    if id(node) in names:
        return f"{names[id(node)]}: parameter {shape}", "leaf parameter"
    own = f"{node.name}: " if getattr(node, "name", None) else ""
    if node.op is not None:
        return f"{own}{node.op.name} {shape}", "op"
    return (f"{own}leaf {shape}", "leaf") if node.requires_grad else (f"{own}constant {shape}", "constant")


def listed_paths(y, highlight):
    """(the paths to list, the index of the highlighted one or None, a note on what was left out).

    highlight: None; an input Tensor (its paths to y are listed, the one of largest |product|, the
    one carrying the most gradient, highlighted); or a chain_rule.Path (its input's paths are listed,
    and it is highlighted)."""
    if highlight is None:
        return [], None, ""
    if isinstance(highlight, chain_rule.Path):
        source = highlight.edges[0][0] if highlight.edges else y
    elif isinstance(highlight, Tensor):
        source = highlight
    else:
        raise TypeError(f"draw: highlight must be None, an input Tensor or a chain_rule Path, "
                        f"got {type(highlight).__name__}")
    total = chain_rule.count_paths(y, source)
    if total > MAX_PATHS:
        found = [highlight] if isinstance(highlight, chain_rule.Path) else []
        return found, 0 if found else None, f"{total} paths from the input, more than {MAX_PATHS}: not listed"
    found = list(chain_rule.paths(y, source))
    if not found:
        return [], None, "no path from the input to the output"
    if isinstance(highlight, chain_rule.Path):
        keys = [edge_keys(path) for path in found]
        return found, keys.index(edge_keys(highlight)) if edge_keys(highlight) in keys else None, ""
    return found, int(np.argmax([path.log10_norm for path in found])), ""


def edge_keys(path):
    return [(id(parent), id(node), position) for parent, node, position in path.edges]


def draw(y, params=None, highlight=None, max_nodes=60):
    """The drawing of y's graph (a Drawing: .dot, .svg(), .panels(), .to_html(), shown by Jupyter).

    params     names for the parameters, as torchviz's make_dot(y, params=dict(model.named_parameters())):
               a mapping name -> Tensor, or the model itself
    highlight  None, an input Tensor or a chain_rule Path: see listed_paths
    max_nodes  a bigger graph is drawn summarised by kind of node
    """
    if not isinstance(y, Tensor):
        raise TypeError(f"draw: y must be a Tensor, got {type(y).__name__}")
    names = parameter_names(params)
    order = graph.topological_order(y)
    if max_nodes is not None and len(order) > max_nodes:
        return Drawing(chain_rule.short_name(y), graph.summary_dot(order, max_nodes), [], [], [], None,
                       f"{len(order)} nodes, more than max_nodes={max_nodes}: drawn summarised by kind of node")
    found, marked, note = listed_paths(y, highlight)
    ids = {id(node): f"n{k}" for k, node in enumerate(order)}
    with np.errstate(all="ignore"):     # an overflowed graph is drawn as it is, inf and nan included
        nodes, edges = records(y, order, ids, names, found, marked)
    listing = [{"label": f"path {k + 1}: " + path.route(lambda node: names.get(id(node)) or chain_rule.short_name(node)),
                "edges": [[ids[id(parent)], ids[id(node)]] for parent, node, _ in path.edges],
                "edge_ids": [edge_id(ids, *edge) for edge in path.edges],
                "product": path.magnitude, "log10_norm": path.log10_norm, "class": f"path-{k}",
                "highlighted": k == marked}
               for k, path in enumerate(found)]
    has_grads = any(line.startswith("grad ") and line != "grad -" for node in nodes for line in node["lines"])
    caption = "" if has_grads else "no grad yet: call backward() to see the gradients"
    if any(node.op is released for node in order):
        caption = "backward(retain_grads=False) freed this graph as it went: run the forward pass again to draw it"
    return Drawing(chain_rule.short_name(y), dot_text(nodes, edges, caption), nodes, edges, listing, marked, note)


def edge_id(ids, parent, node, position):
    return f"{ids[id(parent)]}_{ids[id(node)]}_{position}"


def records(y, order, ids, names, found, marked):
    """(a record per node, a record per edge): what it shows, its classes (its kind, and path-k for
    each listed path k through it), and whether it is on the highlighted path."""
    on_path = {}                        # an edge (or a node's id) -> the classes of the paths through it
    for k, path in enumerate(found):
        for parent, node, position in path.edges:
            for key in ((id(parent), id(node), position), id(parent), id(node)):
                on_path.setdefault(key, []).append(f"path-{k}")
    marked_edges = set(edge_keys(found[marked])) if marked is not None else set()
    marked_nodes = {end for key in marked_edges for end in key[:2]}
    computed = chain_rule.gradients(y)  # the intermediates' gradients, which backward frees
    nodes = []
    for node in order:
        first, classes = what(node, names)
        lines = [first, f"value {graph.magnitude(node.data)}"]
        if node.requires_grad:
            grad = node.grad if node.grad is not None else computed.get(id(node))
            lines.append(f"grad {graph.magnitude(grad) if grad is not None else '-'}")
        nodes.append({"id": ids[id(node)], "lines": lines, "marked": id(node) in marked_nodes,
                      "class": " ".join([classes, *dict.fromkeys(on_path.get(id(node), []))])})
    edges = [{"id": edge_id(ids, parent, node, position), "from": ids[id(parent)], "to": ids[id(node)],
              "derivative": chain_rule.derivative_label(parent, node, position),
              "class": " ".join(on_path.get((id(parent), id(node), position), [])),
              "marked": (id(parent), id(node), position) in marked_edges}
             for node in order for position, parent in enumerate(node.inputs)]
    return nodes, edges


def dot_text(nodes, edges, caption):
    """Graphviz text: every node and edge with an id and classes (views.graphviz keeps them in the SVG)."""
    lines = ["digraph tinygrad_vg {", "  rankdir=LR;",
             '  node [shape=box, fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10];']
    if caption:
        lines.append(f'  labelloc=t; label="{graph.quote(caption)}";')
    for node in nodes:
        style = ', style=filled, fillcolor="#eaf2fb"' if "parameter" in node["class"] else ""
        style += f", {HIGHLIGHT}" if node["marked"] else ""
        classes = node["class"] + (" highlighted" if node["marked"] else "")
        label = "\\n".join(graph.quote(line) for line in node["lines"])
        lines.append(f'  {node["id"]} [id="{node["id"]}", class="{classes}", label="{label}"{style}];')
    for edge in edges:
        style = f", {HIGHLIGHT}" if edge["marked"] else ""
        classes = edge["class"] + (" highlighted" if edge["marked"] else "")
        lines.append(f'  {edge["from"]} -> {edge["to"]} [id="{edge["id"]}", class="{classes}", '
                     f'label="{graph.quote(edge["derivative"])}"{style}];')
    lines.append("}")
    return "\n".join(lines)


class Drawing(Shown):
    """A drawn graph: `.dot` (Graphviz text), `.svg()`, `.panels()`, `.to_html()`, `.save_html(path)`;
    Jupyter shows it by itself. `nodes`, `edges` and `paths` are the records the drawing was made of
    (empty when the graph was summarised); `highlighted` is the index of the highlighted path."""

    def __init__(self, root, dot, nodes, edges, paths, highlighted, note=""):
        self.root, self.dot, self.nodes, self.edges, self.paths = root, dot, nodes, edges, paths
        self.highlighted, self.note = highlighted, note

    def svg(self):
        """The SVG to inline in a page (views.graphviz.svg), or None without Graphviz's `dot`."""
        return graphviz.svg(self.dot)

    def display_title(self):
        return f"the graph of {self.root}"

    def panels(self):
        """One "graph" panel (the views draw its edge and path tables beside or instead of the SVG);
        "nodes" adds each node's id, first label line and classes, for a table that names them."""
        title = "edges carry local derivatives; nodes their value and grad"
        return [{"title": f"{title}{'; ' + self.note if self.note else ''}",
                 "graph": {"dot": self.dot,
                           "nodes": [{"id": node["id"], "label": node["lines"][0], "class": node["class"]}
                                     for node in self.nodes],
                           "edges": [{key: edge[key] for key in ("from", "to", "derivative", "id")}
                                     for edge in self.edges],
                           "paths": self.paths, "highlight": self.highlighted}}]

    def __str__(self):
        if not self.nodes:
            return f"{self.display_title()}: {self.note}\n{self.dot}"
        text = [f"{self.display_title()}: {len(self.nodes)} nodes, {len(self.edges)} edges"]
        text += [f"  {node['id']:>4}  " + "  ".join(node["lines"]) for node in self.nodes]
        text += [f"  {edge['from']:>4} -> {edge['to']:<4} local derivative {edge['derivative']}" for edge in self.edges]
        text += [f"  {path['label']}   product {path['product']:.6g}" + ("  (highlighted)" if path["highlighted"] else "")
                 for path in self.paths]
        return "\n".join(text + ([f"  {self.note}"] if self.note else []))

    def png(self):
        """The graph as a PNG, when `dot` can make one (for a notebook front end without HTML)."""
        return graphviz.render(self.dot, "png")
