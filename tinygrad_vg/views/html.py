"""A self-contained HTML page from an experiment's panels: one file, no network, readable without script.

Each panel kind of the vocabulary (views/__init__.py) has its drawing: "lines" an SVG chart (views.svg)
with its numbers in a table below, "heatmap" an SVG map (views.heatmap), "table" a table, "halt" a
banner naming the step, layer, op and phase, "graph" the Graphviz drawing or its tables
(views.graph_panel). `page` is the whole file; `fragment` the part a notebook cell shows.
"""
import zlib

from .axes import escape
from .graph_panel import PATH_SCRIPT, graph_html
from .heatmap import heatmap_chart
from .svg import LEGEND_SCRIPT, lines_chart
from .tables import table

STYLE = """
.tvg { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; line-height: 1.45; }
body.tvg-page { max-width: 62rem; margin: 2rem auto; padding: 0 1rem; }
.tvg h1 { font-size: 1.45rem; margin-bottom: 0.4rem; }
.tvg h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
.tvg-description { color: #333; max-width: 48rem; }
.tvg-description pre, .tvg-halt pre { white-space: pre-wrap; }
.tvg-panel { margin: 1.8rem 0; }
.tvg table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 0.5rem 0; }
.tvg td, .tvg th { border-bottom: 1px solid #ddd; padding: 0.15rem 0.6rem; text-align: left; }
.tvg .tvg-number { text-align: right; white-space: nowrap; }
.tvg-table { overflow-x: auto; }
.tvg caption { text-align: left; color: #555; padding-bottom: 0.2rem; white-space: nowrap; }
.tvg th { border-bottom: 2px solid #999; }
.tvg pre { background: #f6f6f6; padding: 0.75rem; overflow-x: auto; font-size: 0.85rem; }
.tvg details { margin: 0.6rem 0; }
.tvg summary { cursor: pointer; color: #555; }
.tvg svg.tvg-chart, .tvg svg.tvg-heatmap { width: 100%; height: auto; display: block; }
.tvg svg text { font-size: 12px; fill: #222; }
.tvg svg .tvg-axis-label { font-size: 13px; }
.tvg svg .tvg-axis line { stroke: #444; }
.tvg svg line.tvg-grid { stroke: #e4e4e4; }
.tvg svg.tvg-heatmap line.tvg-grid { display: none; }
.tvg svg .tvg-frame { fill: none; stroke: #444; }
.tvg svg .tvg-line { fill: none; stroke-width: 1.8; }
.tvg svg .tvg-legend line { stroke-width: 1.8; }
.tvg svg .tvg-legend-entry { cursor: pointer; }
.tvg svg .tvg-legend-entry.tvg-off { opacity: 0.35; }
.tvg svg .tvg-hidden { display: none; }
.tvg svg .tvg-mark line { stroke: #d62728; stroke-dasharray: 4 3; stroke-width: 1.5; }
.tvg svg .tvg-mark text { fill: #d62728; font-weight: bold; }
.tvg svg .tvg-note, .tvg p.tvg-note { fill: #666; color: #666; font-size: 12px; }
.tvg-halt { border: 2px solid #d62728; background: #fff4f4; border-radius: 6px; padding: 0.8rem 1rem; }
.tvg-halt-headline { font-size: 1.15rem; margin: 0 0 0.5rem; }
.tvg-halt dl { display: grid; grid-template-columns: max-content auto; gap: 0.1rem 1rem; margin: 0; }
.tvg-halt dt { color: #666; }
.tvg-halt dd { margin: 0; font-weight: bold; }
.tvg-hint { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5rem 0.8rem; }
.tvg-graph-drawing { overflow-x: auto; }
.tvg-graph-drawing svg { width: 100%; height: auto; min-width: calc(var(--tvg-graph-width) * 0.8); }
"""

KINDS = ("lines", "heatmap", "table", "halt", "graph")       # the panels of the vocabulary
HALT_FIELDS = ("step", "layer", "op", "phase", "kind")


def or_unknown(value):
    return "unknown" if value is None or value == "" else escape(value)


def halt_html(halt):
    """The halt as a banner: one sentence naming where it stopped, the fields, the engine's message."""
    data = " ".join(f'data-{key}="{escape("" if halt.get(key) is None else halt[key])}"' for key in HALT_FIELDS)
    headline = (f'Stopped at step <b class="tvg-halt-step">{or_unknown(halt.get("step"))}</b>, layer '
                f'<b class="tvg-halt-layer">{or_unknown(halt.get("layer"))}</b>: '
                f'{or_unknown(halt.get("kind"))} in the <b>{or_unknown(halt.get("phase"))}</b> of '
                f'<b><code>{or_unknown(halt.get("op"))}</code></b>')
    fields = "".join(f"<dt>{key}</dt><dd>{or_unknown(halt.get(key))}</dd>"
                     for key in HALT_FIELDS + (("module",) if halt.get("module") else ()))
    message = f"<pre>{escape(halt['message'])}</pre>" if halt.get("message") else ""
    return (f'<div class="tvg-halt" role="alert" {data}><p class="tvg-halt-headline">{headline}</p>'
            f"<dl>{fields}</dl>{message}</div>")


def lines_as_table(panel):
    """A "lines" panel's values as a table: one row per x, one column per line."""
    xs = sorted({x for line in panel["lines"] for x in line["x"]})
    columns = [dict(zip(line["x"], line["y"])) for line in panel["lines"]]
    rows = [[x, *(column.get(x, "") for column in columns)] for x in xs]
    return table([panel.get("xlabel", "x"), *(line["label"] for line in panel["lines"])], rows)


def panel_body(panel, number):
    if "lines" in panel:
        return (lines_chart(panel)
                + f"<details><summary>The numbers</summary>{lines_as_table(panel)}</details>")
    if "heatmap" in panel:
        return heatmap_chart(panel)
    if "table" in panel:
        return table(panel["table"]["header"], panel["table"]["rows"])
    if "halt" in panel:
        return halt_html(panel["halt"])
    if "graph" in panel:
        # an id unique to this graph on the page (and across a notebook's cells), the same on every run
        digest = zlib.crc32(panel["graph"]["dot"].encode("utf-8"))
        return graph_html(panel, f"tvg-graph-{digest:08x}-{number}")
    raise ValueError(f"panel {panel.get('title', number)!r}: no drawable key among {sorted(panel)}; "
                     f"expected one of {', '.join(KINDS)}")


def panel_html(panel, number):
    kind = next((key for key in KINDS if key in panel), "unknown")
    return (f'<section class="tvg-panel" data-kind="{kind}"><h2>{escape(panel.get("title", ""))}</h2>'
            f"{panel_body(panel, number)}</section>")


def paragraph_html(paragraph):
    """A docstring paragraph: its lines joined, "- " lines as a list, other indented lines (a command) kept."""
    lines = paragraph.strip("\n").splitlines()
    if any(line.strip().startswith("- ") for line in lines):
        lead, items = [], []
        for line in lines:
            if line.strip().startswith("- "):
                items.append(line.strip()[2:])
            elif items:
                items[-1] += " " + line.strip()
            else:
                lead.append(line.strip())
        return ((f"<p>{escape(' '.join(lead))}</p>" if lead else "")
                + "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>")
    if any(line.startswith((" ", "\t")) for line in lines[1:]):
        return f"<pre>{escape(chr(10).join(lines))}</pre>"
    return f"<p>{escape(' '.join(line.strip() for line in lines))}</p>"


def description_html(description):
    """The docstring's paragraphs, as a learner reads them."""
    parts = [paragraph_html(p) for p in description.strip().split("\n\n") if p.strip()]
    return f'<div class="tvg-description">{"".join(parts)}</div>' if parts else ""


def body(title, description, panels, text):
    script = ((PATH_SCRIPT if any("graph" in panel for panel in panels) else "")
              + (LEGEND_SCRIPT if any("lines" in panel for panel in panels) else ""))
    about = description_html(description)
    return (f'<div class="tvg"><style>{STYLE}</style><h1>{escape(title)}</h1>{about}'
            + "".join(panel_html(panel, n) for n, panel in enumerate(panels))
            + f"<details><summary>The terminal's text</summary><pre>{escape(text)}</pre></details>"
            + f"{script}</div>")


def fragment(title, panels, text):
    """The page's body, for a notebook cell."""
    return body(title, "", panels, text)


def page(title, description, panels, text):
    """The whole page: one file that opens offline."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title></head><body class="tvg-page">'
            + body(title, description, panels, text) + "</body></html>\n")
