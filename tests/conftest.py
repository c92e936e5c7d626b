"""Hypothesis profiles: `ci` is deterministic (loaded when CI is set), `thorough` runs many examples.
BLAS runs on one thread unless told otherwise: the tests multiply small matrices, where threads only
add contention (a 128 x 128 QR took 0.23 s instead of 0.004 s on a loaded 2-core machine)."""
import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # before numpy loads
    os.environ.setdefault(variable, "1")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
