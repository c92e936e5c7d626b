"""Log-scale charts in the terminal, with no dependency: one bar per value, its length proportional
to log10(value) on a scale shared by all the bars, so equal steps in length are equal factors; and
the same log-scale pictures as PNG files when matplotlib is installed (save_figure)."""
import math

import numpy as np

EIGHTHS = " ▏▎▍▌▋▊▉"     # partial blocks: a bar's length is drawn to 1/8 of a character


def decade_range(values):
    """(low, high): the whole decades, as powers of ten, spanning the positive finite values."""
    logs = [math.log10(v) for v in values if v is not None and 0 < v < math.inf]
    if not logs:
        return 0, 1
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    return low, max(high, low + 1)


def log_bar(value, low, high, width=40):
    """A bar for value on a log10 scale from 10^low (empty) to 10^high (width characters)."""
    if value is None or value != value:
        return "nan"
    if value <= 0:
        return "0"
    if value == math.inf:
        return "█" * width + " inf"
    eighths = round((math.log10(value) - low) / (high - low) * width * 8)
    eighths = min(max(eighths, 0), width * 8)
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def log_bars(values, width=40):
    """One bar per value on a shared log scale, and the scale's (low, high) decades."""
    low, high = decade_range(values)
    return [log_bar(v, low, high, width) for v in values], (low, high)


def log_axis(low, high, width=40):
    """`1e-12 ... 1e+01` with the ends under a bar's empty and full positions."""
    left, right = f"1e{low:+03d}", f"1e{high:+03d}"
    return left + " " * max(width - len(left) - len(right), 1) + right


INSTALL_HINT = 'PNG figures need matplotlib, which is not installed: pip install -e ".[plot]"'


def log10_or_nan(values):
    """log10 of each value as a float array, nan where it has none (zero, negative, inf, nan, None)."""
    values = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((values > 0) & np.isfinite(values), np.log10(values), np.nan)


def save_figure(path, panels, title=None):
    """Write side-by-side log-scale panels to `path` (PNG, or any format matplotlib knows by extension).

    Each panel is a dict with "title", "xlabel", "ylabel" and either
      "lines":   [{"label", "x", "y", "style"(optional, e.g. "--" or "o")}, ...], drawn on a log y axis;
      "heatmap": rows of values (e.g. [step][layer]), drawn as log10 colours, row i at y = i and
                 column j at x = j + "x0" (optional, default 0: e.g. 1 for layers numbered from 1).
    Values without a logarithm (0, inf, nan, None) are left out of the picture rather than clipped.
    matplotlib is imported here, only when a figure is asked for; without it this raises ImportError
    with INSTALL_HINT."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if "heatmap" in panel:
            colours = np.array([log10_or_nan(row) for row in panel["heatmap"]])
            x0 = panel.get("x0", 0)
            extent = (x0 - 0.5, x0 + colours.shape[1] - 0.5, -0.5, colours.shape[0] - 0.5)
            image = ax.imshow(colours, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                              extent=extent)
            figure.colorbar(image, ax=ax, label="log10")
        else:
            for line in panel["lines"]:
                ax.plot(line["x"], 10.0 ** log10_or_nan(line["y"]), line.get("style", "-"), label=line["label"])
            ax.set_yscale("log")
            ax.legend(fontsize="small", framealpha=0.7)
            ax.grid(True, which="major", alpha=0.3)
        ax.set_title(panel.get("title", ""), fontsize="medium")
        ax.set_xlabel(panel.get("xlabel", ""))
        ax.set_ylabel(panel.get("ylabel", ""))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
