"""Checking backward against central finite differences, at any scale of gradient.

What "close" means here. Each compared entry e (one element of a Jacobian in mode "full", one
projection u^T J v in mode "random") passes when

    |numeric_e - analytic_e| <= atol * scale + rtol * |numeric_e| + resolution_e

`scale` is the magnitude of the Jacobian the entry belongs to: in mode "full" the largest |J| of
that (output, input) block, over both the numeric and the analytic block; in mode "random" the size
sum_j |(u^T J)_j v_j| the projection would have without cancellation (the larger of both sides).
So atol is a fraction of the block's largest entry and rtol a fraction of the entry itself: both
are relative. An absolute atol would pass any gradient of 1e-30, right or wrong, and fail every
gradient of 1e30; here multiplying fn by 1e-30 or 1e30 changes nothing but the printed numbers,
and an entry 1% off fails at every scale.

`resolution_e` is what finite differences can resolve at all, the sum of their two errors:
- rounding: fn's outputs carry rounding error, taken as 100 ulps (of their dtype) of
  f(x + step) and of f(x - step), divided by the step. It matters for a block far smaller than its
  outputs divided by the inputs (a^b w.r.t. a for b = 1e-200; a Jacobian that is 0 up to rounding,
  like that of sum(softmax(x))).
- truncation: a central difference errs by about step^2 f'''/6. Doubling the step quadruples that,
  so the change of (numeric - analytic) from step to 2 step, three times the error at step, bounds
  it. It matters where the Jacobian is far smaller than step^2 times fn's third derivative: at
  x = 0, x^3 has the gradient 0 but every central difference of it is step^2.
Both scale with fn, so neither is an absolute floor. Entries whose resolution exceeds the rest of
the tolerance are counted in `report.unresolved` and named in the text: there the check is
coarser than asked (a step too small for the rounding, or too large for the curvature).

The defaults atol = 1e-5 and rtol = 1e-3 are float64's. In float32, rounding (~1e-7 of f) over a
step of 1e-6 is ~10% of a derivative as large as f: the resolution term swamps any tolerance, and
a vjp 7% off passes as "unresolved". So inputs of any other dtype are a TypeError unless atol or
rtol is given; given, the check runs at that tolerance, and wants an eps the dtype resolves (~1e-3
for float32, where rounding is ~1e-4 of a derivative and an error of a few percent shows).

The step for input element x_j is eps * max(1, |x_j|): absolute near zero, relative for large
inputs, so x + step keeps the same leading digits as x whatever |x| is. Floating point is scale
invariant, so tiny or huge *gradients* need nothing more; inputs whose own natural scale is far
below 1 (x ~ 1e-30) should be rescaled inside fn, or a step of 1e-6 jumps over them.

The rounding term assumes fn computes each output to about 100 ulps of itself. A function that
makes a small output by cancellation is rounded far worse: log(1 + x^2) at x = 2e-16 is ~1e-32,
but its computed value carries the error of 1 + x^2, ~1e-16; its gradient there, 4e-16, is below
anything a difference over a step of 1e-6 can see, and the check fails where the vjp is right.
Such an fn wants log1p-like care, or inputs away from the cancellation.
"""
from collections import namedtuple

import numpy as np

from . import graph
from .tensor import Tensor, no_grad


Entry = namedtuple("Entry", "ratio output input index numeric analytic error scale tolerance")


class GradcheckReport:
    """Truthy iff every entry is within tolerance. The attributes describe the worst entry (largest
    error / tolerance): `output` and `input` are positions in fn's outputs and inputs; `index` is
    (output element, input element) in mode "full" and the direction number in mode "random".
    `checked` counts the entries compared, `unresolved` those finite differences resolve only
    coarsely (see the module docstring)."""

    def __init__(self, mode, checked, unresolved, worst=None):
        self.mode, self.checked, self.unresolved = mode, checked, unresolved
        self.ratio, self.output, self.input, self.index = 0.0, None, None, None
        self.numeric = self.analytic = self.error = self.scale = self.tolerance = 0.0
        if worst is not None:
            self.__dict__.update((name, value if name in ("output", "input", "index") else float(value))
                                 for name, value in worst._asdict().items())
        self.passed = bool(self.ratio <= 1)
        self.relative_error = self.error / self.scale if self.scale else float(self.error != 0)

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return f"<{self}>"

    def __str__(self):
        verdict = "passed" if self.passed else "FAILED"
        if self.output is None:
            return f"gradcheck {verdict} ({self.mode}): nothing to compare"
        where = (f"d output[{self.output}]{list(self.index[0])} / "
                 f"d input[{self.input}]{list(self.index[1])}" if self.mode == "full" else
                 f"output {self.output}, input {self.input}, random direction {self.index}")
        return (f"gradcheck {verdict} ({self.mode}, {self.checked} entries); worst at {where}: "
                f"numeric {self.numeric:.6g}, analytic {self.analytic:.6g}, error {self.error:.3g} "
                f"= {self.relative_error:.3g} of the Jacobian scale {self.scale:.3g} "
                f"(tolerance {self.tolerance:.3g}, error/tolerance {self.ratio:.3g})"
                + (f"; {self.unresolved} entries only checkable to finite-difference resolution, "
                   "coarser than atol and rtol ask" if self.unresolved else ""))


def as_tuple(value):
    """PyTorch's reading of inputs and outputs: a tuple or list is several, anything else is one."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def outputs_of(fn, tensors):
    """fn(*tensors) as a tuple of Tensors; a TypeError that says what fn returned otherwise."""
    result = fn(*tensors)
    outputs = as_tuple(result)
    if not all(isinstance(out, Tensor) for out in outputs):
        kinds = ", ".join(dict.fromkeys(type(out).__name__ for out in outputs))
        what = f"a {type(result).__name__} of {kinds}" if isinstance(result, (tuple, list)) else kinds
        raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {what}; build the "
                        "result with Tensor operations (x.tanh(), not np.tanh(x.data)) so backward can follow it")
    return outputs


def evaluate(fn, arrays):
    """fn's outputs on plain arrays, without recording a graph."""
    with no_grad():
        return [out.data for out in outputs_of(fn, [Tensor(a) for a in arrays])]


def pull_back(out, cotangent, leaves):
    """cotangent^T d(out)/d(leaf) for every leaf, by one backward (zeros where out does not depend)."""
    for leaf in leaves:
        leaf.grad = None
    if out.requires_grad:
        out.backward(cotangent.reshape(out.shape))
    for i, leaf in enumerate(leaves):
        if leaf.grad is not None and leaf.grad.shape != leaf.shape:
            raise ValueError(f"gradcheck: backward gave input {i} a gradient of shape {leaf.grad.shape}, "
                             f"but the input has shape {leaf.shape}")
    return [np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.astype(np.float64) for leaf in leaves]


def perturbed(arrays, i, step):
    """Copies of arrays[i] moved by +step and -step, and the width actually stepped (after rounding)."""
    plus, minus = arrays[i] + step.astype(arrays[i].dtype), arrays[i] - step.astype(arrays[i].dtype)
    width = plus.astype(np.float64) - minus.astype(np.float64)
    return ([plus if m == i else a for m, a in enumerate(arrays)],
            [minus if m == i else a for m, a in enumerate(arrays)], width)


def differences(fn, arrays, i, step):
    """Per output of fn, f(x + step) - f(x - step) in float64 and its rounding error; and the width
    actually stepped."""
    plus, minus, width = perturbed(arrays, i, step)
    return [(f_plus.astype(np.float64) - f_minus, rounding(f_plus, f_minus))
            for f_plus, f_minus in zip(evaluate(fn, plus), evaluate(fn, minus))], width


def rounding(f_plus, f_minus):
    """The rounding error assumed in each output of fn: 100 ulps of f(x + step) plus 100 of
    f(x - step), in their dtype. np.spacing is the ulp, subnormal near 0, so a product that
    underflows to 0 (1e-6 * 5e-324) is an error of that size, not an exact 0."""
    return 100 * (np.spacing(np.abs(f_plus)) + np.spacing(np.abs(f_minus)))


def compare(numeric, analytic, scale, resolution, atol, rtol):
    """error / tolerance per entry (0 where both agree exactly, inf where either is nan or inf),
    error, tolerance, and whether finite differences resolve less than atol and rtol ask."""
    error = np.abs(numeric - analytic)
    asked = atol * scale + rtol * np.abs(numeric)
    tolerance = asked + resolution
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(error == 0, 0.0, error / tolerance)
    return np.nan_to_num(ratio, nan=np.inf, posinf=np.inf), error, tolerance, resolution > asked


def full_check(fn, arrays, leaves, outputs, eps, atol, rtol):
    """Whole Jacobian blocks: one backward per output element (a one-hot cotangent) against one
    pair of evaluations per input element. Yields the worst entry of each (output, input) block."""
    numeric = {(k, i): np.zeros((out.size, x.size))
               for k, out in enumerate(outputs) for i, x in enumerate(arrays)}
    resolution = {block: np.zeros_like(N) for block, N in numeric.items()}
    for i, x in enumerate(arrays):
        for j in range(x.size):
            step = np.zeros(x.shape)
            step.flat[j] = eps * max(1.0, abs(float(x.flat[j])))
            near, width = differences(fn, arrays, i, step)
            far, far_width = differences(fn, arrays, i, 2 * step)
            for k, ((change, noise), (far_change, _)) in enumerate(zip(near, far)):
                quotient = change.ravel() / width.flat[j]
                truncation = np.abs(far_change.ravel() / far_width.flat[j] - quotient)
                numeric[k, i][:, j] = quotient
                resolution[k, i][:, j] = noise.ravel() / width.flat[j] + truncation
    for k, out in enumerate(outputs):
        rows = [pull_back(out, one_hot, leaves) for one_hot in np.eye(out.size)]
        for i, x in enumerate(arrays):
            N, A = numeric[k, i], np.array([row[i].ravel() for row in rows]).reshape(out.size, x.size)
            scale = max(np.abs(N).max(initial=0), np.abs(A).max(initial=0))
            ratio, error, tolerance, unresolved = compare(N, A, scale, resolution[k, i], atol, rtol)
            if ratio.size:
                r, j = np.unravel_index(np.argmax(ratio), ratio.shape)
                index = (np.unravel_index(r, out.shape), np.unravel_index(j, x.shape))
                yield ratio.size, int(unresolved.sum()), Entry(
                    ratio[r, j], k, i, tuple(tuple(map(int, at)) for at in index), N[r, j], A[r, j],
                    error[r, j], scale, tolerance[r, j])


def random_check(fn, arrays, leaves, outputs, eps, atol, rtol, rng, n_directions):
    """Per direction, a random input direction v and output cotangent u: u^T J v from one backward
    (u^T J, then dotted with v) against u . (f(x + eps v) - f(x - eps v)) / (2 eps). v is scaled
    elementwise by max(1, |x|) like the steps of mode "full". Yields every projection."""
    for n in range(n_directions):
        steps = [rng.standard_normal(x.shape) * eps * np.maximum(1.0, np.abs(x)) for x in arrays]
        near = [differences(fn, arrays, i, step) for i, step in enumerate(steps)]
        far = [differences(fn, arrays, i, 2 * step) for i, step in enumerate(steps)]
        for k, out in enumerate(outputs):
            u = rng.standard_normal(out.shape)
            for i, (uJ, (changes, width), (far_changes, far_width)) in enumerate(
                    zip(pull_back(out, u, leaves), near, far)):
                (change, noise), (far_change, _) = changes[k], far_changes[k]
                terms_a, terms_n = uJ * width / (2 * eps), u * change / (2 * eps)
                A, N = terms_a.sum(), terms_n.sum()
                far_error = ((u * far_change).sum() - (uJ * far_width).sum()) / (4 * eps)
                scale = max(np.abs(terms_a).sum(), np.abs(terms_n).sum())
                resolution = (np.abs(u) * noise).sum() / (2 * eps) + abs(far_error - (N - A))
                ratio, error, tolerance, unresolved = compare(N, A, scale, resolution, atol, rtol)
                yield 1, int(unresolved), Entry(ratio, k, i, n, N, A, error, scale, tolerance)


def gradcheck(fn, inputs, eps=1e-6, atol=None, rtol=None, mode="full", n_directions=4, seed=0):
    """Compare fn's backward with central differences; returns a GradcheckReport (truthy on pass).

    inputs is one Tensor or array, or a tuple or list of them; fn takes one Tensor per input and
    returns a Tensor or a tuple of Tensors. Every input is differentiated; constants belong in fn's
    closure. fn runs on fresh copies, so the inputs' .grad is untouched; .grad of tensors fn captures
    (parameters, outside results) is restored afterwards. mode "full" compares whole Jacobians; mode
    "random" compares n_directions random projections u^T J v (drawn from `seed`), for inputs too
    large for that. atol and rtol default to 1e-5 and 1e-3 for float64 inputs; inputs of any other
    dtype need them given (see the module docstring, which defines the tolerance).
    """
    if mode not in ("full", "random"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'random', got {mode!r}")
    arrays = [Tensor(x).data.copy() for x in as_tuple(inputs)]
    if atol is None and rtol is None and any(a.dtype != np.float64 for a in arrays):
        raise TypeError(f"gradcheck: inputs of dtypes {[str(a.dtype) for a in arrays]} are not all float64, "
                        "and the default atol and rtol are float64's (float32 rounding over a step of 1e-6 "
                        "is ~10% of a derivative, so a wrong vjp would pass): pass float64 inputs, or atol= "
                        "and/or rtol= to check at that tolerance, with an eps the dtype resolves (~1e-3 for float32)")
    atol = 1e-5 if atol is None else atol
    rtol = 1e-3 if rtol is None else rtol
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    outputs = outputs_of(fn, leaves)
    captured = [node for out in outputs for node in graph.nodes(out)
                if node.requires_grad and not any(node is x for x in leaves)]
    saved = [node.grad for node in captured]
    try:
        found = list(full_check(fn, arrays, leaves, outputs, eps, atol, rtol) if mode == "full" else
                     random_check(fn, arrays, leaves, outputs, eps, atol, rtol,
                                  np.random.default_rng(seed), n_directions))
    finally:
        for node, grad in zip(captured, saved):
            node.grad = grad
    worst = max((entry for _, _, entry in found), key=lambda entry: entry.ratio, default=None)
    return GradcheckReport(mode, sum(count for count, _, _ in found),
                           sum(coarse for _, coarse, _ in found), worst)
