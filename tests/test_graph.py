"""The explicit graph: ordered edges with duplicates, iterative walks at any depth, op names, dot text."""
from types import SimpleNamespace

import numpy as np
import pytest

import tinygrad_vg as tg
from tinygrad_vg import Tensor, graph


def test_x_times_x_has_two_edges():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    assert y.inputs == (x, x) and y.inputs[0] is x and y.inputs[1] is x
    assert [(parent is x, child is y, position) for parent, child, position in graph.edges(y)] == \
        [(True, True, 0), (True, True, 1)]
    assert graph.nodes(y) == [x, y]


def test_inputs_keep_their_order_and_constants():
    a, b = Tensor(2.0, requires_grad=True), Tensor(3.0, requires_grad=True)
    y = b - a
    assert y.inputs == (b, a)
    z = a * 5.0                                      # the constant is an input too, not differentiated
    assert z.inputs[0] is a and not z.inputs[1].requires_grad and z.inputs[1].item() == 5.0


def test_topological_order_of_a_diamond():
    x = Tensor(0.5, requires_grad=True)
    left, right = x * 2, x.tanh()
    out = left + right
    order = graph.topological_order(out)
    assert len(order) == len({id(node) for node in order}) == 5      # x, 2.0, left, right, out
    position = {id(node): k for k, node in enumerate(order)}
    assert order[-1] is out
    for parent, child, _ in graph.edges(out):
        assert position[id(parent)] < position[id(child)]
    assert sum(parent is x for parent, _, _ in graph.edges(out)) == 2
    found = graph.reachable(out)                     # the same nodes, each once, root first
    assert found[0] is out and len(found) == 5 and {id(n) for n in found} == set(position)


def test_reuse_chain_edges():
    a = Tensor(1.0, requires_grad=True)
    b = a + a
    c = b + b
    assert [(p is a, ch is b, i) for p, ch, i in graph.edges(c) if ch is b] == [(True, True, 0), (True, True, 1)]
    assert len(graph.edges(c)) == 4 and len(graph.nodes(c)) == 3


@pytest.mark.parametrize("make, name", [
    (lambda x, y: x + y, "add"), (lambda x, y: x - y, "sub"), (lambda x, y: x * y, "mul"),
    (lambda x, y: x / y, "div"), (lambda x, y: x ** y, "pow"), (lambda x, y: x @ y, "matmul"),
    (lambda x, y: -x, "neg"), (lambda x, y: x.exp(), "exp"), (lambda x, y: x.log(), "log"),
    (lambda x, y: x.sqrt(), "sqrt"), (lambda x, y: x.tanh(), "tanh"), (lambda x, y: x.sigmoid(), "sigmoid"),
    (lambda x, y: x.relu(), "relu"), (lambda x, y: x.abs(), "abs"), (lambda x, y: x.sum(), "sum"),
    (lambda x, y: x.max(), "max"), (lambda x, y: x.logsumexp(), "logsumexp"),
    (lambda x, y: x.reshape(3, 1), "reshape"), (lambda x, y: x.transpose(), "transpose"),
    (lambda x, y: x[1:], "getitem"), (lambda x, y: x.broadcast_to((2, 3)), "broadcast_to"),
    (lambda x, y: tg.concatenate([x, y]), "concatenate"), (lambda x, y: tg.maximum(x, y), "maximum"),
    (lambda x, y: tg.where([True, False, True], x, y), "where"),
])
def test_every_op_is_named(make, name):
    x, y = Tensor([1.0, 2.0, 3.0], requires_grad=True), Tensor([0.5, 2.5, 1.0], requires_grad=True)
    out = make(x, y)
    assert out.op.name == name and repr(out.op) == name
    assert x in out.inputs


def test_leaves_have_no_op_and_no_inputs():
    x = Tensor(1.0, requires_grad=True)
    assert x.op is None and x.inputs == ()
    assert graph.topological_order(x) == [x] and graph.edges(x) == []


def test_walks_are_iterative_at_depth_100000():
    # graph.py is duck-typed: anything with .inputs and .op is a node; these are cheaper than Tensors
    first = node = SimpleNamespace(inputs=(), op=None)
    tanh = SimpleNamespace(name="tanh")
    for _ in range(100_000):
        node = SimpleNamespace(inputs=(node,), op=tanh)
    order = graph.topological_order(node)
    assert len(order) == 100_001 and order[0] is first and order[-1] is node
    found = graph.reachable(node)
    assert len(found) == 100_001 and found[0] is node and found[-1] is first
    assert len(graph.edges(node)) == 100_000


def test_to_dot_shows_ops_shapes_and_every_edge():
    x = Tensor(np.ones((2, 3)), requires_grad=True, name="x")
    y = (x * x).sum(axis=1)
    dot = graph.to_dot(y)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert "mul" in dot and "sum" in dot and "(2, 3)" in dot and "(2,)" in dot and "x" in dot
    assert dot.count("->") == len(graph.edges(y)) == 3
