"""A "lines" panel as an inline SVG chart: measured values as points, theory as lines, on a log y axis
by default, with the legend beside the plot (never on the data) and vertical marks (e.g. a halt step).

Every point is a <circle class="tvg-point" data-series data-x data-y>, every line a <path
class="tvg-line" data-series data-points>, every tick a <g class="tvg-tick" data-value data-position>
(views.axes): a test can check the geometry without reading pixels. A click on a legend entry hides
its series (LEGEND_SCRIPT), for crowded charts; the chart reads without it. Values without a logarithm (0,
inf, nan, None) are left out of a log axis, never clipped, and the chart says how many.
"""
import numbers
import re

from .axes import axis_svg, coordinate, datum, escape, number, scale_for

# matplotlib's default colour cycle ("C0".."C9") and its one-letter colours, so PNG and page agree
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
LETTERS = {"b": "#0000ff", "g": "#008000", "r": "#ff0000", "c": "#00bfbf", "m": "#bf00bf",
           "y": "#bfbf00", "k": "#000000"}
DASHES = {"-": None, "--": "6 4", ":": "1.5 3", "-.": "6 3 1.5 3"}
STYLE = re.compile(r"^(?:C(?P<cycle>\d)|(?P<letter>[bgrcmyk]))?(?P<marker>[o.sx+^*])?(?P<line>--|-\.|-|:)?$")

PLOT_WIDTH, PLOT_HEIGHT = 480, 300
LEFT, TOP, BOTTOM = 82, 30, 50          # room for the y labels, the marks' labels, the x labels
CHARACTER = 6.8                          # the width of one legend character at 12px, roughly
LEGEND_ROW = 18


def parse_style(style, default_colour):
    """(colour, points?, dash or None if no line) from a matplotlib format string like "C1o" or "--"."""
    found = STYLE.match(style or "-")
    if not found:
        raise ValueError(f'lines panel: style {style!r} is not a format string like "o", "-", "--" or "C1o"')
    if found["cycle"]:
        colour = PALETTE[int(found["cycle"])]
    else:
        colour = LETTERS.get(found["letter"], default_colour)
    line = found["line"] or (None if found["marker"] else "-")
    return colour, bool(found["marker"]), line


def series_svg(line, index, colour, points, dash, x_scale, y_scale):
    """One series: its line (broken where a value is left out) and its points, in one <g data-index>."""
    label = escape(line["label"])
    shown = [(x, y) for x, y in zip(line["x"], line["y"]) if x_scale.shows(x) and y_scale.shows(y)]
    parts = []
    if dash is not None:
        segments, pen_down = [], False
        for x, y in zip(line["x"], line["y"]):
            if not (x_scale.shows(x) and y_scale.shows(y)):
                pen_down = False
                continue
            segments.append(f'{"L" if pen_down else "M"}{coordinate(x_scale.position(x))},'
                            f'{coordinate(y_scale.position(y))}')
            pen_down = True
        dashing = f' stroke-dasharray="{DASHES[dash]}"' if DASHES[dash] else ""
        parts.append(f'<path class="tvg-line" data-series="{label}" data-points="{len(shown)}" '
                     f'd="{" ".join(segments)}" stroke="{colour}"{dashing}/>')
    if points:
        for x, y in shown:
            parts.append(f'<circle class="tvg-point" data-series="{label}" data-x="{datum(x)}" '
                         f'data-y="{datum(y)}" cx="{coordinate(x_scale.position(x))}" '
                         f'cy="{coordinate(y_scale.position(y))}" r="3" fill="{colour}">'
                         f'<title>{label}: {number(x)}, {number(y)}</title></circle>')
    return f'<g class="tvg-series" data-index="{index}">{"".join(parts)}</g>', len(line["y"]) - len(shown)


def legend_svg(entries, left, top):
    """The legend as a column beside the plot: a sample of each series' mark, then its label."""
    parts = []
    for n, (label, colour, points, dash) in enumerate(entries):
        y = top + 8 + LEGEND_ROW * n
        sample = ""
        if dash is not None:
            dashing = f' stroke-dasharray="{DASHES[dash]}"' if DASHES[dash] else ""
            sample += f'<line x1="{left}" y1="{y}" x2="{left + 24}" y2="{y}" stroke="{colour}"{dashing}/>'
        if points:
            sample += f'<circle cx="{left + 12}" cy="{y}" r="3" fill="{colour}"/>'
        parts.append(f'<g class="tvg-legend-entry" data-index="{n}" data-series="{escape(label)}">{sample}'
                     f'<text x="{left + 32}" y="{y}" dy="0.35em">{escape(label)}</text></g>')
    return f'<g class="tvg-legend">{"".join(parts)}</g>'


# a click on a legend entry hides its series (and shows it again): for crowded charts; not needed to read
LEGEND_SCRIPT = """<script>
document.addEventListener("click", function (event) {
  var entry = event.target.closest("g.tvg-legend-entry");
  if (!entry) return;
  var off = entry.classList.toggle("tvg-off");
  entry.closest("svg").querySelector('g.tvg-series[data-index="' + entry.dataset.index + '"]')
    .classList.toggle("tvg-hidden", off);
});
</script>"""


def marks_svg(marks, x_scale, top, bottom):
    parts = []
    for mark in marks:
        at = coordinate(x_scale.position(mark["x"]))
        parts.append(f'<g class="tvg-mark" data-x="{datum(mark["x"])}"><line x1="{at}" y1="{top}" '
                     f'x2="{at}" y2="{bottom}"/><text x="{at}" y="{top - 8}" text-anchor="middle">'
                     f'{escape(mark.get("label", ""))}</text></g>')
    return "".join(parts)


def check_line(panel, line):
    """A series is as many numbers (or None) in y as in x: else a ValueError naming it."""
    where = f'lines panel {panel.get("title", "")!r}, series {line.get("label")!r}'
    if len(line["x"]) != len(line["y"]):
        raise ValueError(f"{where}: {len(line['x'])} x values but {len(line['y'])} y values")
    for axis in ("x", "y"):
        odd = [v for v in line[axis] if v is not None and not isinstance(v, numbers.Real)]
        if odd:
            raise ValueError(f"{where}: {axis} values must be numbers or None, got {odd[0]!r}")


def lines_chart(panel):
    """The SVG markup of a "lines" panel (views/__init__.py describes the keys)."""
    lines, marks = panel["lines"], panel.get("marks", [])
    for line in lines:
        check_line(panel, line)
    right, bottom = LEFT + PLOT_WIDTH, TOP + PLOT_HEIGHT
    xs = [x for line in lines for x in line["x"]] + [mark["x"] for mark in marks]
    ys = [y for line in lines for y in line["y"]]
    x_scale = scale_for(xs, LEFT, right, log=panel.get("xscale", "linear") == "log", decades=False)
    y_scale = scale_for(ys, bottom, TOP, log=panel.get("yscale", "log") == "log")
    drawn, entries, left_out = [], [], 0
    for n, line in enumerate(lines):
        colour, points, dash = parse_style(line.get("style"), PALETTE[n % len(PALETTE)])
        markup, missing = series_svg(line, n, colour, points, dash, x_scale, y_scale)
        drawn.append(markup)
        entries.append((line["label"], colour, points, dash))
        left_out += missing
    legend_width = 40 + CHARACTER * max((len(entry[0]) for entry in entries), default=0)
    width = right + 20 + legend_width
    height = max(bottom + BOTTOM + (18 if left_out else 0), TOP + LEGEND_ROW * len(entries) + 8)
    note = (f'<text class="tvg-note" x="{LEFT}" y="{bottom + BOTTOM + 8}">{left_out} value'
            f'{"s" if left_out != 1 else ""} without a logarithm (0, inf or nan) left out</text>'
            if left_out and y_scale.log else "")
    frame = (LEFT, TOP, right, bottom)
    # at most its natural size (a unit a pixel), so charts side by side share one scale
    return (f'<svg class="tvg-chart" viewBox="0 0 {coordinate(width)} {height}" '
            f'style="max-width: {coordinate(width)}px" role="img" '
            f'aria-label="{escape(panel.get("title", ""))}">'
            + axis_svg(x_scale, "x", frame, panel.get("xlabel", ""))
            + axis_svg(y_scale, "y", frame, panel.get("ylabel", ""))
            + f'<rect class="tvg-frame" x="{LEFT}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}"/>'
            + marks_svg(marks, x_scale, TOP, bottom)
            + f'<g class="tvg-data">{"".join(drawn)}</g>'
            + legend_svg(entries, right + 20, TOP) + note + "</svg>")
