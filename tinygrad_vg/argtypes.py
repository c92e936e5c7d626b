"""argparse types that refuse bad numbers with a message naming the rule (`--depth 0`: must be at least 1)."""
import argparse
import math


def number(text, convert=float):
    try:
        value = convert(text)
    except ValueError:
        kind = "whole number" if convert is int else "number"
        raise argparse.ArgumentTypeError(f"expected a {kind}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_int(text):
    value = number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def finite_float(text):
    return number(text)


def non_negative_float(text):
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text):
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def probability(text):
    value = number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def number_range(text):
    """START:STOP:STEP (both ends included, e.g. 0.5:4:0.25), a list a,b,c, or one number, as a list."""
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise argparse.ArgumentTypeError(f"expected START:STOP:STEP, got {text!r}")
        start, stop, step = (number(part) for part in parts)
        if step <= 0 or stop < start:
            raise argparse.ArgumentTypeError(f"need STEP > 0 and STOP >= START, got {text!r}")
        count = math.floor((stop - start) / step + 1e-9) + 1
        return [round(start + k * step, 12) for k in range(count)]
    return [number(part) for part in text.split(",")]
