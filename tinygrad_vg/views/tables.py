"""HTML tables from rows of plain values: numbers to 4 significant digits, text escaped, and Markup
(a str marked as already HTML, e.g. a radio button) passed through as it is."""
from .axes import escape, number


class Markup(str):
    """Text that is already HTML: a table puts it in a cell unescaped."""


def cell(value):
    if isinstance(value, Markup):
        return value
    if isinstance(value, float):
        return number(value)
    return escape("" if value is None else value)


def table(header, rows, row_attributes=None):
    """An HTML table; row_attributes, if given, is one string of attributes per row (e.g. data-*)."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = "".join(f"<tr{' ' + row_attributes[n] if row_attributes else ''}>"
                   + "".join(f"<td>{cell(value)}</td>" for value in row) + "</tr>"
                   for n, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
