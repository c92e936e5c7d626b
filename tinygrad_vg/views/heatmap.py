"""A "heatmap" panel as SVG: row i at y = y0 + i (steps, upwards), column j at x = x0 + j (layers),
or at the panel's own "y"[i] and "x"[j] (a phase map's depths and sigma_w); each value's colour its
log10 on a colour bar of whole decades, or with "scale" "linear" the value itself, or with "signed"
the value on a diverging bar centred on 0 (blue below, red above: a gain's sign). Small maps are
one <rect> a cell (with data-x, data-y, data-value); large ones one embedded PNG
(views.png_encode), a pixel a cell. Cells without a colour (0, inf, nan on a log bar; inf, nan,
None on the others) are grey, and the panel says so. "overlays" are lines drawn over the map in
its coordinates (a theory line), with a legend below it."""
import numpy as np

from .axes import (Scale, as_floats, axis_svg, coordinate, datum, decade_range, escape, log10_or_nan, log_ticks,
                   number)
from .png_encode import data_uri
from .svg import DASHES, LEFT, PALETTE, PLOT_HEIGHT, PLOT_WIDTH, TOP, parse_style, series_svg

MOST_RECTS = 2500     # beyond this many cells, one image draws faster than a rect per cell
# viridis at 0, 1/8, ..., 1 (matplotlib's perceptually uniform colour map), interpolated between
VIRIDIS = np.array([(0x44, 0x01, 0x54), (0x48, 0x28, 0x78), (0x3e, 0x49, 0x89), (0x31, 0x68, 0x8e),
                    (0x26, 0x82, 0x8e), (0x1f, 0x9e, 0x89), (0x35, 0xb7, 0x79), (0x6e, 0xce, 0x58),
                    (0xfd, 0xe7, 0x25)], dtype=float)
# blue, white, red (ColorBrewer's RdBu ends): a signed value's sign at a glance, 0 white
DIVERGING = np.array([(0x21, 0x66, 0xac), (0x92, 0xc5, 0xde), (0xf7, 0xf7, 0xf7), (0xf4, 0xa5, 0x82),
                      (0xb2, 0x18, 0x2b)], dtype=float)
GREY = (0xd0, 0xd0, 0xd0)


def colours(logs, low, high, stops=VIRIDIS):
    """RGB bytes for each value between low and high (along `stops`), grey for nan."""
    t = np.clip((logs - low) / (high - low), 0, 1) * (len(stops) - 1)
    t = np.nan_to_num(t)
    below = np.minimum(np.floor(t).astype(int), len(stops) - 2)
    rgb = stops[below] + (t - below)[..., None] * (stops[below + 1] - stops[below])
    rgb[np.isnan(logs)] = GREY
    return np.round(rgb).astype(np.uint8)


def colour_values(values, scale):
    """(what is coloured, its low and high end, the colour stops) for the panel's "scale"."""
    if scale == "log":
        logs = log10_or_nan(values)
        low, high = decade_range(10.0 ** logs[~np.isnan(logs)])
        return logs, low, high, VIRIDIS
    plain = as_floats(values)
    plain[~np.isfinite(plain)] = np.nan
    shown = plain[~np.isnan(plain)]
    if scale == "signed":
        largest = float(np.max(np.abs(shown))) if shown.size and np.max(np.abs(shown)) > 0 else 1.0
        return plain, -largest, largest, DIVERGING
    if scale != "linear":
        raise ValueError(f'heatmap panel: scale must be "log", "linear" or "signed", got {scale!r}')
    low, high = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)
    return plain, low, (high if high > low else low + 1.0), VIRIDIS


def centres(panel, key, count):
    """The cells' coordinates along one axis (the panel's list, or origin + 0, 1, ...) and their
    edges: halfway to each neighbour, and as far again beyond the first and the last."""
    if panel.get(key) is not None:
        at = [float(v) for v in panel[key]]
        if len(at) != count:
            raise ValueError(f'heatmap panel {panel.get("title", "")!r}: {len(at)} values in "{key}" '
                             f"for {count} {'columns' if key == 'x' else 'rows'}")
    else:
        at = [float(panel.get(f"{key}0", 0) + k) for k in range(count)]
    if count == 1:
        return at, [at[0] - 0.5, at[0] + 0.5]
    middles = [(a + b) / 2 for a, b in zip(at, at[1:])]
    return at, [2 * at[0] - middles[0], *middles, 2 * at[-1] - middles[-1]]


def hex_colour(rgb):
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def cells_svg(values, rgb, x_scale, y_scale, xs, ys, x_edges, y_edges):
    """One rect a cell, between its edges around (x, y), with its value in data-value and a tooltip."""
    parts = []
    for i, row in enumerate(values):
        top, height = y_scale.position(y_edges[i + 1]), y_scale.position(y_edges[i]) - y_scale.position(y_edges[i + 1])
        for j, value in enumerate(row):
            left, width = x_scale.position(x_edges[j]), x_scale.position(x_edges[j + 1]) - x_scale.position(x_edges[j])
            x, y = number(xs[j]), number(ys[i])
            parts.append(f'<rect class="tvg-cell" data-x="{x}" data-y="{y}" data-value="{datum(value)}" '
                         f'x="{coordinate(left)}" y="{coordinate(top)}" width="{coordinate(width)}" '
                         f'height="{coordinate(height)}" fill="{hex_colour(rgb[i, j])}" shape-rendering="crispEdges">'
                         f'<title>x {x}, y {y}: {number(value)}</title></rect>')
    return "".join(parts)


def image_svg(rgb):
    """The whole map as one PNG stretched over the plot; its first row is the top, so steps flip."""
    return (f'<image class="tvg-heatmap-image" data-rows="{rgb.shape[0]}" data-columns="{rgb.shape[1]}" '
            f'x="{LEFT}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" preserveAspectRatio="none" '
            f'style="image-rendering: pixelated" href="{data_uri(rgb[::-1])}"/>')


def colour_bar_svg(low, high, left, label, log=True, colour_stops=VIRIDIS):
    """A vertical bar from low (bottom) to high (top): on a log bar 10^low to 10^high, ticked at
    powers of ten; else ticked as a linear axis."""
    bottom = TOP + PLOT_HEIGHT
    scale = Scale(low, high, bottom, TOP, log=log)
    stops = "".join(f'<stop offset="{n / (len(colour_stops) - 1):.4f}" stop-color="{hex_colour(c)}"/>'
                    for n, c in enumerate(colour_stops[::-1]))
    marks = [(value, text, major) for value, text, major in (log_ticks(low, high) if log else scale.ticks())]
    ticks = "".join(f'<g class="tvg-tick" data-axis="colour" data-value="{datum(value)}" '
                    f'data-position="{coordinate(scale.position(value))}">'
                    f'<line x1="{left + 14}" y1="{coordinate(scale.position(value))}" x2="{left + 19}" '
                    f'y2="{coordinate(scale.position(value))}"/><text x="{left + 22}" '
                    f'y="{coordinate(scale.position(value))}" dy="0.35em">{text}</text></g>'
                    for value, text, major in marks if major)
    gradient = f"tvg-{'viridis' if colour_stops is VIRIDIS else 'diverging'}-{low:g}-{high:g}"
    return (f'<g class="tvg-colour-bar" data-scale="{"log" if log else "linear"}"><defs><linearGradient '
            f'id="{gradient}" x1="0" y1="0" x2="0" y2="1">{stops}</linearGradient></defs><rect x="{left}" y="{TOP}" '
            f'width="14" height="{PLOT_HEIGHT}" fill="url(#{gradient})"/>{ticks}'
            f'<text class="tvg-axis-label" transform="translate({left + 66} {TOP + PLOT_HEIGHT / 2}) rotate(-90)" '
            f'text-anchor="middle">{escape(label)}{" (log scale)" if log else ""}</text></g>')


def overlays_svg(overlays, x_scale, y_scale, top):
    """Lines over the map in its coordinates, and their legend in a row below the plot."""
    drawn, legend = [], []
    for n, line in enumerate(overlays):
        colour, points, dash = parse_style(line.get("style"), PALETTE[n % len(PALETTE)])
        drawn.append(series_svg(line, n, colour, points, dash, x_scale, y_scale)[0])
        dashing = f' stroke-dasharray="{DASHES[dash]}"' if dash and DASHES[dash] else ""
        legend.append(f'<g class="tvg-legend-entry" data-index="{n}"><line x1="{LEFT + 150 * n}" y1="{top}" '
                      f'x2="{LEFT + 150 * n + 24}" y2="{top}" stroke="{colour}" stroke-width="2"{dashing}/>'
                      f'<text x="{LEFT + 150 * n + 30}" y="{top}" dy="0.35em">{escape(line["label"])}</text></g>')
    return f'<g class="tvg-overlays">{"".join(drawn)}</g><g class="tvg-legend">{"".join(legend)}</g>'


def heatmap_chart(panel):
    """The SVG markup of a "heatmap" panel (views/__init__.py describes the keys)."""
    values = np.asarray(panel["heatmap"], dtype=object).tolist()
    if not values or not values[0]:
        return '<p class="tvg-note">No values to draw.</p>'
    scale = panel.get("scale", "log")
    coloured, low, high, stops = colour_values(values, scale)
    rgb = colours(coloured, low, high, stops)
    right, bottom = LEFT + PLOT_WIDTH, TOP + PLOT_HEIGHT
    (xs, x_edges), (ys, y_edges) = centres(panel, "x", len(values[0])), centres(panel, "y", len(values))
    x_scale = Scale(x_edges[0], x_edges[-1], LEFT, right, integer=all(x.is_integer() for x in xs))
    y_scale = Scale(y_edges[0], y_edges[-1], bottom, TOP, integer=all(y.is_integer() for y in ys))
    small = len(values) * len(values[0]) <= MOST_RECTS
    # a large map is one image, a pixel a cell: it assumes evenly spaced cells, as ranges give
    body = cells_svg(values, rgb, x_scale, y_scale, xs, ys, x_edges, y_edges) if small else image_svg(rgb)
    frame = (LEFT, TOP, right, bottom)
    missing = int(np.isnan(coloured).sum())
    overlays = panel.get("overlays", [])
    below = bottom + 58 + (20 if overlays else 0)
    note = (f'<text class="tvg-note" x="{LEFT}" y="{below}">grey: {missing} value{"s" if missing != 1 else ""} '
            f'{"without a logarithm (0, inf or nan)" if scale == "log" else "that are not finite numbers"}'
            f'</text>' if missing else "")
    return (f'<svg class="tvg-heatmap" data-cells="{"rects" if small else "image"}" data-scale="{scale}" '
            f'viewBox="0 0 {right + 110} {below - 8 + (20 if missing else 0)}" style="max-width: {right + 110}px" '
            f'role="img" '
            f'aria-label="{escape(panel.get("title", ""))}">{body}'
            f'<rect class="tvg-frame" x="{LEFT}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}"/>'
            + axis_svg(x_scale, "x", frame, panel.get("xlabel", ""))
            + axis_svg(y_scale, "y", frame, panel.get("ylabel", ""))
            + colour_bar_svg(low, high, right + 16, panel.get("colorbar", "value"), scale == "log", stops)
            + (overlays_svg(overlays, x_scale, y_scale, bottom + 56) if overlays else "")
            + note + "</svg>")
