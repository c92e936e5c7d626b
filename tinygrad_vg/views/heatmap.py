"""A "heatmap" panel as SVG: row i at y = y0 + i (steps, upwards), column j at x = x0 + j (layers),
each value's colour its log10 on a colour bar of whole decades. Small maps are one <rect> a cell (with
data-x, data-y, data-value); large ones one embedded PNG (views.png_encode), a pixel a cell.
Cells without a logarithm (0, inf, nan) are grey, and the panel says so."""
import numpy as np

from .axes import Scale, axis_svg, coordinate, datum, decade_range, escape, log10_or_nan, log_ticks, number
from .png_encode import data_uri
from .svg import LEFT, PLOT_HEIGHT, PLOT_WIDTH, TOP

MOST_RECTS = 2500     # beyond this many cells, one image draws faster than a rect per cell
# viridis at 0, 1/8, ..., 1 (matplotlib's perceptually uniform colour map), interpolated between
VIRIDIS = np.array([(0x44, 0x01, 0x54), (0x48, 0x28, 0x78), (0x3e, 0x49, 0x89), (0x31, 0x68, 0x8e),
                    (0x26, 0x82, 0x8e), (0x1f, 0x9e, 0x89), (0x35, 0xb7, 0x79), (0x6e, 0xce, 0x58),
                    (0xfd, 0xe7, 0x25)], dtype=float)
GREY = (0xd0, 0xd0, 0xd0)


def colours(logs, low, high):
    """RGB bytes for each log10 value between low and high (viridis), grey for nan."""
    t = np.clip((logs - low) / (high - low), 0, 1) * (len(VIRIDIS) - 1)
    t = np.nan_to_num(t)
    below = np.minimum(np.floor(t).astype(int), len(VIRIDIS) - 2)
    rgb = VIRIDIS[below] + (t - below)[..., None] * (VIRIDIS[below + 1] - VIRIDIS[below])
    rgb[np.isnan(logs)] = GREY
    return np.round(rgb).astype(np.uint8)


def hex_colour(rgb):
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def cells_svg(values, logs, rgb, x_scale, y_scale, x0, y0):
    """One rect a cell, centred on its (layer, step), with its value in data-value and a tooltip."""
    parts = []
    width = x_scale.position(x0 + 1) - x_scale.position(x0)
    height = y_scale.position(y0) - y_scale.position(y0 + 1)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            x, y = x0 + j, y0 + i
            parts.append(f'<rect class="tvg-cell" data-x="{x}" data-y="{y}" data-value="{datum(value)}" '
                         f'x="{coordinate(x_scale.position(x) - width / 2)}" '
                         f'y="{coordinate(y_scale.position(y) - height / 2)}" width="{coordinate(width)}" '
                         f'height="{coordinate(height)}" fill="{hex_colour(rgb[i, j])}" shape-rendering="crispEdges">'
                         f'<title>x {x}, y {y}: {number(value)}</title></rect>')
    return "".join(parts)


def image_svg(rgb):
    """The whole map as one PNG stretched over the plot; its first row is the top, so steps flip."""
    return (f'<image class="tvg-heatmap-image" data-rows="{rgb.shape[0]}" data-columns="{rgb.shape[1]}" '
            f'x="{LEFT}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" preserveAspectRatio="none" '
            f'style="image-rendering: pixelated" href="{data_uri(rgb[::-1])}"/>')


def colour_bar_svg(low, high, left, label):
    """A vertical bar from 10^low (bottom) to 10^high (top), ticked at powers of ten."""
    bottom = TOP + PLOT_HEIGHT
    scale = Scale(low, high, bottom, TOP, log=True)
    stops = "".join(f'<stop offset="{n / (len(VIRIDIS) - 1):.4f}" stop-color="{hex_colour(c)}"/>'
                    for n, c in enumerate(VIRIDIS[::-1]))
    ticks = "".join(f'<g class="tvg-tick" data-axis="colour" data-value="{datum(value)}" '
                    f'data-position="{coordinate(scale.position(value))}">'
                    f'<line x1="{left + 14}" y1="{coordinate(scale.position(value))}" x2="{left + 19}" '
                    f'y2="{coordinate(scale.position(value))}"/><text x="{left + 22}" '
                    f'y="{coordinate(scale.position(value))}" dy="0.35em">{text}</text></g>'
                    for value, text, major in log_ticks(low, high) if major)
    return (f'<g class="tvg-colour-bar"><defs><linearGradient id="tvg-viridis-{low}-{high}" x1="0" y1="0" '
            f'x2="0" y2="1">{stops}</linearGradient></defs><rect x="{left}" y="{TOP}" width="14" '
            f'height="{PLOT_HEIGHT}" fill="url(#tvg-viridis-{low}-{high})"/>{ticks}'
            f'<text class="tvg-axis-label" transform="translate({left + 66} {TOP + PLOT_HEIGHT / 2}) rotate(-90)" '
            f'text-anchor="middle">{escape(label)} (log scale)</text></g>')


def heatmap_chart(panel):
    """The SVG markup of a "heatmap" panel (views/__init__.py describes the keys)."""
    values = np.asarray(panel["heatmap"], dtype=object).tolist()
    if not values or not values[0]:
        return '<p class="tvg-note">No values to draw.</p>'
    x0, y0 = panel.get("x0", 0), panel.get("y0", 0)
    logs = log10_or_nan(values)
    shown = logs[~np.isnan(logs)]
    low, high = decade_range(10.0 ** shown)
    rgb = colours(logs, low, high)
    right, bottom = LEFT + PLOT_WIDTH, TOP + PLOT_HEIGHT
    x_scale = Scale(x0 - 0.5, x0 + len(values[0]) - 0.5, LEFT, right, integer=True)
    y_scale = Scale(y0 - 0.5, y0 + len(values) - 0.5, bottom, TOP, integer=True)
    small = len(values) * len(values[0]) <= MOST_RECTS
    body = cells_svg(values, logs, rgb, x_scale, y_scale, x0, y0) if small else image_svg(rgb)
    frame = (LEFT, TOP, right, bottom)
    missing = int(np.isnan(logs).sum())
    note = (f'<text class="tvg-note" x="{LEFT}" y="{bottom + 58}">grey: {missing} value'
            f'{"s" if missing != 1 else ""} without a logarithm (0, inf or nan)</text>' if missing else "")
    return (f'<svg class="tvg-heatmap" data-cells="{"rects" if small else "image"}" '
            f'viewBox="0 0 {right + 110} {bottom + 50 + (20 if missing else 0)}" style="max-width: {right + 110}px" '
            f'role="img" '
            f'aria-label="{escape(panel.get("title", ""))}">{body}'
            f'<rect class="tvg-frame" x="{LEFT}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}"/>'
            + axis_svg(x_scale, "x", frame, panel.get("xlabel", ""))
            + axis_svg(y_scale, "y", frame, panel.get("ylabel", ""))
            + colour_bar_svg(low, high, right + 16, panel.get("colorbar", "value"))
            + note + "</svg>")
