"""Graph layout is Graphviz's job: this module hands DOT text to the `dot` binary and takes back
SVG (or PNG) to inline in a page. Nothing here lays out a graph itself.

What svg() returns, for the HTML view to style (Graphviz 2.43 and later carry DOT's `id` and
`class` attributes into the SVG, on the <g> element of each node and edge; drawing.draw sets them):

    <svg viewBox="0.00 0.00 W H" xmlns=... style="max-width: Wpt; height: auto">
      <g id="graph0" class="graph" transform=...> <title>tinygrad_vg</title> ...
        <g id="n3" class="node leaf parameter path&#45;0"> <title>n3</title> <polygon/> <text/>... </g>
        <g id="n3_n5_0" class="edge path&#45;0 path&#45;2 highlighted"> <title>n3&#45;&gt;n5</title>
          <path/> <polygon/> <text/> </g>

Node ids are the DOT node names (n0, n1, ... in topological order), edge ids
"{from}_{to}_{input position}" (x * x has the edges n0_n1_0 and n0_n1_1). Graphviz itself puts
"node" or "edge" before the DOT classes, and writes "-" inside attribute values as the character
reference &#45;, which a browser reads as "-" (so CSS `g.edge.path-2` matches). The XML prolog, the
DOCTYPE and the comments before <svg> are dropped, and so are the fixed width and height: with the
viewBox kept, the drawing scales to its container and never past its natural size (the max-width).
The ids are unique within one drawing only: a page with several scopes its selectors by panel.
"""
import re
import shutil
import subprocess

INSTALL_HINT = ("The graph is drawn by Graphviz's `dot`, which is not on PATH: install Graphviz "
                "(apt install graphviz, brew install graphviz) to see it; its DOT text is below.")

SIZE = re.compile(r'\s(width|height)="([^"]*)"')


def render(dot_text, format, timeout=10):
    """The bytes `dot -T<format>` makes of dot_text, or None when dot is not on PATH, fails
    (bad DOT text, a crash) or takes longer than timeout seconds. Never raises."""
    program = shutil.which("dot")
    if program is None:
        return None
    try:
        done = subprocess.run([program, f"-T{format}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError, UnicodeError):
        return None
    return done.stdout if done.returncode == 0 and done.stdout else None


def svg(dot_text, timeout=10):
    """The graph as SVG markup ready to inline in HTML (see the module docstring), or None."""
    made = render(dot_text, "svg", timeout)
    if made is None:
        return None
    markup = made.decode("utf-8", errors="replace")
    start = markup.find("<svg")
    if start < 0:
        return None
    markup = markup[start:]
    tag_end = markup.find(">")
    tag = markup[:tag_end]
    sizes = dict(SIZE.findall(tag))
    tag = SIZE.sub("", tag)
    if "width" in sizes:
        tag += f' style="max-width: {sizes["width"]}; height: auto"'
    return tag + markup[tag_end:]
