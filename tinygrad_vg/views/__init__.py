"""Views: what a learner looks at, rendered from plain data. Nothing here computes an experiment,
and nothing here imports the engine: a view is numpy and the standard library (matplotlib, when
installed, only for PNG files; Graphviz's `dot`, when on PATH, only to lay out graphs).

An experiment's `figure(result)` returns a list of panels; every view draws the same list. A panel
is a dict with a "title" and exactly one of these keys, which says what it is:

  "lines":   [{"label", "x", "y", "style"}, ...] with "xlabel", "ylabel" and optionally
             "yscale" ("log", the default, or "linear"), "xscale" ("linear", the default, or "log")
             and "marks" [{"x", "label"}] (vertical markers, e.g. the step where training halted).
             "style" is a matplotlib format string ("o" points, "-" line, "--" dashed, ":" dotted,
             "C1o" the second colour's points, "k--" black dashes, "o-" points joined): measured
             values are points, theory is a line. Values without a logarithm (0, inf, nan, None)
             are left out of a log axis, never clipped; a log axis spans whole decades, ticked at
             powers of ten; an axis whose values are all integers (layers from 1, steps) is ticked
             at integers only.
  "heatmap": rows of values, row i at y = "y0" + i, column j at x = "x0" + j (both default 0),
             or at the coordinates "y"[i] and "x"[j] (a phase map's depths and sigma_w), with
             "xlabel", "ylabel" and "colorbar" (what the colour is); drawn as log10 colours, or
             with "scale" "linear" as the values, or "signed" on a diverging bar centred on 0;
             "overlays" are "lines"-style series drawn over the map in its coordinates (a theory
             line). Rows are steps (y, upwards) and columns layers (x) wherever both appear.
  "table":   {"header": [...], "rows": [[...], ...]}: cells are numbers or strings.
  "halt":    {"step", "layer", "op", "phase", "kind", "message"} and optionally "module" (e.g.
             "layers.42 (Linear)"): where training stopped (a field not known is None).
  "graph":   {"dot": DOT text, "edges": [{"from", "to", "derivative"}], "paths":
             [{"label", "edges": [[from, to], ...], "product"}], "highlight": the index of the path
             shown first (default 0)}: a computation graph; node names are the DOT node ids, and
             every edge on path n carries the DOT class "path-n" (an edge on several paths, several
             classes: class="path-0 path-2"), which the page uses to highlight the chosen path;
             nodes may carry the classes too (outlined on the chosen path). An edge or node the DOT
             itself colours for a highlighted path should carry the class "highlighted": the page
             draws those plain, so that only the path chosen in it is red.

Modules: jsondata (JSON-ready data); html (the page and the notebook fragment) drawing a panel with
svg (charts), heatmap, graph_panel (with graphviz for the layout) and tables, on axes (scales and
ticks) and png_encode (the PNG of a large heatmap); text, notebook (the terminal and notebook views).
"""
