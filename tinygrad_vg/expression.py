"""A small expression, such as "tanh(x*w) * x", parsed with ast and evaluated on the engine, never eval'd:
numbers, the named scalar variables, + - * / ** and unary -, and calls of FUNCTIONS on one argument."""
import ast
import math
import operator

import numpy as np

from .tensor import Tensor

FUNCTIONS = {name: getattr(Tensor, name) for name in ("exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs")}
BINARY_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.Pow: operator.pow}
MAX_EXPRESSION_LENGTH = 2000


class ExpressionError(ValueError):
    """The text is not an expression of the whitelist; the message says what is allowed instead."""


def evaluate(node, variables):
    """The Tensor of an expression's syntax tree, allowing only the whitelisted nodes. Nothing is eval'd."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body, variables)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = float(node.value) if abs(node.value) < 1e308 else math.inf
        if not math.isfinite(value):
            raise ExpressionError(f"the number {node.value} is too large for a float")
        return Tensor(value)
    if isinstance(node, ast.Name):
        if node.id not in variables:
            known = ", ".join(variables) or "none"
            raise ExpressionError(f"unknown name {node.id!r} (variables given with --var: {known})")
        return variables[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY_OPS:
        return BINARY_OPS[type(node.op)](evaluate(node.left, variables), evaluate(node.right, variables))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -evaluate(node.operand, variables)
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            raise ExpressionError(f"only the functions {', '.join(FUNCTIONS)} can be called")
        if len(node.args) != 1 or node.keywords:
            raise ExpressionError(f"{name}() takes exactly one argument")
        return FUNCTIONS[name](evaluate(node.args[0], variables))
    raise ExpressionError(f"{type(node).__name__} is not allowed here: use numbers, the --var names, "
                          f"+ - * / **, unary - and {', '.join(FUNCTIONS)}")


def parse_expression(text, values):
    """(the output Tensor of `text`, {name: its leaf}) over the named scalar variables, each a leaf
    requiring grad and named by its name."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    variables = {name: Tensor(value, requires_grad=True, name=name) for name, value in values.items()}
    try:
        tree = ast.parse(text.strip(), mode="eval")
        with np.errstate(all="ignore"):
            output = evaluate(tree, variables)
    except SyntaxError as error:
        raise ExpressionError(f"not an expression: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is nested too deeply") from None
    return output, variables
