"""A "graph" panel: the computation graph drawn by Graphviz (views.graphviz) with one path highlighted,
the list of paths beside it, and without `dot` the edge table, the path table and the DOT text.

Highlighting is CSS: the DOT gives each edge `class="path-0 path-2"` (the paths it lies on), and the
panel's data-path attribute names the path shown (the panel's "highlight", else 0) as written, so
the page reads without script.
The radio buttons of the path list change data-path through a few lines of script (PATH_SCRIPT)."""
import re

from . import graphviz
from .axes import escape
from .tables import Markup, table

HIGHLIGHT = "#d62728"
WIDE = 900             # points: a drawing wider than a page, shown at 0.8 of its size, scrolls
VIEW_BOX = re.compile(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) [\d.]+"')

# one handler for the whole page: a path's radio button names the path its graph panel highlights
PATH_SCRIPT = """<script>
document.addEventListener("change", function (event) {
  var choice = event.target.closest("input.tvg-path-choice");
  if (choice) choice.closest(".tvg-graph").dataset.path = choice.value;
});
</script>"""


def path_css(panel_id, count):
    """Path n's edges (and its nodes, where the DOT gives them the class) drawn red when its panel's
    data-path is n, and its row marked. A path the DOT itself drew red (class "highlighted") is
    drawn plain first, so that only the chosen path is red."""
    me = f"#{panel_id}"
    rules = [f"{me} g.highlighted path, {me} g.highlighted polygon, {me} g.highlighted ellipse "
             "{ stroke: #000; stroke-width: 1; }\n"
             f"{me} g.edge.highlighted polygon {{ fill: #000; }}\n{me} g.highlighted text {{ fill: #000; }}"]
    for n in range(count):
        scope = f'{me}[data-path="{n}"]'
        rules.append(f"{scope} g.edge.path-{n} path {{ stroke: {HIGHLIGHT}; stroke-width: 3; }}\n"
                     f"{scope} g.edge.path-{n} polygon {{ stroke: {HIGHLIGHT}; fill: {HIGHLIGHT}; }}\n"
                     f"{scope} g.edge.path-{n} text {{ fill: {HIGHLIGHT}; font-weight: bold; }}\n"
                     f"{scope} g.node.path-{n} polygon, {scope} g.node.path-{n} ellipse "
                     f"{{ stroke: {HIGHLIGHT}; stroke-width: 2; }}\n"
                     f'{scope} tr[data-path="{n}"] {{ background: #fde8e8; }}')
    return "<style>\n" + "\n".join(rules) + "\n</style>"


def path_rows(panel_id, paths, shown):
    """The path list: a radio button (path `shown` checked), the path's label (else the nodes it
    passes) and the product of its edges' derivatives."""
    rows, attributes = [], []
    for n, path in enumerate(paths):
        nodes = [path["edges"][0][0], *(edge[1] for edge in path["edges"])] if path["edges"] else []
        choice = Markup(f'<label><input type="radio" class="tvg-path-choice" name="{panel_id}-path" value="{n}"'
                        f'{" checked" if n == shown else ""}> {n + 1}</label>')
        rows.append([choice, path.get("label") or " → ".join(map(str, nodes)), path.get("product", "")])
        attributes.append(f'data-path="{n}" data-edges="{escape(";".join(f"{a}->{b}" for a, b in path["edges"]))}"')
    return table(["highlight", "path", "product of its edge derivatives"], rows, attributes,
                 caption="every path from an input to the output; choose one to highlight it")


def natural_width(svg):
    """The drawing's width in points, from its viewBox (Graphviz draws in points)."""
    found = VIEW_BOX.search(svg)
    return float(found[1]) if found else 0.0


def graph_html(panel, panel_id):
    graph = panel["graph"]
    paths, edges = graph.get("paths", []), graph.get("edges", [])
    edge_table = table(["from", "to", "derivative"],
                       [[edge["from"], edge["to"], edge.get("derivative", "")] for edge in edges],
                       caption="every edge and its local derivative")
    shown = graph.get("highlight") or 0
    listing = path_rows(panel_id, paths, shown) if paths else ""
    svg = graphviz.svg(graph["dot"])
    if svg is not None:
        width = natural_width(svg)
        wide = '<p class="tvg-note">Wider than the page: scroll the drawing sideways.</p>' if width > WIDE else ""
        body = (f'{wide}<div class="tvg-graph-drawing" style="--tvg-graph-width: {width:g}pt">{svg}</div>{listing}'
                f"<details><summary>The edges as a table</summary>{edge_table}</details>")
    else:
        body = (f'<p class="tvg-hint">{escape(graphviz.INSTALL_HINT)}</p>{listing}{edge_table}'
                f'<details open><summary>DOT text</summary><pre class="tvg-dot">{escape(graph["dot"])}</pre></details>')
    drawn = "dot" if svg is not None else "tables"
    return (f'<div class="tvg-graph" id="{panel_id}" data-path="{shown}" data-drawn="{drawn}">'
            f"{path_css(panel_id, len(paths))}{body}</div>")
