"""The terminal's view: tables of right-aligned columns (with a log bar beside each row when given),
indented blocks, and progress lines on stderr. Standard library only."""
import sys
import time


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
