"""The layout holds: every package is installed, examples included."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject_so_a_wheel_installs_it():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {str(init.parent.relative_to(ROOT)).replace("/", ".") for init in (ROOT / "tinygrad_vg").rglob("__init__.py")}
    mapped = {package: folder for package, folder in setuptools["package-dir"].items()}
    assert set(setuptools["packages"]) == folders | set(mapped)
    assert all((ROOT / folder / "__init__.py").is_file() for folder in mapped.values())
