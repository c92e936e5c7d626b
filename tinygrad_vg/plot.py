"""Log-scale charts in the terminal, with no dependency: one bar per value, its length proportional
to log10(value) on a scale shared by all the bars, so equal steps in length are equal factors."""
import math

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
