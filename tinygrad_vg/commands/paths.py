"""paths: the chain rule as a sum over paths, for a small expression.

Every edge-path from each variable to y, its local derivatives and their product; the products sum to
the gradient that backward computes. The expression is parsed, never eval'd: numbers, the --var names,
+ - * / **, unary -, and exp, log, tanh, sigmoid, relu, sqrt, abs. The figure is the computation graph,
each edge labelled with its local derivative and the first path drawn in red.

Run:  tinygrad-vg paths "tanh(x*w) * x" --var x=1.5 --var w=-0.5 [--json] [--html paths.html]
"""
import argparse
import sys

import numpy as np

from .. import chain_rule, graph
from ..argtypes import finite_float
from ..expression import FUNCTIONS, ExpressionError, parse_expression
from ..script import OptionError, experiment, main

MAX_DRAWN_NODES = 60     # chain_rule.to_dot's default: a bigger graph is drawn summarised by op


def variable(text):
    """NAME=VALUE for `paths --var`."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name in FUNCTIONS:
        raise argparse.ArgumentTypeError(f"{name!r} is a function name and cannot be a variable")
    return name, finite_float(value)


def arguments(parser):
    parser.epilog = 'example: tinygrad-vg paths "tanh(x*w) * x" --var x=1.5 --var w=-0.5'
    parser.add_argument("expression", help='e.g. "tanh(x*w) * x"')
    parser.add_argument("--var", type=variable, action="append", default=[], metavar="NAME=VALUE",
                        help="a scalar variable (repeat for each)")


@experiment
def run(expression, var=()):
    """`var`: (name, value) pairs, as --var gives them, or a dict."""
    values = dict(var)
    if len(values) != len(var):
        raise OptionError("--var: a variable is given twice")
    try:
        output, variables = parse_expression(expression, values)
    except ExpressionError as error:
        raise OptionError(f"cannot use the expression {expression!r}: {error}") from None
    output.name = "y"
    if output.requires_grad:
        with np.errstate(all="ignore"):
            output.backward()
    found = {name: chain_rule.paths(output, leaf) if output.requires_grad else [] for name, leaf in variables.items()}
    gradients = {}
    for name, leaf in variables.items():
        gradients[name] = {
            "paths": [{"edges": [{"from": chain_rule.short_name(parent), "op": node.op.name, "position": position,
                                  "to": chain_rule.short_name(node), "local_derivative": float(local.item())}
                                 for (parent, node, position), local in zip(path.edges, path.local_jacobians)],
                       "product": float(path.product.item()), "text": str(path)} for path in found[name]],
            "path_sum": float(sum(path.product.item() for path in found[name])),
            "backward": 0.0 if leaf.grad is None else float(leaf.grad.item())}
    return {"command": "paths", "expression": expression, "variables": values, "value": float(output.item()),
            "gradients": gradients, "graph": drawing(output, found)}


def drawing(output, found):
    """The graph panel's data: DOT text with the first path in red, each edge's local derivative, and each
    path's edges by DOT node id (graph.to_dot numbers the nodes n0, n1, ... in topological order). A graph
    too big to draw node by node is summarised by op, and then has no edges or paths to list."""
    order = graph.topological_order(output)
    first = next((paths[0] for paths in found.values() if paths), None)
    dot = chain_rule.to_dot(output, highlight=first, max_nodes=MAX_DRAWN_NODES)
    if len(order) > MAX_DRAWN_NODES:
        return {"dot": dot, "edges": [], "paths": []}
    ids = {id(node): f"n{k}" for k, node in enumerate(order)}
    edges = [{"from": ids[id(parent)], "to": ids[id(node)], "position": i,
              "derivative": float(chain_rule.local_jacobian(node, i).item())}
             for node in order for i, parent in enumerate(node.inputs)]
    paths = [{"label": f"dy/d{name}, path {k}", "product": float(path.product.item()),
              "edges": [[ids[id(parent)], ids[id(node)]] for parent, node, _ in path.edges]}
             for name, listed in found.items() for k, path in enumerate(listed, 1)]
    return {"dot": dot, "edges": edges, "paths": paths}


def show(result):
    assignments = ", ".join(f"{name} = {value:g}" for name, value in result["variables"].items())
    lines = [f"y = {result['expression']} = {result['value']:.10g}   at {assignments}",
             "dy/dv = sum over every edge-path from v to y of the product of the local derivatives on it"]
    for name, gradient in result["gradients"].items():
        lines.append(f"\ndy/d{name}: {len(gradient['paths'])} path(s)")
        lines += [f"  {path['text']}" for path in gradient["paths"]]
        lines.append(f"  {'sum of the path products':<{24 + len(name)}} = {gradient['path_sum']:.15g}")
        lines.append(f"  {'backward: ' + name + '.grad':<{24 + len(name)}} = {gradient['backward']:.15g}")
    return "\n".join(lines)


def figure(result):
    rows = [[f"dy/d{name}", k, path["text"].rpartition("   product")[0], path["product"]]
            for name, gradient in result["gradients"].items() for k, path in enumerate(gradient["paths"], 1)]
    sums = [[f"dy/d{name}", len(gradient["paths"]), gradient["path_sum"], gradient["backward"]]
            for name, gradient in result["gradients"].items()]
    return [{"title": f"y = {result['expression']}: the graph, each edge labelled with its local derivative",
             "graph": result["graph"]},
            {"title": "every path and the product of its local derivatives",
             "table": {"header": ["gradient", "path", "edges", "product"], "rows": rows}},
            {"title": "the products sum to backward's gradient",
             "table": {"header": ["gradient", "paths", "sum of the products", "backward"], "rows": sums}}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
