"""The layout holds: imports run one way, from the engine up to the CLI, and every package is installed.

A module's room is the first name under tinygrad_vg (tinygrad_vg.nn.chain is in `nn`; the examples
folder is installed as tinygrad_vg.examples). A room may import itself and the rooms before it in
ROOMS, never one after it: so the engine never knows the views' or the lessons' code, and a
helper two rooms need has to sink to the lower one. Imports inside functions count too.
"""
import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tinygrad_vg"

ROOMS = [
    # pure: numpy and the standard library, never the engine
    "views", "argtypes", "norms", "theory",
    # the engine
    "ops", "graph", "writes", "anomaly", "tensor",
    # readers of a graph
    "gradcheck", "chain_rule", "diagnostics", "drawing",
    # the lab
    "nn", "optim", "training",
    # experiments, and what runs them
    "sweep", "expression", "experiments", "__init__", "script", "commands", "examples", "tour", "cli", "__main__",
]
# A module in a room of its own: the tour is the lessons q1-q4 run in sequence, so it sits above them
OWN_ROOM = {"tinygrad_vg.commands.tour": "tour"}
PURE = ROOMS[:ROOMS.index("ops")]


def modules():
    """(dotted name, path) of every module: the package's, and the examples' as tinygrad_vg.examples."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts), path
    for path in sorted((ROOT / "examples").glob("*.py")):
        yield f"tinygrad_vg.examples.{path.stem}", path


def room(dotted):
    if dotted in OWN_ROOM:
        return OWN_ROOM[dotted]
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported(dotted, path):
    """The tinygrad_vg modules (or names of the package root) that a module imports."""
    package = dotted.split(".")[:-1] if path.name != "__init__.py" else dotted.split(".")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("tinygrad_vg"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            if not base.startswith("tinygrad_vg"):
                continue
            for alias in node.names:   # `from tinygrad_vg import nn`: nn is a module, Tensor is not
                candidate = f"{base}.{alias.name}"
                submodule = PACKAGE.joinpath(*candidate.split(".")[1:])
                is_module = submodule.with_suffix(".py").is_file() or (submodule / "__init__.py").is_file()
                yield candidate if is_module else base


def test_rooms_cover_every_module():
    assert {room(dotted) for dotted, _ in modules()} <= set(ROOMS)


@pytest.mark.parametrize("dotted, path", list(modules()), ids=lambda value: str(value).rsplit("/", 1)[-1])
def test_imports_run_one_way(dotted, path):
    mine = ROOMS.index(room(dotted))
    for target in imported(dotted, path):
        theirs = room(target)
        assert ROOMS.index(theirs) <= mine, f"{dotted} imports {target}: {theirs} comes after {room(dotted)}"
        if room(dotted) in PURE:
            assert theirs == room(dotted) or (theirs in PURE and room(dotted) != "theory"), \
                f"{dotted} is pure (numpy and the standard library) but imports {target}"


def test_every_package_folder_is_listed_in_pyproject_so_a_wheel_installs_it():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {str(init.parent.relative_to(ROOT)).replace("/", ".") for init in PACKAGE.rglob("__init__.py")}
    mapped = setuptools["package-dir"]
    assert set(setuptools["packages"]) == folders | set(mapped)
    assert all((ROOT / folder / "__init__.py").is_file() for folder in mapped.values())


def test_an_upward_import_is_found_even_inside_a_function(tmp_path):
    module = tmp_path / "ops.py"
    module.write_text("def f():\n    from .cli import main\n    from tinygrad_vg import views, Tensor\n")
    assert set(imported("tinygrad_vg.ops", module)) == {"tinygrad_vg.cli", "tinygrad_vg.views", "tinygrad_vg"}
