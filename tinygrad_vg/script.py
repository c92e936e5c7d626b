"""One shape for every experiment script, and the one place that wires it to the views.

A script (an example that answers one question, or a command of the CLI) is a module defining

    arguments(parser)   its flags, added to an argparse parser
    run(**options)      the experiment, decorated with @experiment: it builds, measures and returns
                        plain data (a dict of numbers, strings, lists and dicts); it never prints
    show(result)        the text a learner reads, as one string
    figure(result)      the panels to draw, as tinygrad_vg.views describes them

The module's docstring is its description: first line the question, then the short answer.
`main(module)` parses the flags, calls run and hands the result to the views the flags ask for:
the text (or --json) on stdout, --plot FILE.png, --html FILE. In Python, `run(...)` returns a
Result, so `q1.run(depth=30).save_html("q1.html")` works, and a notebook displays it by itself.
"""
import argparse
import functools
import os
import sys

from .views import notebook, png
from .views.jsondata import to_json

VIEW_FLAGS = ("json", "plot", "html")


class OptionError(ValueError):
    """Options that each parse but do not go together; main reports it as a usage error (exit 2)."""


def title_and_description(script):
    """The docstring's first line, and the rest of it."""
    first, _, rest = (script.__doc__ or script.__name__).strip().partition("\n")
    return first.strip(), rest.strip()


class Result(dict, notebook.Shown):
    """A run's data (a plain dict: what --json prints) that can also show itself: as text, as a
    page (to_html, save_html), as a figure (save_png) and in a notebook (views.notebook.Shown)."""

    def __init__(self, data, script):
        super().__init__(data)
        self.script = script

    def show(self):
        return self.script.show(self)

    def figure(self):
        return self.script.figure(self)

    def to_json(self):
        return to_json(self)

    def display_title(self):
        return title_and_description(self.script)[0]

    def description(self):
        return title_and_description(self.script)[1]

    def panels(self):
        return self.figure()

    def text(self):
        return self.show()

    def save_png(self, path):
        """The figure as a PNG file (needs matplotlib: ImportError with the install hint otherwise)."""
        png.save_figure(path, self.figure(), self.display_title())


def experiment(run):
    """@experiment on a script's run: the dict it returns comes back as a Result bound to the script."""

    @functools.wraps(run)
    def run_and_bind(*args, **options):
        return Result(run(*args, **options), sys.modules[run.__module__])

    return run_and_bind


def add_view_flags(parser):
    group = parser.add_argument_group("views")
    group.add_argument("--json", action="store_true",
                       help='print one JSON object instead of the text (inf and nan as "inf", "-inf", "nan")')
    group.add_argument("--plot", metavar="FILE.png", help='also write a figure (needs matplotlib: pip install -e ".[plot]")')
    group.add_argument("--html", metavar="FILE.html",
                       help="also write a self-contained page (charts, tables, graph) to open offline")


def split_options(parser, args):
    """(the run's options, the views' flags) from parsed args; a view's missing folder is a usage error."""
    options = vars(args).copy()
    views = {name: options.pop(name) for name in VIEW_FLAGS}
    for name in ("plot", "html"):
        if views[name] and not os.path.isdir(os.path.dirname(os.path.abspath(views[name]))):
            parser.error(f"--{name}: the folder of {views[name]} does not exist")
    return options, views


def emit(result, json=False, plot=None, html=None):
    """Print the text (or the JSON) and write the files the views were asked for."""
    try:
        print(result.to_json() if json else result.show())
        sys.stdout.flush()   # here, not at exit: a reader that left early (| head) is seen inside the try
    except BrokenPipeError:
        # Python's note on SIGPIPE: stdout to devnull, so the flush at exit cannot raise again, and the
        # status of a writer killed by SIGPIPE (128 + 13), raised so that `python -m` exits with it too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    for path, write in ((plot, result.save_png), (html, result.save_html)):
        if not path:
            continue
        try:
            write(path)
        except ImportError as error:       # matplotlib missing: the hint, on stderr (stdout may be JSON)
            print(error, file=sys.stderr)
            continue
        except OSError as error:
            print(f"could not write {path}: {error}", file=sys.stderr)
            continue
        print(f"wrote {path}", file=sys.stderr)


def parser_for(script, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=script.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    script.arguments(parser)
    add_view_flags(parser)
    return parser


def main(script, argv=None, prog=None):
    """Run a script from its flags: `if __name__ == "__main__": main(sys.modules[__name__])`."""
    parser = parser_for(script, prog)
    options, views = split_options(parser, parser.parse_args(argv))
    try:
        result = script.run(**options)
    except OptionError as error:
        parser.error(str(error))
    emit(result, **views)
    return 0
