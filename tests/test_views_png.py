"""The PNG figures (matplotlib): legends beside the data, integer ticks on layer and step axes, log
axes labelled at powers of ten, heatmap rows as steps, marks; and the hint when matplotlib is missing."""
import math
import sys

import pytest

from extras import require
from tinygrad_vg.views import png

LAYERS = list(range(1, 31))
LINES = {"title": "t", "xlabel": "layer l", "ylabel": "|g|", "marks": [{"x": 12, "label": "halt"}],
         "lines": [{"label": "measured", "x": LAYERS, "y": [0.5 ** (30 - l) for l in LAYERS], "style": "C0o"},
                   {"label": "theory", "x": LAYERS, "y": [0.5 ** (30 - l) for l in LAYERS], "style": "C0-"}]}
HEATMAP = {"title": "h", "xlabel": "layer l", "ylabel": "step", "x0": 1, "colorbar": "|dL/dW|",
           "heatmap": [[10.0 ** -(step + layer) for layer in range(5)] for step in range(3)]}


@pytest.fixture
def pyplot():
    require("matplotlib")
    modules = png.matplotlib_modules()
    yield modules
    modules[0].close("all")


def test_the_legend_sits_beside_the_plot_not_on_its_data(pyplot):
    figure = png.figure_of([LINES], None, *pyplot)
    figure.canvas.draw()
    ax = figure.axes[0]
    renderer = figure.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 > ax.get_window_extent(renderer).x1


def test_layer_axes_are_ticked_at_integers_and_log_axes_at_powers_of_ten(pyplot):
    figure = png.figure_of([LINES], None, *pyplot)
    ax = figure.axes[0]
    x_ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert x_ticks and all(float(t).is_integer() for t in x_ticks)
    low, high = ax.get_ylim()
    assert (low, high) == (10.0 ** png.decade_range(LINES["lines"][0]["y"])[0], 1.0)
    y_ticks = [t for t in ax.get_yticks() if low <= t <= high]
    assert all(10.0 ** round(math.log10(t)) == pytest.approx(t) for t in y_ticks)


def test_a_mark_is_a_vertical_line_at_its_x(pyplot):
    ax = png.figure_of([LINES], None, *pyplot).axes[0]
    assert [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [12]


def test_heatmap_rows_are_steps_on_y_and_columns_layers_on_x(pyplot):
    ax = png.figure_of([HEATMAP], None, *pyplot).axes[0]
    mesh = ax.collections[0]
    assert mesh.get_array().shape == (3, 5)                          # [step][layer]
    assert ax.get_xlim() == (0.5, 5.5) and ax.get_ylim() == (-0.5, 2.5)   # layers from 1 across, steps up
    assert all(float(t).is_integer() for t in ax.get_yticks())


def test_png_bytes_is_a_png_of_every_drawable_panel(pyplot):
    halt = {"title": "stopped", "halt": {"step": 0, "layer": 3, "op": "matmul", "phase": "forward", "kind": "inf"}}
    data = png.png_bytes([LINES, HEATMAP, halt, {"title": "x", "table": {"header": [], "rows": []}}], "title")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.png_bytes([{"title": "only a table", "table": {"header": ["a"], "rows": [[1]]}}])[:4] == b"\x89PNG"


def test_without_matplotlib_png_bytes_raises_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r'pip install -e "\.\[plot\]"'):
        png.png_bytes([LINES])


def test_many_panels_wrap_onto_rows_of_two(pyplot):
    figure = png.figure_of([LINES] * 5, None, *pyplot)
    drawn = [ax for ax in figure.axes if ax.axison]
    assert len(drawn) == 5 and len({round(ax.get_position().x0, 3) for ax in drawn}) == 2


def test_a_phase_map_is_drawn_at_its_own_coordinates_with_a_signed_scale_and_its_overlay(pyplot):
    panel = {"title": "gain", "heatmap": [[-0.2, 0.1], [-0.1, 0.3]], "x": [1.0, 1.5], "y": [10, 20],
             "scale": "signed", "overlays": [{"label": "chi_1 = 1", "x": [1.2, 1.2], "y": [10, 20], "style": "k-"}]}
    ax = png.figure_of([panel], None, *pyplot).axes[0]
    mesh = ax.collections[0]
    assert ax.get_xlim() == (0.75, 1.75) and ax.get_ylim() == (5.0, 25.0)
    assert mesh.norm.vmin == -0.3 and mesh.norm.vmax == 0.3             # centred on 0
    assert [line.get_label() for line in ax.get_lines()] == ["chi_1 = 1"]
