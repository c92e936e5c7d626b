"""HTML tables from rows of plain values: numbers to 4 significant digits, text escaped, and Markup
(a str marked as already HTML, e.g. a radio button) passed through as it is."""
import numbers

from .axes import escape, number


BLANKS = (None, "", "-", "—")    # a missing number: it does not make a column of numbers text


class Markup(str):
    """Text that is already HTML: a table puts it in a cell unescaped."""


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def cell(value, right):
    """A <td>: a number to 4 significant digits, text escaped, Markup as it is; right-aligned if asked."""
    if isinstance(value, Markup):
        shown = value
    elif is_number(value):
        shown = int(value) if isinstance(value, numbers.Integral) else number(float(value))
    else:
        shown = escape("" if value is None else value)
    return f'<td class="tvg-number">{shown}</td>' if right else f"<td>{shown}</td>"


def table(header, rows, row_attributes=None, caption=""):
    """An HTML table; row_attributes, if given, is one string of attributes per row (e.g. data-*).
    A column of numbers (and blanks) is right-aligned, so its digits line up; any other left-aligned."""
    width = max((len(row) for row in rows), default=0)
    numeric = [all(is_number(row[j]) for row in rows if j < len(row) and row[j] not in BLANKS)
               for j in range(width)]
    head = "".join(f'<th{" class=tvg-number" if j < width and numeric[j] else ""}>{escape(name)}</th>'
                   for j, name in enumerate(header))
    body = "".join(f"<tr{' ' + row_attributes[n] if row_attributes else ''}>"
                   + "".join(cell(value, numeric[j]) for j, value in enumerate(row)) + "</tr>"
                   for n, row in enumerate(rows))
    caption = f"<caption>{escape(caption)}</caption>" if caption else ""
    # in a box that scrolls sideways, so a wide table never widens the page
    return f'<div class="tvg-table"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
