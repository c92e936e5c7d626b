"""tinygrad-vg: deep chains whose gradients vanish or explode, measured beside what theory predicts.

  tinygrad-vg [tour] ...         the tour: the lessons q1-q4, each a real run (a few seconds)
  tinygrad-vg chain ...          one forward/backward; per layer, theory's gain beside the measured gain
  tinygrad-vg train ...          train a chain on a synthetic task; the per-step story and where it halts
  tinygrad-vg rnn ...            a vanilla RNN over T steps: dLoss/dh_t against the recurrent matrix
  tinygrad-vg paths EXPR ...     the chain rule as a sum over paths, for a small expression
  tinygrad-vg phase ...          the phase diagram: sigma_w x sigma_b x depth, measured beside chi_1 = 1
  tinygrad-vg lesson qN ...      one of the lessons (examples/qN_*.py), with its own flags

Every command takes --help, --json (one JSON object on stdout; inf and nan, which JSON cannot hold,
are written as the strings "inf", "-inf" and "nan"), --plot FILE.png (needs matplotlib) and --html
FILE.html (a self-contained page: charts, tables and graphs, to open offline).
Options before any command are the tour's: `tinygrad-vg --json` is `tinygrad-vg tour --json`.
Layer l is the module layers.(l-1); "grad norm of layer l" is |dLoss/dh_l|, h_l its output.

This file only parses arguments and picks a script and its views: each command is a script in
tinygrad_vg/commands (see tinygrad_vg/script.py), each lesson one in tinygrad_vg.examples.
"""
import argparse
import importlib
import pkgutil
import re
import sys

from . import __version__, examples, script
from .commands import chain, paths, phase, rnn, tour, train
from .views.text import Progress

COMMANDS = {"tour": tour, "chain": chain, "train": train, "rnn": rnn, "paths": paths, "phase": phase}
TOP_LEVEL_FLAGS = ("-h", "--help", "--version")   # any other option before a command is the tour's
LESSON = re.compile(r"^q(\d+)_")


def lessons():
    """{"q1": "q1_identity_chain", ...}: the example modules that answer a question, found by file name
    (a lesson is imported only when it runs)."""
    numbered = {int(match.group(1)): match.string for match in
                (LESSON.match(module.name) for module in pkgutil.iter_modules(examples.__path__)) if match}
    return {f"q{number}": numbered[number] for number in sorted(numbered)}


def build_parser():
    """(the top-level parser, {command name: its subparser})."""
    parser = argparse.ArgumentParser(prog="tinygrad-vg", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {}
    for name, module in COMMANDS.items():
        title, _ = script.title_and_description(module)
        subparsers[name] = commands.add_parser(name, help=title.partition(": ")[2], description=module.__doc__,
                                               formatter_class=argparse.RawDescriptionHelpFormatter)
        module.arguments(subparsers[name])
        script.add_view_flags(subparsers[name])
    lesson = commands.add_parser("lesson", help="one of the lessons q1, q2, ... with its own flags (lesson qN --help)",
                                 description="Run a lesson, examples/qN_*.py, as `python examples/qN_*.py` would.")
    lesson.add_argument("lesson", choices=tuple(lessons()), help="which lesson")
    lesson.add_argument("flags", nargs=argparse.REMAINDER, help="the lesson's flags (see lesson qN --help)")
    return parser, subparsers


def main(argv=None):
    parser, subparsers = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in TOP_LEVEL_FLAGS):
        argv = ["tour", *argv]
    args = parser.parse_args(argv)
    if args.command == "lesson":
        module = importlib.import_module(f"{examples.__name__}.{lessons()[args.lesson]}")
        return script.main(module, args.flags, prog=f"tinygrad-vg lesson {args.lesson}")
    options, views = script.split_options(subparsers[args.command], args)
    del options["command"]
    if args.command == "train":
        options["progress"] = Progress("train", options["steps"])
    try:
        result = COMMANDS[args.command].run(**options)
    except script.OptionError as error:
        subparsers[args.command].error(str(error))
    script.emit(result, **views)
    return 0


if __name__ == "__main__":
    sys.exit(main())
