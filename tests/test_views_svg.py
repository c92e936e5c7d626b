"""The page's SVG charts read back as numbers: ticks, points, cells and embedded PNGs, with no browser."""
import math
import re
import struct
import xml.etree.ElementTree as ElementTree
import zlib
from base64 import b64decode
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_vg.views import graph_panel, html
from tinygrad_vg.views.heatmap import MOST_RECTS, heatmap_chart
from tinygrad_vg.views.png_encode import png_bytes
from tinygrad_vg.views.svg import PALETTE, lines_chart, parse_style
from tinygrad_vg.views.tables import table


def chart(ys, xs=None, **keys):
    xs = list(range(1, len(ys) + 1)) if xs is None else xs
    panel = {"title": "t", "xlabel": "layer l", "ylabel": "|g|",
             "lines": [{"label": "measured", "x": xs, "y": ys, "style": "C0o"}], **keys}
    return ElementTree.fromstring(lines_chart(panel))


def ticks(svg, axis, major=True):
    found = [(float(g.get("data-value")), float(g.get("data-position")))
             for g in svg.iter("g") if g.get("class", "").startswith("tvg-tick") and g.get("data-axis") == axis]
    return [t for t in found if not major or t[0] in majors(svg, axis)]


def majors(svg, axis):
    return {float(g.get("data-value")) for g in svg.iter("g")
            if g.get("class") == "tvg-tick" and g.get("data-axis") == axis}


def points(svg):
    return [c for c in svg.iter("circle") if c.get("class") == "tvg-point"]


def value_at(position, axis_ticks, log):
    """Invert the axis from its first and last ticks: where is `position`, in data units?"""
    (v1, p1), (v2, p2) = min(axis_ticks), max(axis_ticks)
    if log:
        return 10.0 ** (math.log10(v1) + (position - p1) / (p2 - p1) * (math.log10(v2) - math.log10(v1)))
    return v1 + (position - p1) / (p2 - p1) * (v2 - v1)


def test_log_axis_ticks_sit_at_powers_of_ten_labelled_with_their_exponent():
    svg = chart([1e-12, 3e-6, 0.5, 7.0])
    values = sorted(majors(svg, "y"))
    assert values[0] == 1e-12 and values[-1] == 100.0      # every 2nd decade, both ends labelled
    assert all(10.0 ** round(math.log10(v)) == v for v in values)
    labels = ["".join(g.find("text").itertext()) for g in svg.iter("g")
              if g.get("class") == "tvg-tick" and g.get("data-axis") == "y"]
    assert "10−12" in labels and "1" in labels and len(labels) <= 8


def test_a_short_log_axis_also_labels_2_and_5():
    svg = chart([1.2, 3.0, 9.0])
    assert sorted(majors(svg, "y")) == [1.0, 2.0, 5.0, 10.0]


@given(st.lists(st.floats(1e-300, 1e300), min_size=1, max_size=60))
def test_a_point_s_position_maps_back_to_its_value_on_the_log_axis(ys):
    svg = chart(ys)
    y_ticks, x_ticks = ticks(svg, "y"), ticks(svg, "x")
    assert len(points(svg)) == len(ys)
    for circle, y, x in zip(points(svg), ys, range(1, len(ys) + 1)):
        assert float(circle.get("data-y")) == y
        # 15 significant digits of a pixel on a 300 px axis of at most 600 decades: ~1e-12 relative
        assert value_at(float(circle.get("cy")), y_ticks, log=True) == pytest.approx(y, rel=1e-9)
        if len(ys) > 1:
            assert value_at(float(circle.get("cx")), x_ticks, log=False) == pytest.approx(x, abs=1e-9)


def test_values_without_a_logarithm_are_left_out_and_counted():
    ys = [1.0, 0.0, -2.0, math.inf, math.nan, None, 0.25]
    svg = chart(ys)
    assert [float(c.get("data-x")) for c in points(svg)] == [1.0, 7.0]
    note = next(t for t in svg.iter("text") if t.get("class") == "tvg-note")
    assert note.text.startswith("5 values without a logarithm")


def test_a_line_is_broken_where_a_value_is_left_out():
    panel = {"lines": [{"label": "theory", "x": [1, 2, 3, 4], "y": [1.0, 0.0, 0.1, 0.01], "style": "--"}]}
    path = next(p for p in ElementTree.fromstring(lines_chart(panel)).iter("path"))
    assert path.get("data-points") == "3" and path.get("d").count("M") == 2 and path.get("stroke-dasharray")


@given(st.integers(1, 3000), st.integers(0, 5))
def test_integer_axes_have_integer_ticks_only_and_show_the_first_layer(count, first):
    svg = chart([1.0] * count, xs=list(range(first, first + count)))
    values = [v for v, _ in ticks(svg, "x")]
    assert all(v == int(v) for v in values)
    # the first layer is labelled, unless the first tick is within half a step of it (2 beside 1)
    assert first in values or values[0] - first <= (values[1] - values[0]) / 2
    assert all(first <= v <= first + count - 1 for v in values)


def test_fractional_x_gets_fractional_ticks_and_a_linear_y_axis_nice_ones():
    svg = chart([0.1, 0.3, 0.9], xs=[0.0, 0.5, 1.5], yscale="linear")
    assert [v for v, _ in ticks(svg, "x")] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4]
    assert sorted(majors(svg, "y")) == pytest.approx([0.2, 0.4, 0.6, 0.8])


def test_a_log_x_axis_hugs_its_values_and_is_ticked_at_1_2_5():
    svg = chart([1.0, 2.0, 3.0], xs=[1, 4, 12], xscale="log")
    assert sorted(majors(svg, "x")) == [1.0, 2.0, 5.0, 10.0]
    x_ticks = ticks(svg, "x")
    for circle, x in zip(points(svg), [1, 4, 12]):
        assert value_at(float(circle.get("cx")), x_ticks, log=True) == pytest.approx(x, rel=1e-12)


def test_a_log_x_axis_within_one_decade_still_has_labels():
    assert sorted(majors(chart([1.0, 2.0], xs=[3, 4], xscale="log"), "x")) == [3.0, 4.0]


def test_marks_and_the_legend_stay_off_the_data():
    svg = chart([1.0, 0.1, 0.01], marks=[{"x": 5, "label": "halt"}])
    mark = next(g for g in svg.iter("g") if g.get("class") == "tvg-mark")
    assert mark.get("data-x") == "5" and "".join(mark.itertext()) == "halt"
    frame = next(r for r in svg.iter("rect") if r.get("class") == "tvg-frame")
    right = float(frame.get("x")) + float(frame.get("width"))
    legend = next(g for g in svg.iter("g") if g.get("class") == "tvg-legend")
    assert all(float(node.get(key)) > right for node in legend.iter() for key in ("x", "x1", "cx") if node.get(key))


def test_a_long_legend_makes_the_chart_taller_instead_of_running_off_it():
    lines = [{"label": f"series {n}", "x": [1, 2], "y": [1.0, 2.0]} for n in range(30)]
    svg = ElementTree.fromstring(lines_chart({"lines": lines}))
    last = max(float(t.get("y")) for g in svg.iter("g") if g.get("class") == "tvg-legend-entry" for t in g.iter("text"))
    assert last < float(svg.get("viewBox").split()[3])


def test_a_series_that_is_not_numbers_or_not_paired_is_a_clear_error():
    with pytest.raises(ValueError, match="series 'a': 2 x values but 1 y values"):
        lines_chart({"title": "t", "lines": [{"label": "a", "x": [1, 2], "y": [1.0]}]})
    with pytest.raises(ValueError, match="series 'a': x values must be numbers or None, got 'one'"):
        lines_chart({"title": "t", "lines": [{"label": "a", "x": ["one"], "y": [1.0]}]})


def test_styles_follow_matplotlib_format_strings():
    assert parse_style("C1o", "#000") == (PALETTE[1], True, None)
    assert parse_style("k--", "#000") == ("#000000", False, "--")
    assert parse_style("o-", "#123") == ("#123", True, "-")
    assert parse_style(None, "#123") == ("#123", False, "-")
    with pytest.raises(ValueError, match="'C1q'"):
        parse_style("C1q", "#000")


def decode_png(data):
    """The pixels of an RGB PNG with filter 0 on every row, checking the signature and every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, {}
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        at += 12 + length
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 2) and chunks[b"IEND"] == b""
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, 1 + 3 * width)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_the_png_encoder_decodes_back_to_its_pixels(height, width, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert (decode_png(png_bytes(pixels)) == pixels).all()


def test_png_encoder_rejects_a_grey_image():
    with pytest.raises(ValueError, match=r"\(height, width, 3\), got \(2, 3\)"):
        png_bytes(np.zeros((2, 3)))


def heatmap(rows, **keys):
    return ElementTree.fromstring(heatmap_chart({"heatmap": rows, "x0": 1, "colorbar": "|g|", **keys}))


def test_a_small_heatmap_is_a_rect_per_cell_rows_are_steps_columns_layers():
    rows = [[10.0 ** -(step + layer) for layer in range(4)] for step in range(3)]   # [step][layer]
    svg = heatmap(rows + [[0.0, 1.0, math.inf, 1.0]])
    cells = {(int(r.get("data-x")), int(r.get("data-y"))): r for r in svg.iter("rect") if r.get("class") == "tvg-cell"}
    assert len(cells) == 16 and float(cells[(3, 1)].get("data-value")) == 10.0 ** -3   # layer 3, step 1
    assert float(cells[(1, 2)].get("y")) < float(cells[(1, 0)].get("y"))               # later steps higher
    assert float(cells[(1, 0)].get("x")) < float(cells[(4, 0)].get("x"))
    assert cells[(1, 3)].get("fill") == "#d0d0d0" and cells[(3, 3)].get("fill") == "#d0d0d0"
    colour_ticks = sorted(majors(svg, "colour"))
    assert colour_ticks[0] == 1e-5 and colour_ticks[-1] == 1.0
    assert all(v == int(v) for v in majors(svg, "x") | majors(svg, "y"))


def test_a_phase_map_sits_at_its_own_coordinates_on_a_signed_bar_with_its_overlay():
    rows = [[-0.2, 0.0, 0.1], [-0.1, 0.0, 0.3]]                               # [depth][sigma_w]
    svg = heatmap(rows, x=[0.5, 1.0, 2.0], y=[10, 20], scale="signed",
                  overlays=[{"label": "chi_1 = 1", "x": [1.1, 1.1], "y": [10, 20], "style": "k-"}])
    cells = {(float(r.get("data-x")), float(r.get("data-y"))): r for r in svg.iter("rect") if r.get("class") == "tvg-cell"}
    assert set(cells) == {(x, y) for x in (0.5, 1.0, 2.0) for y in (10.0, 20.0)}
    assert cells[(1.0, 10.0)].get("fill") == "#f7f7f7"                        # 0 is white on a signed bar
    assert float(cells[(2.0, 10.0)].get("width")) > float(cells[(0.5, 10.0)].get("width"))   # uneven grid
    bar_ticks = sorted(float(g.get("data-value")) for g in svg.iter("g") if g.get("data-axis") == "colour")
    assert bar_ticks[0] == -bar_ticks[-1] and 0.0 in bar_ticks
    overlay = [path for path in svg.iter("path") if path.get("class") == "tvg-line"]
    assert len(overlay) == 1 and overlay[0].get("data-points") == "2"


def test_a_large_heatmap_is_one_embedded_png_with_the_last_step_on_top():
    steps, layers = 200, MOST_RECTS // 200 + 1
    rows = [[10.0 ** (-10 * step / (steps - 1)) for _ in range(layers)] for step in range(steps)]   # 1 down to 1e-10
    svg = heatmap(rows)
    image = next(svg.iter("image"))
    assert svg.get("data-cells") == "image" and not [r for r in svg.iter("rect") if r.get("class") == "tvg-cell"]
    pixels = decode_png(b64decode(image.get("href").removeprefix("data:image/png;base64,")))
    assert pixels.shape == (steps, layers, 3)
    # step 0 (the largest values, yellow in viridis) is the bottom row of the picture
    assert pixels[-1, 0].tolist() == [0xfd, 0xe7, 0x25] and pixels[0, 0].tolist() == [0x44, 0x01, 0x54]


class Collect(HTMLParser):
    """Every start tag's attributes, and the page's text."""

    def __init__(self, page):
        super().__init__()
        self.tags, self.text = [], []
        self.feed(page)

    def handle_starttag(self, tag, attributes):
        self.tags.append((tag, dict(attributes)))

    def handle_data(self, data):
        self.text.append(data)


HALT = {"step": 12, "layer": 7, "op": "matmul", "phase": "backward", "kind": "inf", "message": "inf in matmul's vjp"}
GRAPH = {"dot": 'digraph { x -> h [class="path-0"]; h -> y [class="path-0 path-1"]; x -> y [class="path-1"]; }',
         "edges": [{"from": "x", "to": "h", "derivative": 2.0}, {"from": "h", "to": "y", "derivative": 3.0},
                   {"from": "x", "to": "y", "derivative": 1.0}],
         "paths": [{"label": "through h", "edges": [["x", "h"], ["h", "y"]], "product": 6.0},
                   {"label": "direct", "edges": [["x", "y"]], "product": 1.0}]}
PANELS = [{"title": "halt", "halt": HALT}, {"title": "graph", "graph": GRAPH},
          {"title": "numbers", "table": {"header": ["a", "b"], "rows": [[1, 0.5]]}},
          {"title": "heat", "heatmap": [[1.0, 2.0]]},
          {"title": "lines", "lines": [{"label": "a", "x": [1, 2], "y": [1.0, 2.0]}]}]


def test_the_page_draws_every_panel_kind_and_names_nothing_on_the_network(monkeypatch):
    monkeypatch.setenv("PATH", "")        # no `dot`: the graph panel falls back to its tables
    page = html.page("Title", "Short answer: yes.\n\nRun:  python x.py", PANELS, "terminal <text>")
    kinds = [a["data-kind"] for tag, a in Collect(page).tags if tag == "section"]
    assert kinds == ["halt", "graph", "table", "heatmap", "lines"]
    # namespace names are not addresses; nothing else may point off the machine
    assert not re.search(r"https?://", re.sub(r'xmlns(:\w+)?="[^"]*"', "", page))
    assert "<script src" not in page and "@import" not in page and "terminal &lt;text&gt;" in page


def test_the_halt_panel_names_the_step_layer_op_and_phase():
    halt = next(a for tag, a in Collect(html.page("t", "", PANELS[:1], "")).tags if a.get("class") == "tvg-halt")
    assert (halt["data-step"], halt["data-layer"], halt["data-op"], halt["data-phase"]) == ("12", "7", "matmul", "backward")


def test_without_dot_the_graph_panel_shows_the_tables_the_dot_text_and_the_hint(monkeypatch):
    monkeypatch.setenv("PATH", "")
    collected = Collect(html.fragment("t", [PANELS[1]], ""))
    text = "".join(collected.text)
    assert "install Graphviz" in text and "apt install graphviz" in text and GRAPH["dot"] in text
    rows = [a for tag, a in collected.tags if tag == "tr" and "data-path" in a]
    assert [r["data-edges"] for r in rows] == ["x->h;h->y", "x->y"]
    graph = next(a for tag, a in collected.tags if a.get("class") == "tvg-graph")
    assert graph["data-path"] == "0" and graph["data-drawn"] == "tables"


def test_the_highlight_of_each_path_is_css_scoped_to_its_panel():
    css = graph_panel.path_css("g1", 2)
    assert '#g1[data-path="0"] g.edge.path-0 path' in css and '#g1[data-path="1"] g.edge.path-1 path' in css


def test_the_description_is_reflowed_into_paragraphs_and_lists_and_indented_blocks_are_kept():
    about = html.description_html("Short answer: a\nlong line.\n\nRun:\n  python q1.py --depth 5\n\n"
                                  "Fixes:\n  - one, which\n    wraps\n  - two")
    assert "<p>Short answer: a long line.</p>" in about and "<pre>Run:\n  python q1.py --depth 5</pre>" in about
    assert "<p>Fixes:</p><ul><li>one, which wraps</li><li>two</li></ul>" in about


def test_an_unknown_panel_is_a_clear_error():
    with pytest.raises(ValueError, match="'odd'.*expected one of lines, heatmap"):
        html.page("t", "", [{"title": "odd", "scatter": []}], "")


def test_a_column_of_numbers_is_right_aligned_and_a_mixed_one_left():
    cells = [(tag, a.get("class")) for tag, a in Collect(table(["n", "mixed"], [["-", 2.5], [3.0, "0 of 64"]])).tags
             if tag in ("th", "td")]
    assert cells == [("th", "tvg-number"), ("th", None), ("td", "tvg-number"), ("td", None),
                     ("td", "tvg-number"), ("td", None)]
