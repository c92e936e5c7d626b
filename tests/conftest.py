"""Hypothesis profiles: `ci` is deterministic (loaded when CI is set), `thorough` runs many examples."""
import os
import re

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


MEMORY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def pytest_collection_modifyitems(items):
    """pytest-xdist's workers must collect identical test ids, and an id made with ids=repr from an
    object() holds its memory address (`<object object at 0x7f...>`), different in every process."""
    for item in items:
        item._nodeid = MEMORY_ADDRESS.sub("", item.nodeid)
