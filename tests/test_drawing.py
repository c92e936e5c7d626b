"""draw(y): named parameters, edge derivatives, values and gradients, paths as CSS classes, the SVG
Graphviz makes of it, and what is left without Graphviz (tables and the DOT text, never an error)."""
import base64
import re
import shutil

import numpy as np
import pytest

from tinygrad_vg import Tensor, draw, graph, nn, paths
from tinygrad_vg.views import graphviz

from extras import require_program


def scalar_graph():
    """y = tanh(x w) x: x reaches y by two paths, w by one."""
    x = Tensor(1.5, requires_grad=True, name="x")
    w = Tensor(-0.5, requires_grad=True)
    return x, w, (x * w).tanh() * x


def node_line(dot, node_id):
    (line,) = [line for line in dot.splitlines() if line.strip().startswith(f"{node_id} [")]
    return line


def edge_line(dot, edge_id):
    (line,) = [line for line in dot.splitlines() if f'id="{edge_id}"' in line and "->" in line]
    return line


def hide_dot(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)


def test_a_parameter_shows_its_module_path_and_every_edge_its_local_derivative():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    loss = (model(Tensor([[0.5, -1.0]])) ** 2).sum()
    drawing = draw(loss, params=dict(model.named_parameters()))
    for name, p in model.named_parameters():
        assert f'label="{name}: parameter {p.shape}' in drawing.dot
    assert not re.search(r'label="[^"]*leaf', drawing.dot)   # the input is a constant, the rest parameters
    assert draw(loss, params=model).dot == drawing.dot   # the module itself names them the same
    tanh = next(node for node in drawing.nodes if node["lines"][0].startswith("tanh"))
    (into_tanh,) = [edge for edge in drawing.edges if edge["to"] == tanh["id"]]
    h = model[0](Tensor([[0.5, -1.0]])).data
    assert into_tanh["derivative"] == f"0: |J|={np.max(1 - np.tanh(h) ** 2):.3g}"   # diagonal: its largest entry
    assert len(drawing.edges) == sum(len(node.inputs) for node in graph.topological_order(loss))


def test_before_backward_no_gradient_is_drawn_and_the_drawing_says_why():
    x, w, y = scalar_graph()
    dot = draw(y).dot
    assert "no grad yet" in dot
    assert dot.count("grad -") == 5                 # every node requires grad; none has one
    assert not re.search(r"grad 0\b", dot)


def test_after_backward_each_node_shows_its_gradient_intermediates_included():
    x, w, y = scalar_graph()
    y.backward()                                    # keeps .grad on the leaves and y only
    drawing = draw(y, params={"layer.weight": w})
    assert "no grad yet" not in drawing.dot
    assert f"grad {x.grad.item():.4g}" in node_line(drawing.dot, "n0")
    assert 'label="layer.weight: parameter ()\\nvalue -0.5\\ngrad ' in drawing.dot
    tanh = next(node for node in drawing.nodes if node["lines"][0].startswith("tanh"))
    assert tanh["lines"][2] == "grad 1.5"           # d(t x)/dt = x, computed again from y.grad
    assert 'label="0: -0.5"' in edge_line(drawing.dot, "n0_n2_0")   # d(x w)/dx = w


def test_each_path_is_a_class_on_exactly_its_edges_and_the_biggest_is_highlighted():
    x, w, y = scalar_graph()
    drawing = draw(y, highlight=x)
    found = paths(y, x)
    assert [path["class"] for path in drawing.paths] == ["path-0", "path-1"]
    for k, path in enumerate(drawing.paths):
        carrying = [edge["id"] for edge in drawing.edges if f"path-{k}" in edge["class"].split()]
        assert carrying == path["edge_ids"] and len(carrying) == len(found[k].edges)
        assert path["product"] == pytest.approx(found[k].product.item(), rel=1e-15)
    y.backward()
    assert sum(path["product"] for path in drawing.paths) == pytest.approx(x.grad.item(), rel=1e-14)
    biggest = int(np.argmax([abs(path["product"]) for path in drawing.paths]))
    assert drawing.highlighted == biggest and drawing.paths[biggest]["highlighted"]
    for edge_id in drawing.paths[biggest]["edge_ids"]:
        assert "highlighted" in edge_line(drawing.dot, edge_id) and "#d62728" in edge_line(drawing.dot, edge_id)
    others = [edge["id"] for edge in drawing.edges if edge["id"] not in drawing.paths[biggest]["edge_ids"]]
    assert others and all("highlighted" not in edge_line(drawing.dot, edge_id) for edge_id in others)


def test_a_given_path_is_the_one_highlighted_and_x_times_x_keeps_both_edges():
    x = Tensor(2.0, requires_grad=True, name="x")
    y = x * x
    second = paths(y, x)[1]
    drawing = draw(y, highlight=second)
    assert drawing.highlighted == 1
    assert [path["edge_ids"] for path in drawing.paths] == [["n0_n1_0"], ["n0_n1_1"]]
    assert "highlighted" in edge_line(drawing.dot, "n0_n1_1")
    assert "highlighted" not in edge_line(drawing.dot, "n0_n1_0")


def test_a_big_graph_is_summarised_and_says_so():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(40):
        y = (y * 0.9).tanh()
    drawing = draw(y, max_nodes=60)
    assert "summary: 121 nodes" in drawing.dot and "more than max_nodes=60" in str(drawing)
    assert drawing.panels()[0]["graph"]["edges"] == [] and "summarised" in drawing.panels()[0]["title"]
    assert "n0" in draw(y, max_nodes=None).dot


def test_an_overflowed_graph_is_drawn_as_it_is_with_finite_norms_where_the_entries_are_finite():
    x = Tensor([1e200, 2.0], requires_grad=True)
    W = Tensor([[1e200, 0.0], [0.0, 1.0]], requires_grad=True)
    with np.errstate(all="ignore"):
        y = ((W @ x) * 1e200).sum()                  # W @ x overflows; inf * 0 in the mul's Jacobian is nan
        y.backward()
    drawing = draw(y, params={"W": W}, highlight=x)
    assert "W: parameter (2, 2)\\nvalue |1e+200|" in drawing.dot   # the norm of finite entries is finite
    assert any(edge["derivative"] == "1: J holds nan" for edge in drawing.edges)
    assert drawing.paths[0]["product"] == np.inf


def test_a_graph_freed_by_backward_says_so():
    x, w, y = scalar_graph()
    y.backward(retain_grads=False)
    assert "run the forward pass again" in draw(y).dot


def test_bad_arguments_are_type_errors_that_say_what_was_given():
    x, w, y = scalar_graph()
    with pytest.raises(TypeError, match="draw: y must be a Tensor, got float"):
        draw(1.0)
    with pytest.raises(TypeError, match=r"draw: params\['w'\] is of type ndarray"):
        draw(y, params={"w": np.zeros(1)})
    with pytest.raises(TypeError, match="draw: highlight must be None, an input Tensor or a chain_rule Path, got int"):
        draw(y, highlight=3)


def test_svg_is_graphviz_markup_ready_to_inline_with_the_ids_and_classes():
    require_program("dot")
    x, w, y = scalar_graph()
    drawing = draw(y, params={"w": w}, highlight=x)
    svg = drawing.svg()
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    tag = svg[:svg.index(">")]
    assert "viewBox=" in tag and not re.search(r'\s(width|height)="', tag)
    assert 'style="max-width: ' in tag
    assert '<g id="n1" class="node leaf parameter">' in svg
    # Graphviz writes "-" inside attribute values as &#45;, which a browser reads as "-"
    for path in drawing.paths:
        for edge_id in path["edge_ids"]:
            assert re.search(rf'<g id="{edge_id}" class="edge [^"]*path&#45;{path["class"][5:]}\b', svg)
    assert svg.count('class="edge') == len(drawing.edges)


def test_graphviz_2_43_carries_dot_ids_and_classes_into_its_svg():
    require_program("dot")
    svg = graphviz.svg('digraph { a [id="first", class="leaf"]; a -> b [id="a_b_0", class="path_0 path_2"]; }')
    assert '<g id="first" class="node leaf">' in svg and '<g id="a_b_0" class="edge path_0 path_2">' in svg


def test_without_dot_the_drawing_shows_tables_and_its_dot_text_and_never_raises(monkeypatch):
    x, w, y = scalar_graph()
    y.backward()
    drawing = draw(y, params={"w": w}, highlight=x)
    hide_dot(monkeypatch)
    assert drawing.svg() is None and drawing.png() is None
    bundle = drawing._repr_mimebundle_()
    assert "image/png" not in bundle and "<svg" not in bundle["text/html"]
    assert "digraph tinygrad_vg" in bundle["text/html"] and "graphviz" in bundle["text/html"].lower()
    assert "0: -0.5" in bundle["text/html"]                            # the edge table
    assert "x -&gt; mul -&gt; tanh -&gt; mul" in bundle["text/html"]  # the path table
    assert "n0 -> n2" in bundle["text/plain"]


def test_with_dot_the_notebook_gets_the_svg_and_a_png():
    require_program("dot")
    x, w, y = scalar_graph()
    bundle = draw(y, highlight=x)._repr_mimebundle_()
    assert "<svg" in bundle["text/html"]
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")


def test_dot_that_fails_or_hangs_gives_none(tmp_path, monkeypatch):
    assert graphviz.svg("digraph { this is not DOT") is None or shutil.which("dot") is None
    slow = tmp_path / "dot"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert graphviz.svg("digraph { a -> b }", timeout=0.2) is None


def test_a_drawing_saves_a_page(tmp_path):
    x, w, y = scalar_graph()
    path = tmp_path / "graph.html"
    draw(y, highlight=x).save_html(path)
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "the graph of mul" in page
