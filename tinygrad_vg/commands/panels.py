"""A line of a "lines" panel (tinygrad_vg.views describes the panels): measured values are drawn as
points ("o"), theory as a line ("-"), and the series' x and y as plain lists."""


def series(label, x, y, style):
    return {"label": label, "x": list(x), "y": list(y), "style": style}
