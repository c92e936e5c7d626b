"""How an object shows itself in Jupyter: one mime bundle, built from the same panels as every
other view, that never raises out of a notebook cell.

IPython calls an object's `_repr_mimebundle_` and shows the richest type the front end can read:
text/html (the page's body, see views.html), image/png (the figure, when matplotlib is installed:
for front ends without HTML) and text/plain (the terminal's text). A missing `dot` or matplotlib,
or a view that fails, leaves the types that could be made; text/plain is always there.
"""
import base64
import html as markup

from . import html, png


def mimebundle(title, panels, text, png=None):
    """{"text/plain", "text/html", and "image/png" where it can be made}; never raises.

    png: the picture as PNG bytes, or None (no matplotlib, no `dot`, nothing to draw)."""
    bundle = {"text/plain": text}
    try:
        bundle["text/html"] = html.fragment(title, panels, text)
    except Exception as error:  # a view's bug must not hide the text: show it, and say what failed
        bundle["text/html"] = (f"<pre>{markup.escape(text)}</pre>"
                               f"<p>(the HTML view failed: {markup.escape(repr(error))})</p>")
    if png:
        bundle["image/png"] = base64.b64encode(png).decode("ascii")   # Jupyter carries PNG as base64
    return bundle


def shown(title, panels, text, png=lambda: None):
    """mimebundle from four callables (title(), panels(), text(), png()), each called here, so that a
    reader's bug becomes a line in the cell instead of an exception out of it; never raises."""
    try:
        made = title(), panels(), text()
    except Exception as error:
        made = "could not be shown", [], f"could not be shown: {error!r}"
    try:
        picture = png()
    except Exception:               # no matplotlib (ImportError), or a panel it cannot draw
        picture = None
    return mimebundle(*made, picture)


class Shown:
    """A base for an object that shows itself in a notebook and as a page: it defines `panels()`
    (a list in the vocabulary of tinygrad_vg.views), and may redefine `display_title()`,
    `description()`, `text()` (by default str(self)) and `png()`."""

    def display_title(self):
        return type(self).__name__

    def description(self):
        return ""

    def text(self):
        return str(self)

    def png(self):
        """The panels as PNG bytes (views.png; ImportError without matplotlib, which shown() turns
        into a bundle without image/png)."""
        return png.png_bytes(self.panels(), self.display_title())

    def _repr_mimebundle_(self, include=None, exclude=None):
        return shown(self.display_title, self.panels, self.text, self.png)

    def to_html(self):
        """One self-contained page: no network, no file beside it."""
        return html.page(self.display_title(), self.description(), self.panels(), self.text())

    def save_html(self, path):
        with open(path, "w", encoding="utf-8") as file:
            file.write(self.to_html())
