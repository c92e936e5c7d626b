"""Graph drawings: edges labelled with local derivatives, nodes with values and gradients, one path
highlighted, big graphs summarised."""
import re

import numpy as np

from tinygrad_vg import Tensor, graph, paths, to_dot


def edge_lines(dot):
    return [line for line in dot.splitlines() if "->" in line]


def test_scalar_edges_carry_their_local_derivative_and_the_path_is_highlighted():
    x = Tensor(1.5, requires_grad=True, name="x")
    y = x * x
    y.backward()
    second = paths(y, x)[1]
    dot = to_dot(y, highlight=second)
    first_edge, second_edge = edge_lines(dot)
    assert 'label="0: 1.5"' in first_edge and "red" not in first_edge
    assert 'label="1: 1.5"' in second_edge and "color=red" in second_edge
    assert 'label="x: leaf ()\\nvalue 1.5\\ngrad 3"' in dot
    assert "value 2.25\\ngrad 1" in dot
    assert dot.count(", color=red") == 3                     # the edge and its two ends


def test_tensor_edges_carry_the_spectral_norm_of_the_local_jacobian():
    W = Tensor([[3.0, 0.0], [0.0, -0.5]])
    v = Tensor([1.0, 2.0], requires_grad=True)
    y = W @ v                                               # dy/dv = W, whose largest singular value is 3
    (edge,) = [line for line in edge_lines(to_dot(y)) if 'label="1:' in line]
    assert 'label="1: |J|=3"' in edge
    tanh_edge = edge_lines(to_dot(y.tanh(), values=False))[-1]
    expected = np.max(1 - np.tanh(y.data) ** 2)             # a diagonal Jacobian: its largest entry
    assert f"|J|={expected:.3g}" in tanh_edge


def test_plain_drawing_labels_edges_by_position():
    x = Tensor(2.0, requires_grad=True)
    dot = graph.to_dot(x * x)
    assert [re.search(r'label="(.*?)"', line).group(1) for line in edge_lines(dot)] == ["0", "1"]
    assert "value" not in dot
    assert dot == to_dot(x * x, derivatives=False, values=False, max_nodes=None)


def test_big_graphs_are_summarised_by_kind_of_node():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100):
        y = (y * 0.9).tanh()
    dot = to_dot(y)
    assert "summary: 301 nodes, 300 edges (more than max_nodes=60)" in dot
    assert '"mul x100"' in dot and '"tanh x100"' in dot and '"leaf x1"' in dot and '"constant x100"' in dot
    assert len(edge_lines(dot)) == 4                        # leaf->mul, constant->mul, mul->tanh, tanh->mul
    assert '[label="x99"]' in dot                           # tanh -> mul, once per step but the last


def test_quotes_in_names_are_escaped():
    x = Tensor(1.0, requires_grad=True, name='say "hi"')
    assert 'say \\"hi\\"' in to_dot(x * 2.0)
