"""Finding the op (and the layer) that first produced an inf, a NaN, or an underflow to zero.

Inside `detect_anomaly()`, every op checks, forward and backward:
- were all my inputs finite and is my output not? Then it produced the inf or NaN;
- did my output underflow: round to exactly 0 an element whose exact value is nonzero but below
  the dtype's smallest subnormal? That is the vanishing half of the story: a gradient that is 0
  teaches nothing. Exact arithmetic is stood in for by running the same op again in a wider dtype
  (float16 and float32 in float64, float64 in long double where the platform's is wider). A zero
  there too is a zero by definition (relu, where, a product with an exact 0, x - x). A zero here
  whose wide value is larger than the smallest subnormal is cancellation, not underflow, and is
  not reported: the bias gradient before a BatchNorm is exactly 0 in exact arithmetic, but sums
  of rounding noise in either dtype (2e-19 in long double, 0 in float64); 1 - tanh(x)^2 once
  tanh(x) rounds to 1 loses 1e-17 by cancellation, not by size.
Only the *producer* trips a check; the ops that merely pass an inf, NaN or 0 along afterwards do
not. Modules push their dotted names (`layers.37 (Linear)`) on a stack while they run, so the error
can say where in the model the producer sits. Outside the context manager, nothing is checked.
"""
import contextlib
import copy

import numpy as np

enabled = False          # read by tensor.py before each check; flipped by detect_anomaly()
underflow_enabled = False
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


class UnderflowError(FloatingPointError):
    """Raised by the first op that rounds to exactly 0 elements that are nonzero in a wider dtype
    but smaller than this dtype's smallest subnormal."""

    def __init__(self, op, module, phase, dtype, count, size, largest_lost, wider):
        self.op, self.module, self.kind, self.phase = op, module, "underflow", phase
        self.dtype, self.count, self.largest_lost = dtype, count, largest_lost
        where = f" in {module}" if module else ""
        wider = "long double" if wider == np.longdouble else wider
        super().__init__(f"{op}{where} rounded {count} of {size} {dtype} elements to exactly 0 in the {phase} "
                         f"pass, from finite inputs; in {wider} they are nonzero (largest lost: "
                         f"{np.format_float_scientific(largest_lost, precision=2, unique=False)}; {dtype}'s smallest "
                         f"subnormal is {np.format_float_scientific(np.finfo(dtype).smallest_subnormal, precision=2, unique=False)})")


@contextlib.contextmanager
def detect_anomaly(check_underflow=True):
    """Check every op, forward and backward, for an inf or NaN made from finite inputs and, unless
    check_underflow is False, for an underflow to exactly 0."""
    global enabled, underflow_enabled
    previous = enabled, underflow_enabled
    enabled, underflow_enabled = True, check_underflow
    try:
        yield
    finally:
        enabled, underflow_enabled = previous


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


def wider(dtype):
    """A dtype with a wider exponent range than `dtype`, or None where the platform has none."""
    if np.finfo(dtype).minexp > np.finfo(np.float64).minexp:
        return np.dtype(np.float64)
    if dtype == np.float64 and np.finfo(np.longdouble).minexp < np.finfo(np.float64).minexp:
        return np.dtype(np.longdouble)
    return None


def rerun(op, inputs, dtype, cotangent=None, position=None):
    """op's output (or, given a cotangent, its vjp for input `position`) recomputed from the same
    values cast to `dtype`. A copy of op runs, so what the original saved for backward stays."""
    widened = copy.copy(op)
    output = widened.forward(*[np.asarray(x, dtype=dtype) for x in inputs])
    return output if cotangent is None else widened.vjp(np.asarray(cotangent, dtype=dtype), position)


def check(op, inputs, output, phase, module, cotangent=None, position=None):
    """Raise NonFiniteError if every array in `inputs` (and the cotangent) is finite and `output`
    is not; then, if underflow is checked, UnderflowError if `output` has zeros that the op (its
    vjp for input `position`, given the cotangent) run in a wider dtype makes nonzero but smaller
    than the dtype's smallest subnormal."""
    given = inputs if cotangent is None else [cotangent, *inputs]
    if not all(np.all(np.isfinite(x)) for x in given):
        return
    if not np.all(np.isfinite(output)):
        kind = "nan" if np.isnan(output).any() else "inf"
        magnitudes = [float(np.max(np.abs(x))) if np.size(x) else 0.0 for x in given]
        raise NonFiniteError(op.name, module, kind, phase, magnitudes)
    wide_dtype = wider(output.dtype) if underflow_enabled and output.dtype.kind == "f" else None
    if wide_dtype is None or not np.any(output == 0):
        return
    with np.errstate(all="ignore"):
        wide = np.broadcast_to(rerun(op, inputs, wide_dtype, cotangent, position), output.shape)
    lost = (output == 0) & (wide != 0) & (np.abs(wide) <= np.finfo(output.dtype).smallest_subnormal)
    if lost.any():
        raise UnderflowError(op.name, module, phase, output.dtype, int(lost.sum()), output.size,
                             np.max(np.abs(wide[lost])), wide_dtype)
