"""The panels (the vocabulary of tinygrad_vg.views) as a PNG, drawn by matplotlib when it is
installed: the same charts, heatmaps and halts as the page, side by side, two to a row. matplotlib
is imported only when a figure is asked for; without it every entry point raises ImportError with
INSTALL_HINT. Tables and graphs are the page's (a PNG says where they are)."""
import io
import math

import numpy as np

from .axes import as_floats, decade_range, log10_or_nan
from .heatmap import centres, colour_values

COLUMNS = 2      # panels a row: more, and a figure of five charts is 3500 pixels wide
INSTALL_HINT = 'PNG figures need matplotlib, which is not installed: pip install -e ".[plot]"'


def all_integers(values):
    return all(float(v).is_integer() for v in values if v is not None and math.isfinite(v))


def log_decades(ax, axis, values, ticker):
    """A log axis over whole decades, labelled at powers of ten (every n-th when many), and at 2 and 5
    times them too when it spans only one or two decades."""
    low, high = decade_range(values)
    (ax.set_ylim if axis == "y" else ax.set_xlim)(10.0 ** low, 10.0 ** high)
    target = ax.yaxis if axis == "y" else ax.xaxis
    if high - low <= 2:
        target.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        target.set_major_formatter(ticker.FormatStrFormatter("%g"))
    else:
        target.set_major_locator(ticker.LogLocator(base=10, numticks=9))
        target.set_major_formatter(ticker.LogFormatterSciNotation(base=10))
    target.set_minor_formatter(ticker.NullFormatter())
    if high - low > 6:
        target.set_minor_locator(ticker.NullLocator())


def integer_ticks(target, ticker):
    """Ticks at whole numbers only (layers, steps, paths), at steps of 1, 2, 5 or 10 times a power of ten."""
    target.set_major_locator(ticker.MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def draw_lines(ax, panel, ticker):
    xs = [x for line in panel["lines"] for x in line["x"]] + [mark["x"] for mark in panel.get("marks", [])]
    ys = [y for line in panel["lines"] for y in line["y"]]
    for axis, scale, values in (("x", panel.get("xscale", "linear"), xs), ("y", panel.get("yscale", "log"), ys)):
        (ax.set_xscale if axis == "x" else ax.set_yscale)(scale)
        if scale == "log":
            if axis == "y":     # whole decades; a log x axis keeps matplotlib's limits around its values
                log_decades(ax, axis, values, ticker)
        elif all_integers(values):
            integer_ticks(ax.xaxis if axis == "x" else ax.yaxis, ticker)
    for line in panel["lines"]:
        # values without a place on the axis become nan: matplotlib leaves them out (and breaks the line)
        y = as_floats(line["y"])
        y = 10.0 ** log10_or_nan(y) if panel.get("yscale", "log") == "log" else np.where(np.isfinite(y), y, np.nan)
        ax.plot(as_floats(line["x"]), y, line.get("style", "-"), label=line["label"])
    for mark in panel.get("marks", []):
        ax.axvline(mark["x"], color="#d62728", linestyle="--", linewidth=1.2)
        # inside the plot, right of the line, so it never runs into the title
        ax.annotate(mark.get("label", ""), (mark["x"], 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", ha="left", va="top", color="#d62728", fontsize="small")
    # beside the plot, never on the data
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    ax.grid(True, which="major", alpha=0.3)


def draw_heatmap(figure, ax, panel, ticker):
    """Rows are steps (y, upwards), columns layers (x), or the panel's own "y" and "x"; colours are
    log10 of the values, the values ("linear"), or a diverging map centred on 0 ("signed")."""
    scale = panel.get("scale", "log")
    colours, low, high, _ = colour_values(panel["heatmap"], scale)
    (xs, x_edges), (ys, y_edges) = centres(panel, "x", colours.shape[1]), centres(panel, "y", colours.shape[0])
    image = ax.pcolormesh(x_edges, y_edges, colours, cmap="RdBu_r" if scale == "signed" else "viridis",
                          vmin=low, vmax=high, shading="flat")
    label = panel.get("colorbar", "")
    figure.colorbar(image, ax=ax, label=f"log10 {label}".strip() if scale == "log" else label)
    for n, line in enumerate(panel.get("overlays", [])):
        ax.plot(line["x"], line["y"], line.get("style", f"C{n}-"), label=line["label"], linewidth=1.5)
    if panel.get("overlays"):
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.15), frameon=False)
    for axis, at in ((ax.xaxis, xs), (ax.yaxis, ys)):
        if all(v.is_integer() for v in at):
            integer_ticks(axis, ticker)


def draw_halt(ax, halt):
    ax.axis("off")
    words = (f"Stopped at step {halt.get('step')}, layer {halt.get('layer')}:\n{halt.get('kind', '')} in the "
             f"{halt.get('phase', '')} of {halt.get('op', '')}")
    ax.text(0.5, 0.5, words, ha="center", va="center", fontsize="large", color="#d62728", wrap=True,
            transform=ax.transAxes)


def figure_of(panels, title, pyplot, ticker):
    """The matplotlib figure of the panels: charts, heatmaps and halts side by side (tables and graphs
    are the HTML page's)."""
    drawable = [p for p in panels if "lines" in p or "heatmap" in p or "halt" in p]
    columns = min(max(len(drawable), 1), COLUMNS)
    rows = max(math.ceil(len(drawable) / columns), 1)
    figure, axes = pyplot.subplots(rows, columns, figsize=(6.4 * columns, 4.2 * rows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(drawable):]:
        ax.axis("off")
    if not drawable:
        axes[0].text(0.5, 0.5, "No chart here: the HTML page (--html) shows the tables and the graph.",
                     ha="center", va="center")
    for ax, panel in zip(axes, drawable):
        if "heatmap" in panel:
            draw_heatmap(figure, ax, panel, ticker)
        elif "lines" in panel:
            draw_lines(ax, panel, ticker)
        else:
            draw_halt(ax, panel["halt"])
        ax.set_title(panel.get("title", ""), fontsize="medium")
        ax.set_xlabel(panel.get("xlabel", ""))
        ax.set_ylabel(panel.get("ylabel", ""))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def matplotlib_modules():
    """pyplot (on the Agg backend, no window) and ticker; ImportError with INSTALL_HINT without matplotlib."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    matplotlib.use("Agg")
    from matplotlib import pyplot, ticker
    return pyplot, ticker


def save_figure(path, panels, title=None):
    """Write the panels (the vocabulary of tinygrad_vg.views) side by side to `path`: PNG, or any format
    matplotlib knows by the extension. matplotlib is imported here, only when a figure is asked for."""
    pyplot, ticker = matplotlib_modules()
    figure = figure_of(panels, title, pyplot, ticker)
    figure.savefig(path, dpi=110, bbox_inches="tight")     # tight: the legends beside the plots are kept
    pyplot.close(figure)


def png_bytes(panels, title=None):
    """The figure as PNG bytes (for a notebook's image/png); ImportError with INSTALL_HINT without matplotlib."""
    buffer = io.BytesIO()
    save_figure(buffer, panels, title)
    return buffer.getvalue()
