"""Terminal log-scale bars: equal factors give equal lengths."""
import math

from tinygrad_vg.views.axes import decade_range
from tinygrad_vg.views.text import log_axis, log_bar, log_bars


def length(bar):
    """A bar's length in eighths of a character."""
    partial = " ▏▎▍▌▋▊▉"
    return 8 * bar.count("█") + sum(partial.index(c) for c in bar if c in partial)


def test_bars_are_proportional_to_the_logarithm():
    bars, (low, high) = log_bars([1e-12, 1e-6, 1.0, 10.0], width=26)
    assert (low, high) == (-12, 1)
    assert [length(b) for b in bars] == [0, 6 * 16, 12 * 16, 13 * 16]


def test_special_values():
    assert log_bar(0.0, -3, 0) == "0"
    assert log_bar(math.nan, -3, 0) == "nan" and log_bar(None, -3, 0) == "nan"
    assert log_bar(math.inf, -3, 0, width=5) == "█████ inf"
    # clipped to the scale
    assert log_bar(1e-9, -3, 0) == "" and log_bar(1e9, -3, 0, width=5) == "█████"


def test_decade_range_ignores_what_has_no_logarithm_and_is_never_empty():
    assert decade_range([0.0, math.inf, math.nan, 0.05, 300.0]) == (-2, 3)
    assert decade_range([1.0]) == (0, 1)
    assert decade_range([]) == (0, 1)


def test_axis_spans_the_bar_width():
    axis = log_axis(-12, 1, width=30)
    assert axis.startswith("1e-12") and axis.endswith("1e+01") and len(axis) == 30
