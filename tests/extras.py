"""The optional extras a test may need (matplotlib, torch, Playwright; the programs `dot` and a
headless Chromium). Where one is not installed its tests are skipped, so `pytest` passes on a laptop
with numpy alone; where TINYGRAD_VG_REQUIRE_EXTRAS is set (CI installs every extra) a missing extra
is an ImportError (a missing program FileNotFoundError), a failure instead of a silent skip."""
import importlib
import os
import shutil

import pytest

REQUIRED = bool(os.environ.get("TINYGRAD_VG_REQUIRE_EXTRAS"))


def require(module):
    """The imported module, or a skip of the calling test (a failure when extras are required)."""
    return importlib.import_module(module) if REQUIRED else pytest.importorskip(module)


def installed(module):
    """Whether the extra can be imported; with extras required, raises the ImportError instead of False."""
    try:
        importlib.import_module(module)
    except ImportError:
        if REQUIRED:
            raise
        return False
    return True


def require_program(name):
    """The path of a program (a name on PATH or an absolute path: Graphviz's `dot`, the headless
    Chromium), or a skip of the calling test (a failure when extras are required)."""
    path = shutil.which(name)
    if path is None:
        if REQUIRED:
            raise FileNotFoundError(f"{name} is not on PATH, and TINYGRAD_VG_REQUIRE_EXTRAS is set")
        pytest.skip(f"{name} is not on PATH")
    return path

