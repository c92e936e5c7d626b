"""paths: the chain rule as a sum over paths, for a small expression.

Every edge-path from each variable to y, its local derivatives and their product; the products sum to
the gradient that backward computes. The expression is parsed, never eval'd: numbers, the --var names,
+ - * / **, unary -, and exp, log, tanh, sigmoid, relu, sqrt, abs. The figure is the computation graph,
each edge labelled with its local derivative, each variable's paths picked out in turn.

Run:  tinygrad-vg paths "tanh(x*w) * x" --var x=1.5 --var w=-0.5 [--json] [--html paths.html]
"""
import argparse
import sys

import numpy as np

from .. import chain_rule
from ..argtypes import finite_float
from ..drawing import draw
from ..expression import FUNCTIONS, ExpressionError, parse_expression
from ..script import OptionError, experiment, main

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
            "gradients": gradients, "graphs": drawings(output, variables)}


def drawings(output, variables):
    """A graph panel's data per variable (drawing.draw: each edge's local derivative, each node's value and
    grad, the variable's paths as CSS classes, the one carrying the most gradient drawn in red); one
    plain drawing when there is no variable."""
    if not variables:
        return [{"variable": None, **draw(output).panels()[0]["graph"]}]
    return [{"variable": name, **draw(output, highlight=leaf).panels()[0]["graph"]}
            for name, leaf in variables.items()]


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
    graphs = [{"title": (f"dy/d{graph['variable']}: the paths from {graph['variable']} to y" if graph["variable"]
                         else f"y = {result['expression']}") + " (edges carry local derivatives; nodes value and grad)",
               "graph": {key: value for key, value in graph.items() if key != "variable"}} for graph in result["graphs"]]
    return [*graphs,
            {"title": "every path and the product of its local derivatives",
             "table": {"header": ["gradient", "path", "edges", "product"], "rows": rows}},
            {"title": "the products sum to backward's gradient",
             "table": {"header": ["gradient", "paths", "sum of the products", "backward"], "rows": sums}}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
