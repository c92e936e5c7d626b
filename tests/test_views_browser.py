"""The HTML pages in a real browser: Playwright drives the system's headless Chromium (never a browser
it downloads) and reads the DOM and the geometry the learner sees. Skipped without Playwright or
Chromium; a failure when TINYGRAD_VG_REQUIRE_EXTRAS is set. With TINYGRAD_VG_SCREENS=folder, each page
is also saved there as a screenshot to look at."""
import math
import os

import pytest

from extras import require, require_program
from tinygrad_vg.examples import q1_identity_chain as q1
from tinygrad_vg.examples import q3_overflow_halts_training as q3
from tinygrad_vg.views import html

CHROMIUM = "/usr/bin/chromium-headless-shell"
# as root Chromium needs --no-sandbox; the rest keep it off the network and quiet
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
HIGHLIGHT = "rgb(214, 39, 40)"      # graph_panel.HIGHLIGHT, as the browser computes it

HALT = {"step": 12, "layer": 7, "op": "matmul", "phase": "backward", "kind": "inf",
        "message": "matmul's backward made inf at layer 7"}
DOT = """digraph g { rankdir=LR;
  x -> h [class="path-0 highlighted", color="#d62728", label="2"]; h -> y [class="path-0 path-1", label="3"];
  x -> z [class="path-1", label="5"]; z -> h [class="path-1", label="7"]; x -> y [class="path-2", label="1"]; }"""
PATHS = [{"label": "x, h, y", "edges": [["x", "h"], ["h", "y"]], "product": 6.0},
         {"label": "x, z, h, y", "edges": [["x", "z"], ["z", "h"], ["h", "y"]], "product": 105.0},
         {"label": "x, y", "edges": [["x", "y"]], "product": 1.0}]
EDGES = [{"from": a, "to": b, "derivative": d} for a, b, d in
         (("x", "h", 2.0), ("h", "y", 3.0), ("x", "z", 5.0), ("z", "h", 7.0), ("x", "y", 1.0))]
HANDMADE = [{"title": "where training stopped", "halt": HALT},
            {"title": "|dL/dW_l| per step", "xlabel": "layer l", "ylabel": "step", "colorbar": "|dL/dW_l|",
             "x0": 1, "heatmap": [[10.0 ** -(step + layer) for layer in range(6)] for step in range(4)]},
            {"title": "the graph", "graph": {"dot": DOT, "edges": EDGES, "paths": PATHS}}]


@pytest.fixture(scope="module")
def browser():
    sync_api = require("playwright.sync_api")
    executable = require_program(CHROMIUM)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        launched.close()


def open_page(browser, path, javascript=True):
    """The page loaded; it must ask for nothing beyond itself (its PNGs are data: URIs)."""
    page = browser.new_page(viewport={"width": 1100, "height": 900}, java_script_enabled=javascript)
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("networkidle")
    assert [url for url in asked if not url.startswith("data:")] == [path.as_uri()]
    screens = os.environ.get("TINYGRAD_VG_SCREENS")
    if screens:
        page.screenshot(path=os.path.join(screens, f"{path.stem}{'' if javascript else '-nojs'}.png"), full_page=True)
    return page


CENTRES = """(svg) => {
  const centre = (r) => [(r.left + r.right) / 2, (r.top + r.bottom) / 2];
  const ticks = [...svg.querySelectorAll('g.tvg-tick[data-axis="y"]:not(.tvg-minor)')].map(
      (g) => [Number(g.dataset.value), centre(g.querySelector("line").getBoundingClientRect())[1]]);
  const points = [...svg.querySelectorAll("circle.tvg-point")].map(
      (c) => [c.dataset.series, Number(c.dataset.x), Number(c.dataset.y), ...centre(c.getBoundingClientRect())]);
  const frame = svg.querySelector("rect.tvg-frame").getBoundingClientRect();
  const legend = svg.querySelector("g.tvg-legend").getBoundingClientRect();
  return {ticks, points, frameRight: frame.right, legendLeft: legend.left};
}"""


def test_q1_page_plots_a_point_per_layer_where_the_log_axis_puts_its_value(browser, tmp_path):
    depth, k = 12, (0.9, 1.1)
    result = q1.run(depth=depth, k=k)
    result.save_html(tmp_path / "q1.html")
    page = open_page(browser, tmp_path / "q1.html")
    seen = page.locator("svg.tvg-chart").first.evaluate(CENTRES)
    for chain in result["chains"]:
        measured = [p for p in seen["points"] if p[0] == f"k={chain['k']:g} measured"]
        assert [p[1] for p in measured] == list(range(1, depth + 1))
        assert [p[2] for p in measured] == chain["grad_norms"]          # the JSON's numbers, every digit
    (v1, y1), (v2, y2) = seen["ticks"][0], seen["ticks"][-1]
    for _, _, value, _, y in seen["points"]:
        expected = y1 + (math.log10(value) - math.log10(v1)) / (math.log10(v2) - math.log10(v1)) * (y2 - y1)
        # the browser keeps SVG geometry in floats: a hundredth of a pixel is far below a wrong scale
        assert y == pytest.approx(expected, abs=0.01)
    assert seen["legendLeft"] > seen["frameRight"]                     # the legend is beside the plot
    # a click on a legend entry hides that series, a second shows it again
    entry = page.locator("g.tvg-legend-entry").first
    entry.click()
    assert visible_points(page) == depth * (len(k) - 1)
    entry.click()
    assert visible_points(page) == depth * len(k)


def visible_points(page):
    points = page.locator("svg.tvg-chart circle.tvg-point")
    return sum(points.nth(n).is_visible() for n in range(points.count()))


def test_q3_page_s_halt_panel_names_the_layer_its_json_names(browser, tmp_path):
    result = q3.run(depths=[43])
    halt = result["chains"][-1]["halt"]
    result.save_html(tmp_path / "q3.html")
    banner = open_page(browser, tmp_path / "q3.html").locator(".tvg-halt")
    assert banner.get_attribute("data-layer") == str(halt["layer"]) and banner.get_attribute("data-step") == "0"
    assert banner.locator(".tvg-halt-layer").inner_text() == str(halt["layer"]) and banner.is_visible()
    assert halt["module"] in banner.inner_text()


def handmade_page(tmp_path, name):
    (tmp_path / name).write_text(html.page("A handmade page", "Every panel kind but lines.", HANDMADE, "text"))
    return tmp_path / name


HIGHLIGHTED_EDGES = """(highlight) => [...document.querySelectorAll(".tvg-graph g.edge")]
    .filter((g) => getComputedStyle(g.querySelector("path")).stroke === highlight)
    .map((g) => g.querySelector("title").textContent).sort()"""


def edge_names(path):
    return sorted(f"{a}->{b}" for a, b in path["edges"])


def test_the_halt_panel_names_the_layer_and_the_heatmap_has_a_cell_per_layer_and_step(browser, tmp_path):
    page = open_page(browser, handmade_page(tmp_path, "handmade.html"))
    halt = page.locator(".tvg-halt")
    assert halt.get_attribute("data-layer") == "7" and halt.get_attribute("data-phase") == "backward"
    assert "layer 7" in halt.inner_text() and halt.is_visible()
    cells = page.locator("rect.tvg-cell")
    assert cells.count() == 24
    top_left = page.locator('rect.tvg-cell[data-x="1"][data-y="3"]').bounding_box()
    bottom_left = page.locator('rect.tvg-cell[data-x="1"][data-y="0"]').bounding_box()
    assert top_left["y"] < bottom_left["y"]                             # later steps drawn higher


def test_the_highlighted_path_s_edges_are_the_path_s_and_the_radio_buttons_switch_it(browser, tmp_path):
    require_program("dot")
    page = open_page(browser, handmade_page(tmp_path, "graph.html"))
    assert page.locator(".tvg-graph").get_attribute("data-drawn") == "dot"
    assert page.evaluate(HIGHLIGHTED_EDGES, HIGHLIGHT) == edge_names(PATHS[0])
    # x -> h, drawn red by the DOT itself (as tinygrad_vg.draw marks its path), turns plain off path 0
    for n in (1, 2, 0):
        page.locator(f'input.tvg-path-choice[value="{n}"]').check()
        assert page.evaluate(HIGHLIGHTED_EDGES, HIGHLIGHT) == edge_names(PATHS[n])
    # the drawing scales with the page: Graphviz's fixed size is gone, its viewBox kept
    svg = page.locator(".tvg-graph-drawing svg")
    assert svg.get_attribute("width") is None and svg.get_attribute("viewBox")


def test_without_script_the_first_path_is_highlighted_by_css_alone(browser, tmp_path):
    require_program("dot")
    page = open_page(browser, handmade_page(tmp_path, "graph.html"), javascript=False)
    assert page.evaluate(HIGHLIGHTED_EDGES, HIGHLIGHT) == edge_names(PATHS[0])


def test_without_dot_the_graph_panel_reads_as_tables_and_dot_text(browser, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    page = open_page(browser, handmade_page(tmp_path, "no-dot.html"))
    graph = page.locator(".tvg-graph")
    assert graph.get_attribute("data-drawn") == "tables" and graph.locator("svg").count() == 0
    assert "install Graphviz" in page.locator(".tvg-hint").inner_text()
    assert page.locator("pre.tvg-dot").inner_text() == DOT
    rows = page.locator(".tvg-graph tr[data-path]")
    assert rows.count() == 3 and rows.nth(0).get_attribute("data-edges") == "x->h;h->y"
