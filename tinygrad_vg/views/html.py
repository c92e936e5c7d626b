"""A self-contained HTML page from an experiment's panels: one file, no network, no script needed to read it."""
import html

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
.tvg-description { white-space: pre-wrap; }
.tvg-panel { margin: 1.5rem 0; }
.tvg table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.tvg td, .tvg th { border-bottom: 1px solid #ddd; padding: 0.15rem 0.6rem; text-align: right; }
.tvg pre { background: #f6f6f6; padding: 0.75rem; overflow-x: auto; }
"""


def cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def table(header, rows):
    head = "".join(f"<th>{cell(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(value)}</td>" for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def lines_as_table(panel):
    """A "lines" panel's values as a table: one row per x, one column per line."""
    xs = sorted({x for line in panel["lines"] for x in line["x"]})
    columns = [dict(zip(line["x"], line["y"])) for line in panel["lines"]]
    rows = [[x, *(column.get(x, "") for column in columns)] for x in xs]
    return table([panel.get("xlabel", "x"), *(line["label"] for line in panel["lines"])], rows)


def panel_html(panel):
    if "table" in panel:
        body = table(panel["table"]["header"], panel["table"]["rows"])
    elif "lines" in panel:
        body = lines_as_table(panel)
    elif "halt" in panel:
        body = table(["step", "layer", "op", "phase", "kind"],
                     [[panel["halt"].get(key, "") for key in ("step", "layer", "op", "phase", "kind")]])
    elif "graph" in panel:
        body = f"<pre>{html.escape(panel['graph']['dot'])}</pre>"
    else:
        body = ""
    return f'<section class="tvg-panel"><h2>{html.escape(panel.get("title", ""))}</h2>{body}</section>'


def fragment(title, panels, text):
    """The page's body, for a notebook cell."""
    return (f'<div class="tvg"><style>{STYLE}</style><h1>{html.escape(title)}</h1>'
            + "".join(panel_html(panel) for panel in panels)
            + f"<details><summary>The terminal's text</summary><pre>{html.escape(text)}</pre></details></div>")


def page(title, description, panels, text):
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title></head><body>"
            + fragment(title, panels, text).replace("</h1>", f'</h1><p class="tvg-description">{html.escape(description)}</p>', 1)
            + "</body></html>\n")
