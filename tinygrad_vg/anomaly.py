"""Finding the op (and the layer) that first produced an inf or a NaN.

Inside `detect_anomaly()`, every op checks: were all my inputs finite and is my output not? Only
the *producer* of a non-finite value trips the check; the ops that merely pass an inf or NaN along
afterwards do not. Modules push their dotted names (`layers.37 (Linear)`) on a stack while they
run, so the error can say where in the model the producer sits. Outside the context manager,
nothing is checked.
"""
import contextlib

import numpy as np

enabled = False          # read by tensor.py before each check; flipped by detect_anomaly()
module_stack = []        # names of the modules running now, outermost first


class NonFiniteError(FloatingPointError):
    """Raised by the first op whose inputs are finite but whose output (or gradient) is not."""

    def __init__(self, op, module, kind, phase, input_magnitudes):
        self.op, self.module, self.kind, self.phase = op, module, kind, phase
        self.input_magnitudes = input_magnitudes
        where = f" in {module}" if module else ""
        magnitudes = ", ".join(f"{m:.3g}" for m in input_magnitudes)
        super().__init__(f"{op}{where} produced {kind} in the {phase} pass from finite inputs "
                         f"(largest |value| of each input: {magnitudes})")


@contextlib.contextmanager
def detect_anomaly():
    """Check every op, forward and backward, for a non-finite value made from finite inputs."""
    global enabled
    previous, enabled = enabled, True
    try:
        yield
    finally:
        enabled = previous


@contextlib.contextmanager
def module_scope(name):
    """Mark the ops run inside as belonging to the module called `name`."""
    module_stack.append(name)
    try:
        yield
    finally:
        module_stack.pop()


def current_module():
    """The innermost running module's name, or None outside every module."""
    return module_stack[-1] if module_stack else None


def check(op_name, inputs, output, phase, module):
    """Raise NonFiniteError if every array in `inputs` is finite and `output` is not."""
    if np.all(np.isfinite(output)) or not all(np.all(np.isfinite(x)) for x in inputs):
        return
    kind = "nan" if np.isnan(output).any() else "inf"
    magnitudes = [float(np.max(np.abs(x))) if np.size(x) else 0.0 for x in inputs]
    raise NonFiniteError(op_name, module, kind, phase, magnitudes)
