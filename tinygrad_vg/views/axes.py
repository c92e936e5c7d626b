"""Axes for the SVG charts: a scale maps a value to a pixel, and chooses ticks a learner can read.

A log scale puts its labelled ticks at powers of ten (every decade, or every 2nd, 5th, 10th... when
there are many; 2 and 5 times them too on a short axis), so equal distances are equal factors; a y
axis spans whole decades, a log x axis just its values. A linear scale puts its
ticks at 1, 2 or 5 times a power of ten; on an integer axis (layers, steps) never between integers.
Positions are written with 15 significant digits, so a test can map a pixel back to its value.
"""
import html
import math

import numpy as np

NICE_STEPS = (1, 2, 5, 10)
MOST_TICKS = 8


def number(value):
    """A short readable label: 3, 0.25, 1.5e-07."""
    return format(value, ".4g")


def coordinate(value):
    """A pixel position as SVG text, precise enough to map a pixel back to its value (15 digits)."""
    return format(value, ".15g")


def datum(value):
    """A value as an attribute, every digit kept (17 significant digits round-trip a float)."""
    return format(value, ".17g")


def has_logarithm(value):
    return value is not None and 0 < value < math.inf


def as_floats(values):
    """Values (any shape, None allowed) as a float array, None as nan."""
    values = np.asarray(values, dtype=object)
    return np.where(np.equal(values, None), np.nan, values).astype(np.float64)


def log10_or_nan(values):
    """log10 of each value as a float array (any shape), nan where it has none (0, < 0, inf, nan, None)."""
    values = as_floats(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((values > 0) & np.isfinite(values), np.log10(values), np.nan)


def finite(value):
    return value is not None and math.isfinite(value)


def nice_step(span, most=MOST_TICKS, integer=False):
    """The smallest of 1, 2, 5 x 10^k that cuts span into at most `most` intervals (>= 1 if integer)."""
    if span <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(span / most))
    step = next(s * power for s in NICE_STEPS if span / (s * power) <= most)
    return max(step, 1.0) if integer else step


class Scale:
    """Values in [low, high] drawn from pixel `start` to pixel `end` (end < start for a y axis)."""

    def __init__(self, low, high, start, end, log=False, integer=False):
        self.low, self.high, self.start, self.end = low, high, start, end
        self.log, self.integer = log, integer

    def position(self, value):
        t = (math.log10(value) - self.low) if self.log else (value - self.low)
        return self.start + t / (self.high - self.low) * (self.end - self.start)

    def shows(self, value):
        """Whether the value has a place on this axis (a logarithm on a log axis, finite on any)."""
        return has_logarithm(value) if self.log else finite(value)

    def ticks(self):
        """[(value, label, major)]: labelled ticks, and on a short log axis unlabelled minor ones."""
        if self.log:
            return log_scale_ticks(self.low, self.high)
        step = nice_step(self.high - self.low, most=12 if self.integer else MOST_TICKS, integer=self.integer)
        first = math.ceil(self.low / step - 1e-9)
        # (first + n) * step rounded to 12 digits: 0.6, not 0.6000000000000001
        values = [float(format((first + n) * step, ".12g")) for n in range(int((self.high - self.low) / step + 1e-9) + 2)]
        values = [v for v in values if v <= self.high + 1e-9 * step]
        if self.integer:
            # layers are numbered from 1: show the first one where the step skips it (unless the
            # next tick is its neighbour, as 2 is to 1 on an axis ticked every 2)
            smallest = math.ceil(self.low)
            if not values or values[0] - smallest > step / 2:
                values.insert(0, smallest)
        return [(v, number(v), True) for v in values]


def log_scale_ticks(low, high):
    """The ticks of a log axis from 10^low to 10^high, ends not necessarily whole decades; when
    less than two are labelled (a fraction of a decade), every 1..9 x 10^e between is labelled."""
    inside = (10.0 ** (low - 1e-9), 10.0 ** (high + 1e-9))
    ticks = [t for t in log_ticks(math.floor(low), math.ceil(high), span=high - low) if inside[0] <= t[0] <= inside[1]]
    if sum(major for _, _, major in ticks) >= 2:
        return ticks
    exponents = [math.floor(math.log10(value) + 1e-9) for value, _, _ in ticks]
    return [(value, log_label(round(value / 10.0 ** e), e), True) for (value, _, _), e in zip(ticks, exponents)]


def log_ticks(low, high, span=None):
    """Ticks for a log axis from 10^low to 10^high: labelled powers of ten (every n-th when many), and
    unlabelled 2..9 between them when <= 6 decades; on <= 2 decades 2 and 5 are labelled too.
    span: the decades the axis really shows, when less than high - low (an axis between decades)."""
    span = high - low if span is None else span
    every = decades_per_tick(0, span)
    ticks = [(10.0 ** e, log_label(1, e), True) for e in range(low, high + 1) if e % every == 0]
    if span <= 6:
        labelled = (2, 5) if span <= 2 else ()
        ticks += [(m * 10.0 ** e, log_label(m, e) if m in labelled else "", m in labelled)
                  for e in range(low, high) for m in range(2, 10)]
    return ticks


def decades_per_tick(low, high):
    return next(s for s in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500) if (high - low) / s <= MOST_TICKS)


def log_label(mantissa, exponent):
    """m x 10^e as SVG text: 1, 2, 50 as numbers, else 10 to the exponent raised (a minus, not a hyphen)."""
    if exponent in (0, 1):
        return number(mantissa * 10.0 ** exponent)
    power = f'10<tspan dy="-0.45em" font-size="75%">{str(exponent).replace("-", "−")}</tspan>'
    return power if mantissa == 1 else f"{mantissa}·{power}"


def decade_range(values):
    """(low, high) whole decades spanning the values that have a logarithm; (0, 1) when none."""
    logs = [math.log10(v) for v in values if has_logarithm(v)]
    if not logs:
        return 0, 1
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    return low, max(high, low + 1)


def linear_range(values, integer=False):
    """(low, high) around the finite values, padded so points at the ends are not cut by the frame."""
    shown = [v for v in values if finite(v)]
    if not shown:
        return 0.0, 1.0
    low, high = min(shown), max(shown)
    if high == low:
        return low - 0.5, high + 0.5
    pad = 0.5 if integer else (high - low) * 0.03     # half a layer: no tick outside the data
    return low - pad, high + pad


def scale_for(values, start, end, log=False, decades=True):
    """The scale that shows `values` between two pixels: log over whole decades (or, with decades
    False, just around the values: a log x axis of depths 1..12 need not run to 100), or linear
    (integer if all are)."""
    if log and not decades:
        logs = log10_or_nan(values)
        low, high = (np.nanmin(logs), np.nanmax(logs)) if not np.isnan(logs).all() else (0.0, 1.0)
        pad = max(high - low, 0.1) * 0.03
        return Scale(float(low - pad), float(high + pad), start, end, log=True)
    if log:
        low, high = decade_range(values)
        every = decades_per_tick(low, high)   # both ends on a labelled tick
        return Scale(math.floor(low / every) * every, math.ceil(high / every) * every, start, end, log=True)
    integer = all(float(v).is_integer() for v in values if finite(v))
    low, high = linear_range(values, integer)
    return Scale(low, high, start, end, integer=integer)


def escape(text):
    return html.escape(str(text), quote=True)


def axis_svg(scale, axis, frame, label):
    """An axis's ticks, grid lines and label as SVG; `frame` is the plot's (left, top, right, bottom).

    Every tick is a <g class="tvg-tick" data-axis data-value data-position>, so a test can read the
    axis back: the position of any value follows from two ticks."""
    left, top, right, bottom = frame
    parts = []
    for value, text, major in scale.ticks():
        at = scale.position(value)
        length = 5 if major else 3
        if axis == "x":
            grid = f'<line class="tvg-grid" x1="{coordinate(at)}" y1="{top}" x2="{coordinate(at)}" y2="{bottom}"/>'
            tick = f'<line x1="{coordinate(at)}" y1="{bottom}" x2="{coordinate(at)}" y2="{bottom + length}"/>'
            words = f'<text x="{coordinate(at)}" y="{bottom + 18}" text-anchor="middle">{text}</text>'
        else:
            grid = f'<line class="tvg-grid" x1="{left}" y1="{coordinate(at)}" x2="{right}" y2="{coordinate(at)}"/>'
            tick = f'<line x1="{left - length}" y1="{coordinate(at)}" x2="{left}" y2="{coordinate(at)}"/>'
            words = f'<text x="{left - 8}" y="{coordinate(at)}" dy="0.35em" text-anchor="end">{text}</text>'
        parts.append(f'<g class="tvg-tick{"" if major else " tvg-minor"}" data-axis="{axis}" '
                     f'data-value="{datum(value)}" data-position="{coordinate(at)}">'
                     f'{grid if major else ""}{tick}{words if text else ""}</g>')
    if axis == "x":
        parts.append(f'<text class="tvg-axis-label" x="{(left + right) / 2}" y="{bottom + 38}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    else:
        middle = (top + bottom) / 2
        parts.append(f'<text class="tvg-axis-label" transform="translate({left - 64} {middle}) rotate(-90)" '
                     f'text-anchor="middle">{escape(label)}</text>')
    return f'<g class="tvg-axis" data-axis="{axis}" data-scale="{"log" if scale.log else "linear"}">{"".join(parts)}</g>'
