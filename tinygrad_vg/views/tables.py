"""HTML tables from rows of plain values: numbers to 4 significant digits, text escaped, and Markup
(a str marked as already HTML, e.g. a radio button) passed through as it is."""
import numbers

from .axes import escape, number


class Markup(str):
    """Text that is already HTML: a table puts it in a cell unescaped."""


def cell(value):
    """A <td>: numbers right-aligned (their digits line up), text left-aligned."""
    if isinstance(value, Markup):
        return f"<td>{value}</td>"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        shown = int(value) if isinstance(value, numbers.Integral) else number(float(value))
        return f'<td class="tvg-number">{shown}</td>'
    return f'<td>{escape("" if value is None else value)}</td>'


def table(header, rows, row_attributes=None, caption=""):
    """An HTML table; row_attributes, if given, is one string of attributes per row (e.g. data-*)."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = "".join(f"<tr{' ' + row_attributes[n] if row_attributes else ''}>"
                   + "".join(cell(value) for value in row) + "</tr>"
                   for n, row in enumerate(rows))
    caption = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
