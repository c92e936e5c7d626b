"""The terminal's view: log-scale bars (one per value, its length proportional to log10(value) on a
scale shared by all the bars, so equal steps in length are equal factors), tables of right-aligned
columns (with a bar beside each row when given), indented blocks, and progress lines on stderr."""
import math
import sys
import time

from .axes import decade_range

EIGHTHS = " ▏▎▍▌▋▊▉"     # partial blocks: a bar's length is drawn to 1/8 of a character


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


def table(header, rows, bars=None, axis=""):
    """Right-aligned columns two spaces apart, with an optional bar (a string) after each row and
    `axis` (the bars' scale) after the header."""
    widths = [max(len(str(row[k])) for row in [header, *rows]) for k in range(len(header))]

    def cells_text(cells):
        return "  ".join(str(cell).rjust(width) for cell, width in zip(cells, widths))

    lines = [cells_text(header) + ("  " + axis if axis else "")]
    for k, row in enumerate(rows):
        lines.append((cells_text(row) + ("  " + bars[k] if bars else "")).rstrip())
    return "\n".join(lines)


def indent(text, prefix="   "):
    return "\n".join(prefix + row for row in text.splitlines())


class Progress:
    """Progress lines on stderr, at most one a second: runs shorter than a second print nothing."""

    def __init__(self, label, total):
        self.label, self.total = label, total
        self.last = time.monotonic()

    def __call__(self, done, detail=""):
        now = time.monotonic()
        if now - self.last >= 1.0:
            print(f"[{self.label}] {done}/{self.total} {detail}", file=sys.stderr, flush=True)
            self.last = now
