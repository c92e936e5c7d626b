"""The objects show themselves in a real notebook: a notebook built here is run by nbclient on the
ipykernel kernel, and each displayed object's output carries text/plain and text/html (and image/png
where matplotlib, or Graphviz for a drawing, can make one). Run again with `dot` off PATH and
matplotlib unimportable, every cell still runs and degrades to what is left: no error output."""
import base64

import numpy as np
import pytest

from tinygrad_vg import Tensor, chain_report, paths, training
from tinygrad_vg.chain_rule import Path
from tinygrad_vg.nn import DeepChain
from tinygrad_vg.views import notebook

from extras import installed, require, require_program

# Each cell ends with the object it displays; the setup cell is the place to hide the extras.
CELLS = {
    "chain report": """\
import numpy as np
from tinygrad_vg import Tensor, chain_report, draw, paths, training
from tinygrad_vg.nn import DeepChain
rng = np.random.default_rng(0)
x = Tensor(rng.standard_normal((4, 6)))
chain = DeepChain(5, 6, activation="tanh", init="normal", sigma_w=1.5, rng=rng)
out, outputs = chain.forward_with_outputs(x)
loss = ((out - 0.5) ** 2).mean()
loss.backward()
chain_report(outputs, loss, weights=chain.weights)""",
    "training record": """\
target = Tensor(rng.standard_normal((4, 6)))
training.train(DeepChain(5, 6, activation="tanh", init="normal", sigma_w=1.5), x, target, 5)""",
    # question 3's overflow: W = 8 I in float32 overflows in layer 43's forward pass at step 0
    "halt": """\
x32 = rng.standard_normal((4, 8)).astype(np.float32)
record = training.train(DeepChain(50, 8, init="identity", scale=8.0, dtype=np.float32), x32, x32, 3, lr=0.01)
record.halted""",
    "paths": """\
a = Tensor(1.5, requires_grad=True, name="a")
w = Tensor(-0.5, requires_grad=True, name="w")
y = (a * w).tanh() * a
paths(y, a)""",
    "drawing": """\
y.backward()
draw(y, params={"layer.weight": w}, highlight=a)""",
}

HIDE_EXTRAS = """\
import os, sys, tempfile
os.environ["PATH"] = tempfile.mkdtemp()   # no `dot` on PATH
sys.modules["matplotlib"] = None          # `import matplotlib` raises ImportError"""


def run_notebook(tmp_path, setup=None):
    """{cell name: its outputs} after running the cells in a fresh kernel."""
    nbformat, nbclient = require("nbformat"), require("nbclient")
    require("ipykernel")
    sources = ([setup] if setup else []) + list(CELLS.values())
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    cells = notebook.cells[1:] if setup else notebook.cells
    return {name: cell.outputs for name, cell in zip(CELLS, cells)}


def displayed(outputs):
    """The data of the cell's one displayed result, after checking that the cell raised nothing."""
    assert not [output for output in outputs if output.output_type == "error"], outputs
    (result,) = [output for output in outputs if output.output_type == "execute_result"]
    return result.data


def test_every_object_shows_html_text_and_a_png_in_a_notebook(tmp_path):
    require_program("dot")
    with_matplotlib = installed("matplotlib")
    shown = {name: displayed(outputs) for name, outputs in run_notebook(tmp_path).items()}
    for name, data in shown.items():
        assert {"text/plain", "text/html"} <= set(data), name
        assert data["text/html"].startswith('<div class="tvg"'), name
        if with_matplotlib or name == "drawing":     # a drawing's PNG is Graphviz's
            assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG"), name
    assert "chain report: 5 layers" in shown["chain report"]["text/plain"]
    assert "|dL/dW_l|" in shown["chain report"]["text/html"]
    assert "training record: 5 steps, finished" in shown["training record"]["text/plain"]
    assert "layers.42 (Linear)" in shown["halt"]["text/html"] and "forward" in shown["halt"]["text/plain"]
    assert "2 paths" in shown["paths"]["text/plain"]
    assert "<svg" in shown["drawing"]["text/html"] and "layer.weight: parameter" in shown["drawing"]["text/plain"]


def test_without_dot_and_matplotlib_every_object_still_shows_its_text_and_tables(tmp_path):
    shown = {name: displayed(outputs) for name, outputs in run_notebook(tmp_path, HIDE_EXTRAS).items()}
    for name, data in shown.items():
        assert {"text/plain", "text/html"} <= set(data) and "image/png" not in data, name
        assert "<table" in data["text/html"] or name == "halt", name     # a halt is a panel of its own
    assert "<svg" not in shown["drawing"]["text/html"]
    assert "digraph tinygrad_vg" in shown["drawing"]["text/html"]       # the DOT text, to render elsewhere
    assert "graphviz" in shown["drawing"]["text/html"].lower()          # and how to get it drawn


# The panels behind those displays, checked without a kernel.

def small_chain(depth=4, width=3):
    rng = np.random.default_rng(1)
    chain = DeepChain(depth, width, activation="tanh", init="normal", sigma_w=1.5, rng=rng)
    return chain, Tensor(rng.standard_normal((2, width))), Tensor(rng.standard_normal((2, width)))


def test_a_chain_reports_panels_are_its_per_layer_norms():
    chain, x, target = small_chain()
    out, outputs = chain.forward_with_outputs(x)
    loss = ((out - target) ** 2).mean()
    loss.backward()
    report = chain_report(outputs, loss, weights=chain.weights)
    lines, table = report.panels()
    grads, weights = lines["lines"]
    assert grads["x"] == weights["x"] == [1, 2, 3, 4] and lines.get("yscale", "log") == "log"
    assert grads["y"] == [r.grad_norm for r in report.layers]
    assert grads["y"] == pytest.approx([np.linalg.norm(h.grad) for h in outputs], rel=1e-14)
    assert weights["y"] == [r.weight_grad_norm for r in report.layers]
    assert [row[0] for row in table["table"]["rows"]] == [1, 2, 3, 4]
    assert table["table"]["rows"][0][4] == "-"          # layer 1 has no gain without the input


def test_a_record_that_halted_at_step_0_shows_the_halt_alone_and_one_that_ran_shows_every_step():
    x = np.full((2, 4), 3.0, dtype=np.float32)
    halted = training.train(DeepChain(50, 4, init="identity", scale=8.0, dtype=np.float32), x, x, 3)
    assert halted.halted is not None and halted.steps == 0
    (panel,) = halted.panels()
    assert panel["halt"]["step"] == 0 and panel["halt"]["layer"] == halted.halted.module
    assert halted.halted.panels() == [panel]
    chain, x, target = small_chain()
    record = training.train(chain, x, target, 3)
    curves, heatmap = record.panels()
    assert [line["x"] for line in curves["lines"]] == [[0, 1, 2]] * 2 and curves["marks"] == []
    assert np.array(heatmap["heatmap"]).shape == (3, 4) and heatmap["x0"] == 1


def test_the_bundle_never_raises_it_says_what_failed():

    class Broken(notebook.Shown):
        def panels(self):
            raise ValueError("no panels today")

    bundle = Broken()._repr_mimebundle_()
    assert "could not be shown: ValueError('no panels today')" in bundle["text/plain"]
    assert "no panels today" in bundle["text/html"]
    bundle = notebook.mimebundle("t", [{"title": "odd", "lines": "not a list"}], "the text")
    assert bundle["text/plain"] == "the text" and "the text" in bundle["text/html"]


def test_a_paths_listing_is_still_the_list_of_paths():
    x = Tensor(2.0, requires_grad=True)
    found = paths(x * x, x)
    assert isinstance(found, list) and len(found) == 2 and all(isinstance(p, Path) for p in found)
    assert sum(p.product for p in found) == 4.0
    assert found.panels()[1]["table"]["rows"][-1][:3] == ["sum", "= the gradient (jacobian)", 4.0]
