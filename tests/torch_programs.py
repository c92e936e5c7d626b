"""Random programs over the Tensor API, written once as data and run by tinygrad_vg and by PyTorch.

A program is a list of nodes in the order they are made: a `Leaf` (the data given to the
constructor, and whether it requires grad) or a `Step` (an op of the Tensor API, its operands, its
parameters). An operand is `Ref(i)`, the value of node i, or a constant handed to the op as it is:
a Python or numpy scalar, or a numpy array. `run_tinygrad` and `run_torch` read the same list.
PyTorch is told numpy's promotion by explicit casts to `Step.dtype`, so both engines are asked the
same question; where torch's own promotion differs, a named test pins it instead.

`generate(chooser)` writes a program step by step beside a plain numpy forward of it (the
"shadow": a third, forward-only implementation that never judges a value; it gives each step's
expected dtype and decides what is allowed next):
- log and sqrt inputs, division denominators and pow bases stay away from 0 and relu and abs
  inputs away from their kink, where the engines' conventions may legitimately differ (those
  conventions are named tests of their own);
- no step is ill-conditioned: its condition number, the factor by which it can amplify the
  relative error already in its inputs (or, for a sum, matmul or softmax, the error of its own
  roundings), stays at most CONDITION. Each engine rounds an op to within a few ulps, so two
  correct engines then agree to about CONDITION**depth ulps, and a tight tolerance is honest: a
  larger difference is a bug, not rounding;
- a tie in max or maximum is allowed only between values both engines hold bit for bit (`exact`:
  leaves, and whatever only moves, selects, negates them or combines them by one correctly
  rounded + - *); anywhere else the two largest candidates must be GAP apart.
tanh and sigmoid count their backward too: both engines compute tanh' as 1 - y^2 from the rounded
output, which near saturation amplifies y's last-ulp difference by 2 y^2 / (1 - y^2).

`compare` measures a value against |element| + max |array| and a gradient against
`gradient_scales`, the sum over paths of |path product| x |cotangent|, which is what a gradient's
rounding is relative to (x / x has the gradient 0, summed from 1/x and -x/x^2). `run_torch`
spells in torch's terms what torch writes differently: a negative slice step as a flip, an int
beside an integer array as a one-element array, x.T as a permute, axis None as every dim.
"""
from dataclasses import dataclass, field

import numpy as np

CONDITION = 20.0          # the largest condition number a step may have (see the docstring)
MAX_SIZE = 48             # elements in any value
MAX_MAGNITUDE = 1e3       # |value| at most this, so exp and pow neither overflow nor dominate
KINK = 0.05               # |x| at least this for relu and abs, x at least this for log and sqrt
DENOMINATOR = 0.2         # |b| at least this in a / b, and a pow base at least this
GAP = 1e-3                # relative gap between the largest candidates of max/maximum if not exact

UNARY = ("neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu")
BINARY = ("add", "sub", "mul", "div", "pow", "matmul", "maximum")
REDUCTIONS = ("sum", "mean", "max", "logsumexp")
SHAPE_OPS = ("reshape", "transpose", "broadcast_to", "getitem", "concatenate", "stack", "where")
OPS = UNARY + BINARY + REDUCTIONS + ("softmax", "log_softmax") + SHAPE_OPS
# ops whose result both engines compute bit for bit from bit-equal inputs
EXACT = {"neg", "abs", "relu", "maximum", "max", "add", "sub", "mul", "reshape", "transpose",
         "broadcast_to", "getitem", "concatenate", "stack", "where"}
# ops whose condition matters even when their inputs are exact: they round more than once inside
# (a sum's order, a matmul's, softmax's), or their derivative is computed from the rounded output
# by a cancelling formula (tanh' = 1 - y^2, sigmoid' = s (1 - s) near saturation)
ALWAYS_CONDITIONED = {"sum", "mean", "matmul", "logsumexp", "log_softmax", "softmax", "tanh", "sigmoid"}


@dataclass(frozen=True)
class Ref:
    """The value of node `index`."""
    index: int


@dataclass
class Leaf:
    data: object                  # what Tensor(...) is given: an ndarray (float, int or bool) or a list
    requires_grad: bool


@dataclass
class Step:
    op: str
    args: tuple                   # Ref or constants (Python/numpy scalars, ndarrays)
    params: dict = field(default_factory=dict)
    dtype: np.dtype = None        # numpy's dtype for the result: what both engines must give


@dataclass
class Program:
    nodes: list
    cotangent: np.ndarray = None  # the loss is sum(output * cotangent)

    @property
    def output(self):
        return len(self.nodes) - 1

    def __str__(self):
        lines = []
        for i, node in enumerate(self.nodes):
            if isinstance(node, Leaf):
                lines.append(f"v{i} = Tensor({constant_repr(node.data)}, requires_grad={node.requires_grad})")
            else:
                args = ", ".join(f"v{a.index}" if isinstance(a, Ref) else constant_repr(a) for a in node.args)
                params = "".join(f", {k}={constant_repr(v)}" for k, v in node.params.items())
                lines.append(f"v{i} = {node.op}({args}{params})   # {np.dtype(node.dtype)}")
        lines.append(f"v{self.output}.backward({constant_repr(self.cotangent)})")
        return "\n".join(lines)


def constant_repr(value):
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r}, dtype={value.dtype})"
    if isinstance(value, np.generic):
        return f"np.{type(value).__name__}({value.item()!r})"
    if isinstance(value, tuple):
        return "(" + ", ".join(constant_repr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, slice):
        return f"{value.start}:{value.stop}:{value.step}".replace("None", "")
    return repr(value)


# ---- the engine's documented rules, written out for the shadow ----
def as_float_array(data):
    """The Tensor constructor's rule: float data keeps its dtype; ints, bools and lists become float64."""
    array = np.asarray(data)
    return array.astype(np.float64) if array.dtype.kind in "biu" else array


def python_scalar(value):
    return isinstance(value, (bool, int, float)) and not isinstance(value, np.generic)


def as_operand(value):
    """An operand as the engine sees it: a Python scalar stays weak (float32 * 2 is float32, as in
    numpy), anything else is converted by the constructor's rule."""
    return value if python_scalar(value) else as_float_array(value)


# ---- the shadow: a plain numpy forward of every op ----
def as_axis(axis):
    """The engine takes a list of axes as numpy takes a tuple."""
    return tuple(axis) if isinstance(axis, list) else axis


def logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else (out.reshape(()) if axis is None else np.squeeze(out, axis=axis))


NUMPY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
    "matmul": np.matmul, "maximum": np.maximum,
    "neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, x.dtype.type(0)),
}
COMPARE = {">": np.greater, "<": np.less, ">=": np.greater_equal, "<=": np.less_equal,
           "==": np.equal, "!=": np.not_equal}
NUMPY_FORMS = {"neg": np.negative, "abs": np.absolute, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
               "tanh": np.tanh, "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
               "pow": np.power, "matmul": np.matmul, "maximum": np.maximum}


def mask_of(params, values):
    """where's condition: a constant boolean array, or `node > threshold` (<, >=, <=, ==, !=) of a node."""
    if "mask" in params:
        return params["mask"]
    node, compare, threshold = params["compare"]
    return COMPARE[compare](values[node.index], threshold)


def shadow(step, values):
    """numpy's result of one step; `values` holds every earlier node's shadow array."""
    args = [values[a.index] if isinstance(a, Ref) else as_operand(a) for a in step.args]
    p, op = step.params, step.op
    with np.errstate(all="ignore"):
        if op in NUMPY:
            return np.asarray(NUMPY[op](*args))
        if op in ("sum", "max", "mean"):
            return np.asarray(getattr(np, op)(args[0], axis=as_axis(p.get("axis")), keepdims=p.get("keepdims", False)))
        if op == "logsumexp":
            return np.asarray(logsumexp(args[0], as_axis(p.get("axis")), p.get("keepdims", False)))
        if op == "log_softmax":
            return args[0] - logsumexp(args[0], p.get("axis", -1), True)
        if op == "softmax":
            return np.exp(args[0] - logsumexp(args[0], p.get("axis", -1), True))
        if op == "reshape":
            return args[0].reshape(p["shape"])
        if op == "transpose":
            return args[0].transpose(p.get("axes"))
        if op == "broadcast_to":
            return np.broadcast_to(args[0], p["shape"])
        if op == "getitem":
            return np.asarray(args[0][p["index"]])
        if op == "concatenate":
            return np.concatenate(args, axis=p.get("axis", 0))
        if op == "stack":
            return np.stack(args, axis=p.get("axis", 0))
        if op == "where":
            return np.where(mask_of(p, values), *args)
    raise KeyError(op)


# ---- conditioning ----
def ratio(numerator, denominator):
    """|numerator| / |denominator| elementwise; 1 where both are 0 (an exact zero has no error to grow)."""
    numerator, denominator = np.abs(numerator), np.abs(denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = numerator / denominator
    return np.where(numerator == 0, 1.0, r)


def reduced(x, axis):
    """x with the reduced axes moved to the end and flattened into one: shape (..., n)."""
    if x.ndim == 0:
        return x.reshape(1, 1)
    axes = tuple(range(x.ndim)) if axis is None else tuple(int(a) % x.ndim for a in np.atleast_1d(axis))
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + list(axes))
    return moved.reshape(moved.shape[:len(rest)] + (-1,))


def condition_number(step, x, out):
    """The step's largest elementwise condition number (x: its inputs as float64 arrays)."""
    op, p = step.op, step.params
    if op in ("add", "sub"):
        return ratio(np.abs(x[0]) + np.abs(x[1]), out).max()
    if op == "pow":
        base, exponent = np.broadcast_arrays(x[0], x[1])
        return max(np.abs(exponent).max(), np.abs(exponent * np.log(np.abs(base))).max())
    if op == "matmul":
        return ratio(np.matmul(np.abs(x[0]), np.abs(x[1])), out).max()
    if op == "exp":
        return max(1.0, np.abs(x[0]).max())
    if op == "log":
        return ratio(1.0, np.log(x[0])).max()
    if op == "tanh":            # 1 - y^2 amplifies y's relative error by 2 y^2 / (1 - y^2)
        y = np.tanh(x[0])
        return max(1.0, (2 * y * y / (1 - y * y)).max())
    if op == "sigmoid":         # 1 - s amplifies s's relative error by s / (1 - s) = e^x
        return max(1.0, np.exp(np.abs(x[0])).max())
    if op in ("sum", "mean"):
        axis, keepdims = as_axis(p.get("axis")), p.get("keepdims", False)
        magnitude = np.sum(np.abs(x[0]), axis=axis, keepdims=keepdims)
        return ratio(magnitude, np.sum(x[0], axis=axis, keepdims=keepdims)).max()
    if op in ("logsumexp", "log_softmax", "softmax"):
        r = reduced(x[0], p.get("axis", -1 if op != "logsumexp" else None))
        weights = np.exp(r - r.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        spread = (weights * np.abs(r)).sum(axis=-1, keepdims=True)
        lse = logsumexp(r, -1, True)
        if op == "logsumexp":
            return max(1.0, ratio(spread, lse).max())
        if r.shape[-1] == 1:                      # x - logsumexp(x) is exactly 0 in both engines
            return 1.0
        if op == "log_softmax":
            return ratio(np.abs(r) + spread, r - lse).max()
        return (np.abs(r) + spread).max()
    return 1.0


def top_two_gap(x, axis):
    """Per reduced slice, (largest - second largest) / max(1, |largest|): the smallest over slices."""
    s = np.sort(reduced(x, axis), axis=-1)
    if s.shape[-1] < 2:
        return np.inf
    return ((s[..., -1] - s[..., -2]) / np.maximum(1.0, np.abs(s[..., -1]))).min()


def relative_gap(a, b):
    a, b = np.broadcast_arrays(a, b)
    return (np.abs(a - b) / np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))).min(initial=np.inf)


class Builder:
    """The program being written, with each node's shadow value, exactness and requires_grad."""

    def __init__(self, chooser):
        self.c = chooser
        self.nodes, self.values, self.exact, self.grad = [], [], [], []

    # ---- leaves and constants ----
    def values_for(self, shape, positive=None, integer=False):
        n = int(np.prod(shape, dtype=int))
        c = self.c
        if integer:
            return np.array([c.integer(-3, 3) for _ in range(n)], dtype=np.int64).reshape(shape)
        positive = c.chance(0.4) if positive is None else positive
        if c.chance(0.5):     # quarters: exact in float32 too, and ties are likely
            magnitudes = np.array([c.integer(1, 8) / 4 for _ in range(n)])
        else:
            magnitudes = np.asarray(c.uniform(n, 0.25, 2.0))
        signs = np.ones(n) if positive else np.array([c.choice((-1.0, 1.0)) for _ in range(n)])
        return (signs * magnitudes).reshape(shape)

    def leaf(self, shape, positive=None, requires_grad=None):
        c = self.c
        requires_grad = c.chance(0.85) if requires_grad is None else requires_grad
        kind = c.choice(("float64",) * 6 + ("float32",) * 3 + ("list", "int", "bool"))
        if requires_grad and kind in ("int", "bool"):
            kind = "float64"
        if kind == "int":
            data = self.values_for(shape, integer=True)
        elif kind == "bool":
            data = np.array([c.chance(0.5) for _ in range(int(np.prod(shape, dtype=int)))]).reshape(shape)
        else:
            data = self.values_for(shape, positive)
            data = data.astype(np.float32) if kind == "float32" else data
            data = data.tolist() if kind == "list" else data
        return self.add(Leaf(data, requires_grad), as_float_array(data), exact=True, requires_grad=requires_grad)

    def constant(self, shape, positive=None):
        """A constant operand as given to the op: a Python or numpy scalar, or an ndarray."""
        c = self.c
        kind = c.choice(("python", "python", "numpy", "array") if shape == () else ("array",))
        if kind == "python":
            value = float(self.values_for((), positive))
            return c.choice((value, value, int(np.ceil(abs(value))) * (1 if value > 0 else -1), True))
        if kind == "numpy":
            value = self.values_for((), positive)
            return c.choice((np.float64, np.float32, np.int64))(value if c.chance(0.7) else np.ceil(value))
        data = self.values_for(shape, positive, integer=c.chance(0.2))
        if c.chance(0.15):
            return data.tolist()          # a list becomes float64 (ints too), as Tensor(list) does
        return data.astype(c.choice((np.float64, np.float64, np.float32))) if data.dtype.kind == "f" else data

    # ---- picking operands ----
    def pick(self, condition=lambda shape: True):
        """A node: most often the newest one that fits, else any that fits (None if none does)."""
        fits = [i for i, v in enumerate(self.values) if condition(v.shape)]
        if not fits:
            return None
        return fits[-1] if self.c.chance(0.5) else self.c.choice(fits)

    def partner_shape(self, shape):
        """A shape that broadcasts with `shape`: leading axes dropped or added, axes set to 1 or grown from 1."""
        c = self.c
        dims = list(shape[c.integer(0, len(shape)):] if c.chance(0.4) else shape)
        dims = [1 if c.chance(0.3) else (c.integer(2, 3) if d == 1 and c.chance(0.3) else d) for d in dims]
        while len(dims) < 3 and c.chance(0.2):
            dims.insert(0, c.integer(1, 3))
        return tuple(dims)

    def operand(self, shape, positive=None, allow_constant=True):
        """The other operand of a binary op with an operand of `shape`."""
        c = self.c
        kind = c.choice(("node", "leaf", "leaf", "constant") if allow_constant else ("node", "leaf"))
        if kind == "node":
            i = self.pick(lambda s: broadcastable(s, shape) and np.broadcast_shapes(s, shape) == shape)
            if i is not None:
                return Ref(i)
        partner = self.partner_shape(shape)
        if kind == "constant":
            return self.constant(() if c.chance(0.6) else partner, positive)
        return Ref(self.leaf(partner, positive))

    # ---- steps ----
    def add(self, node, value, exact, requires_grad):
        self.nodes.append(node)
        self.values.append(value)
        self.exact.append(exact)
        self.grad.append(requires_grad)
        return len(self.nodes) - 1

    def try_step(self, step):
        """Append the step if numpy runs it and it is allowed; True if it was appended."""
        try:
            out = shadow(step, self.values)
        except (ValueError, IndexError, TypeError):
            return False
        refs = [a.index for a in step.args if isinstance(a, Ref)]
        if step.op == "where" and "compare" in step.params:
            refs.append(step.params["compare"][0].index)
        exact_inputs = all(self.exact[i] for i in refs)
        inputs = [np.asarray(self.values[a.index] if isinstance(a, Ref) else as_operand(a), dtype=np.float64)
                  for a in step.args]
        if not self.allowed(step, inputs, out, exact_inputs):
            return False
        step.dtype = out.dtype
        self.add(step, out, exact_inputs and step.op in EXACT, any(self.grad[i] for i in refs))
        return True

    def allowed(self, step, x, out, exact_inputs):
        op, p = step.op, step.params
        if out.size == 0 or out.size > MAX_SIZE or out.ndim > 4:
            return False
        out64 = np.asarray(out, dtype=np.float64)
        if not np.all(np.isfinite(out64)) or np.abs(out64).max() > MAX_MAGNITUDE:
            return False
        if op in ("log", "sqrt") and x[0].min() < KINK:
            return False
        if op in ("relu", "abs") and np.abs(x[0]).min() < KINK:
            return False
        if op == "div" and np.abs(x[1]).min() < DENOMINATOR:
            return False
        if op == "pow":
            integer_exponent = python_scalar(step.args[1]) and float(step.args[1]).is_integer()
            if (np.abs(x[0]) if integer_exponent else x[0]).min() < DENOMINATOR:
                return False
        if op == "exp" and x[0].max() > 5:
            return False
        if op == "max" and not exact_inputs and top_two_gap(x[0], p.get("axis")) < GAP:
            return False
        if op == "maximum" and not exact_inputs and relative_gap(x[0], x[1]) < GAP:
            return False
        if op == "where" and "compare" in p:
            node, _, threshold = p["compare"]
            if not self.exact[node.index] and relative_gap(self.values[node.index], threshold) < GAP:
                return False
        if exact_inputs and op not in ALWAYS_CONDITIONED:
            return True        # one correctly rounded op of exact inputs: no error to amplify
        with np.errstate(all="ignore"):
            return condition_number(step, x, out64) <= CONDITION

    def propose(self, op):
        """A step of `op` on nodes of the program (new leaves and constants as needed), or None."""
        c = self.c
        if op in UNARY:
            forms = ("builtin", "method", "numpy") if op == "abs" else ("method", "numpy")
            form = c.choice(forms if op in NUMPY_FORMS else ("method",))
            return Step(op, (Ref(self.pick()),), {"form": form})
        if op in ("add", "sub", "mul", "div", "maximum"):
            a = self.pick()
            b = self.operand(self.values[a].shape, positive=op == "div" or None)
            step = Step(op, (Ref(a), b) if c.chance(0.5) else (b, Ref(a)))
        elif op == "pow":
            step = self.propose_pow()
        elif op == "matmul":
            step = self.propose_matmul()
        else:
            step = None
        if step is not None:                  # the operator (or tg.maximum), or numpy's ufunc
            step.params["form"] = c.choice(("operator", "operator", "numpy"))
            return step
        if op in REDUCTIONS:
            a = self.pick()
            params = {"axis": self.axis(self.values[a].ndim, tuples=True), "keepdims": c.chance(0.4)}
            if params["axis"] is None and not params["keepdims"] and c.chance(0.5):
                params = {}                  # the defaults
            if op != "logsumexp" and c.chance(0.25):
                params["form"] = "numpy"     # np.sum(t, ...) calls t.sum(...)
            return Step(op, (Ref(a),), params)
        if op in ("softmax", "log_softmax"):
            a = self.pick()
            return Step(op, (Ref(a),), {} if c.chance(0.3) else {"axis": self.axis(self.values[a].ndim)})
        return getattr(self, "propose_" + op)()

    def axis(self, ndim, tuples=False):
        """An axis for a reduction: None, an int (negative too), or a tuple (or list) of distinct axes."""
        c = self.c
        kind = c.choice(("none", "int", "int", "int", "tuple", "tuple") if tuples and ndim else
                        ("int",) if not tuples else ("none", "int"))
        if kind == "none":
            return None
        span = max(ndim, 1)         # a 0-d value takes axis 0 or -1, in numpy and in torch
        if kind == "int":
            return c.integer(-span, span - 1)
        axes = [a for a in range(ndim) if c.chance(0.5)] or [c.integer(0, ndim - 1)]
        axes = [a - ndim if c.chance(0.4) else a for a in axes]
        if c.chance(0.3):
            axes.reverse()
        return list(axes) if c.chance(0.2) else tuple(axes)

    def propose_pow(self):
        c = self.c
        form = c.choice(("scalar exponent", "scalar exponent", "scalar base", "tensor"))
        if form == "scalar exponent":
            a = self.pick()
            exponent = c.choice((2, 3, -1, 0, 1, 0.5, 1.5, -0.5, 2.5, np.float64(2.0), np.float32(0.5)))
            return Step("pow", (Ref(a), exponent))
        if form == "scalar base":
            return Step("pow", (c.choice((2.0, 0.5, 3, 1.5, np.float64(2.5))), Ref(self.pick())))
        a = self.pick()
        b = self.operand(self.values[a].shape, allow_constant=False)
        return Step("pow", (Ref(a), b) if c.chance(0.5) else (b, Ref(a)))

    def propose_matmul(self):
        c = self.c
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return None
        shape = self.values[a].shape
        m, batch = c.integer(1, 3), self.partner_shape(shape[:-2]) if len(shape) > 2 else ()
        if c.chance(0.5):                               # a @ b
            k = shape[-1]
            other = c.choice(((k,), (k, m), batch + (c.integer(1, 2),) * (len(batch) == 0 and c.chance(0.3)) + (k, m)))
            b = self.matmul_operand(other)
            return Step("matmul", (Ref(a), b))
        k = shape[-2] if len(shape) >= 2 else shape[0]  # b @ a
        other = c.choice(((k,), (m, k), batch + (m, k)))
        return Step("matmul", (self.matmul_operand(other), Ref(a)))

    def matmul_operand(self, shape):
        c = self.c
        kind = c.choice(("node", "leaf", "leaf", "array"))
        if kind == "node":
            i = self.pick(lambda s: s == shape)
            if i is not None:
                return Ref(i)
        if kind == "array":
            return self.values_for(shape).astype(c.choice((np.float64, np.float32)))
        return Ref(self.leaf(shape))

    def propose_reshape(self):
        c = self.c
        a = self.pick()
        n = self.values[a].size
        dims = []
        for _ in range(c.integer(0, 3)):
            divisors = [d for d in range(1, n + 1) if n % d == 0]
            dims.append(c.choice(divisors))
            n //= dims[-1]
        if n > 1 or (dims and c.chance(0.3)):
            dims.append(n)
        if dims and c.chance(0.3):
            dims[c.integer(0, len(dims) - 1)] = -1
        if c.chance(0.2):
            dims.insert(c.integer(0, len(dims)), 1)
        return Step("reshape", (Ref(a),), {"shape": tuple(dims), "form": c.choice(("star", "tuple"))})

    def propose_transpose(self):
        c = self.c
        a = self.pick()
        ndim = self.values[a].ndim
        form = c.choice(("T", "none", "star", "tuple") if ndim else ("T", "none"))
        if form in ("T", "none"):
            return Step("transpose", (Ref(a),), {"form": form})
        axes = list(range(ndim))
        for i in range(ndim - 1, 0, -1):
            j = c.integer(0, i)
            axes[i], axes[j] = axes[j], axes[i]
        axes = tuple(ax - ndim if c.chance(0.3) else ax for ax in axes)
        return Step("transpose", (Ref(a),), {"axes": axes, "form": form})

    def propose_broadcast_to(self):
        c = self.c
        a = self.pick()
        dims = [c.integer(2, 3) if d == 1 and c.chance(0.6) else d for d in self.values[a].shape]
        while len(dims) < 4 and c.chance(0.4):
            dims.insert(0, c.integer(1, 3))
        return Step("broadcast_to", (Ref(a),), {"shape": tuple(dims)})

    def propose_getitem(self):
        a = self.pick()
        return Step("getitem", (Ref(a),), {"index": self.index(self.values[a].shape)})

    def index(self, shape):
        """An index: ints, slices (steps of either sign), None, Ellipsis, integer arrays, boolean masks."""
        c = self.c
        entries, arrays, d = [], 0, 0
        while d < len(shape) and (d == 0 or c.chance(0.8)):
            n = shape[d]
            if c.chance(0.15):
                entries.append(None)
            kind = c.choice(("slice", "slice", "int", "full", "array", "mask", "ellipsis"))
            if kind in ("array", "mask") and arrays >= 2:
                kind = "slice"
            if kind == "ellipsis":
                if not any(e is Ellipsis for e in entries):
                    entries.append(Ellipsis)
                    d = len(shape) - c.integer(0, len(shape) - d)   # the ellipsis covers some axes
                continue
            if kind == "slice":
                step = c.choice((1, 1, 2, 3, -1, -2, None))
                start = c.choice((None, c.integer(-n, n)))
                stop = c.choice((None, c.integer(-n - 1, n + 1)))
                entries.append(slice(start, stop, step))
            elif kind == "int":
                entries.append(c.integer(-n, n - 1))
            elif kind == "full":
                entries.append(slice(None))
            elif kind == "array":
                arrays += 1
                size = c.integer(1, 4)
                entries.append(np.array([c.integer(-n, n - 1) for _ in range(size)], dtype=np.int64).reshape(
                    (size,) if c.chance(0.8) or size % 2 else (2, size // 2)))
            else:
                arrays += 1
                width = 2 if d + 1 < len(shape) and c.chance(0.3) else 1
                mask_shape = shape[d:d + width]
                mask = np.array([c.chance(0.6) for _ in range(int(np.prod(mask_shape)))]).reshape(mask_shape)
                entries.append(mask)
                d += width
                continue
            d += 1
        if c.chance(0.1):
            entries.append(None)
        if len(entries) == 1 and c.chance(0.6):
            return entries[0]
        return tuple(entries)

    def propose_concatenate(self):
        c = self.c
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return None
        shape = self.values[a].shape
        axis = c.integer(-len(shape), len(shape) - 1)
        parts = [Ref(a)]
        for _ in range(c.integer(1, 2)):
            other = shape[:axis % len(shape)] + (c.integer(1, 3),) + shape[axis % len(shape) + 1:]
            kind = c.choice(("same", "node", "leaf", "leaf", "array"))
            if kind == "same":
                parts.append(Ref(a))
            elif kind == "node" and self.pick(lambda s: s == other) is not None:
                parts.append(Ref(self.pick(lambda s: s == other)))
            elif kind == "array":
                parts.append(self.constant(other))
            else:
                parts.append(Ref(self.leaf(other)))
        if c.chance(0.5):
            parts.reverse()
        return Step("concatenate", tuple(parts), {} if axis == 0 and c.chance(0.5) else {"axis": axis})

    def propose_stack(self):
        c = self.c
        a = self.pick()
        shape = self.values[a].shape
        parts = [Ref(a)]
        for _ in range(c.integer(1, 2)):
            kind = c.choice(("same", "node", "leaf", "array"))
            if kind == "same":
                parts.append(Ref(a))
            elif kind == "node":
                parts.append(Ref(self.pick(lambda s: s == shape)))
            elif kind == "array" and shape:
                parts.append(self.constant(shape))
            else:
                parts.append(Ref(self.leaf(shape)))
        axis = c.integer(-len(shape) - 1, len(shape))
        return Step("stack", tuple(parts), {} if axis == 0 and c.chance(0.5) else {"axis": axis})

    def propose_where(self):
        c = self.c
        a = self.pick()
        shape = self.values[a].shape
        b = self.operand(shape)
        if c.chance(0.5):
            i = self.pick(lambda s: broadcastable(s, shape))
            compare = c.choice(tuple(COMPARE))
            if compare in ("==", "!=") and self.exact[i]:     # equality only of values held bit for bit
                threshold = float(c.choice(self.values[i].reshape(-1).tolist()))
            else:
                compare = compare if compare not in ("==", "!=") else ">"
                threshold = float(np.round(np.median(self.values[i]), 2))
            params = {"compare": (Ref(i), compare, threshold)}
        else:
            mask_shape = self.partner_shape(shape)
            mask = np.array([c.chance(0.5) for _ in range(int(np.prod(mask_shape, dtype=int)))]).reshape(mask_shape)
            params = {"mask": mask}
        return Step("where", (Ref(a), b) if c.chance(0.5) else (b, Ref(a)), params)


def broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def generate(chooser, max_steps=7, ops=OPS):
    """A random program: one or two leaves, then up to max_steps allowed steps of `ops` (shape
    ops may join in to give them material), then a cotangent."""
    b = Builder(chooser)
    c = chooser
    ndim = c.choice((0, 1, 1, 2, 2, 2, 3, 3))
    shape = tuple(c.integer(1, 4) for _ in range(ndim))
    b.leaf(shape, requires_grad=True)
    if c.chance(0.5):
        b.leaf(b.partner_shape(shape))
    steps = c.integer(1, max_steps)
    made = 0
    for _ in range(steps * 6):                      # proposals that are not allowed are retried
        step = b.propose(c.choice(ops))
        if step is not None and b.try_step(step):
            made += 1
            if made == steps:
                break
    if made == 0 or not isinstance(b.nodes[-1], Step):
        b.try_step(Step("neg", (Ref(len(b.nodes) - 1),)))
    out = b.values[-1]
    cotangent = np.asarray(c.uniform(out.size, -1.0, 1.0)).reshape(out.shape).astype(out.dtype)
    return Program(b.nodes, cotangent)


# ---- choosers: where the random decisions come from ----
class RandomChooser:
    """Decisions from a seeded numpy generator: a fixed list of seeds is a fixed list of programs."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def integer(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p):
        return bool(self.rng.random() < p)

    def uniform(self, n, lo, hi):
        return self.rng.uniform(lo, hi, size=n).tolist()


class HypothesisChooser:
    """Decisions drawn by hypothesis, so a failing program shrinks to a small one."""

    def __init__(self, draw):
        from hypothesis import strategies as st
        self.draw, self.st = draw, st

    def integer(self, lo, hi):
        return self.draw(self.st.integers(lo, hi))

    def choice(self, options):
        return options[self.draw(self.st.integers(0, len(options) - 1))]

    def chance(self, p):
        return self.draw(self.st.integers(0, 99)) < 100 * p

    def uniform(self, n, lo, hi):
        return self.draw(self.st.lists(self.st.floats(lo, hi), min_size=n, max_size=n))


# ---- the two engines ----
def resolve(arg, values):
    return values[arg.index] if isinstance(arg, Ref) else arg


def run_tinygrad(program):
    """Every node's tinygrad_vg Tensor; the constants are handed to the ops as they are."""
    import tinygrad_vg as tg
    values = []
    for node in program.nodes:
        if isinstance(node, Leaf):
            values.append(tg.Tensor(node.data, requires_grad=node.requires_grad))
            continue
        args = [resolve(a, values) for a in node.args]
        values.append(TINYGRAD[node.op](tg, node.params, values, *args))
    return values


def tinygrad_where(tg, p, values, a, b):
    if "mask" in p:
        return tg.where(p["mask"], a, b)
    node, compare, threshold = p["compare"]
    return tg.where(COMPARE_OPERATOR[compare](values[node.index], threshold), a, b)


COMPARE_OPERATOR = {">": lambda x, t: x > t, "<": lambda x, t: x < t, ">=": lambda x, t: x >= t,
                    "<=": lambda x, t: x <= t, "==": lambda x, t: x == t, "!=": lambda x, t: x != t}


def tinygrad_reduce(name):
    def reduce(tg, p, values, x):
        options = {k: v for k, v in p.items() if k != "form"}
        return getattr(np, name)(x, **options) if p.get("form") == "numpy" else getattr(x, name)(**options)
    return reduce


def tinygrad_unary(name):
    def unary(tg, p, values, x):
        form = p.get("form", "method")
        if form == "numpy":
            return NUMPY_FORMS[name](x)
        if name == "neg":
            return -x
        return abs(x) if form == "builtin" else getattr(x, name)()
    return unary


def tinygrad_binary(operation):
    def binary(tg, p, values, a, b):
        return NUMPY_FORMS[operation.__name__](a, b) if p.get("form") == "numpy" else operation(tg, a, b)
    return binary


def tinygrad_transpose(tg, p, values, x):
    form = p["form"]
    if form == "T":
        return x.T
    if form == "none":
        return x.transpose()
    return x.transpose(*p["axes"]) if form == "star" else x.transpose(p["axes"])


def add(tg, a, b): return a + b
def sub(tg, a, b): return a - b
def mul(tg, a, b): return a * b
def div(tg, a, b): return a / b
def pow(tg, a, b): return a ** b                 # noqa: A001 -- named as the op
def matmul(tg, a, b): return a @ b
def maximum(tg, a, b): return tg.maximum(a, b)


TINYGRAD = {
    **{f.__name__: tinygrad_binary(f) for f in (add, sub, mul, div, pow, matmul, maximum)},
    **{name: tinygrad_unary(name) for name in UNARY},
    **{name: tinygrad_reduce(name) for name in REDUCTIONS + ("softmax", "log_softmax")},
    "reshape": lambda tg, p, v, x: x.reshape(*p["shape"]) if p["form"] == "star" else x.reshape(p["shape"]),
    "transpose": tinygrad_transpose,
    "broadcast_to": lambda tg, p, v, x: x.broadcast_to(p["shape"]),
    "getitem": lambda tg, p, v, x: x[p["index"]],
    "concatenate": lambda tg, p, v, *xs: tg.concatenate(list(xs), **p),
    "stack": lambda tg, p, v, *xs: tg.stack(list(xs), **p),
    "where": tinygrad_where,
}


TORCH_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def run_torch(program):
    """Every node's torch tensor. Each step's operands are cast to the step's numpy dtype first (a
    Python scalar stays a Python scalar), so torch computes in the dtype numpy's rules give."""
    import torch
    values = []
    for node in program.nodes:
        if isinstance(node, Leaf):
            data = as_float_array(node.data)
            values.append(torch.tensor(data, requires_grad=node.requires_grad))
            continue
        dtype = getattr(torch, TORCH_DTYPES[np.dtype(node.dtype)])
        args = [torch_operand(torch, resolve(a, values), dtype) for a in node.args]
        out = TORCH[node.op](torch, node.params, values, dtype, *args)
        if out.requires_grad:
            out.retain_grad()
        values.append(out)
    return values


def torch_operand(torch, value, dtype):
    if isinstance(value, torch.Tensor):
        return value if value.dtype == dtype else value.to(dtype)
    if isinstance(value, bool):
        return int(value)         # torch refuses a bool in `-`; the same number as an int is weak too
    if python_scalar(value):
        return value
    if isinstance(value, np.generic):
        return float(value)
    return torch.tensor(as_float_array(value)).to(dtype)


def torch_dims(p, x, default=None):
    """numpy's axis as torch's dim: None means every axis; a 0-d tensor's axes are 0 and -1 in both."""
    axis = p.get("axis", default)
    if axis is None:
        return tuple(range(x.ndim)) if x.ndim else 0
    return tuple(axis) if isinstance(axis, (tuple, list)) else axis


def torch_reduce(name):
    def reduce(torch, p, values, dtype, x):
        keepdims, dims = p.get("keepdims", False), torch_dims(p, x)
        if name == "sum" or name == "mean":
            out = getattr(x, name)(dim=dims, keepdim=keepdims) if x.ndim else getattr(x, name)()
        elif name == "max":
            out = torch.amax(x, dim=dims, keepdim=keepdims) if x.ndim else torch.amax(x, dim=())
        else:
            out = torch.logsumexp(x, dim=dims, keepdim=keepdims)
        if p.get("axis") is None and keepdims and x.ndim:
            out = out.reshape((1,) * x.ndim)
        return out
    return reduce


def torch_transpose(torch, p, values, dtype, x):
    axes = p.get("axes") or tuple(range(x.ndim - 1, -1, -1))
    return x.permute(tuple(axes))


def torch_index(torch, index, shape):
    """numpy's index as torch's, and the axes to flip first. Torch refuses negative slice steps, so a
    negative-step slice becomes a positive one over the flipped axis; with an integer array or
    mask present, an int becomes a one-element array, since numpy then counts an int as an
    advanced index (its axes move to the front) while torch applies it first."""
    entries = index if isinstance(index, tuple) else (index,)
    advanced = any(isinstance(e, np.ndarray) for e in entries)
    used = sum(e.ndim if isinstance(e, np.ndarray) and e.dtype == bool else 0 if e is None or e is Ellipsis else 1
               for e in entries)
    out, flips, d = [], [], 0
    for e in entries:
        if e is Ellipsis:
            out.append(e)
            d += len(shape) - used
        elif e is None:
            out.append(e)
        elif isinstance(e, slice):
            if e.step is not None and e.step < 0:
                picked = range(shape[d])[e]
                n = shape[d]
                e = slice(n - 1 - picked[0], n - picked[-1], -e.step) if len(picked) else slice(0, 0)
                flips.append(d)
            out.append(e)
            d += 1
        elif isinstance(e, np.ndarray):
            out.append(torch.from_numpy(e.copy()))
            d += e.ndim if e.dtype == bool else 1
        else:
            out.append(torch.tensor([e]) if advanced else e)
            d += 1
    return tuple(out), flips


def torch_getitem(torch, p, values, dtype, x):
    index, flips = torch_index(torch, p["index"], tuple(x.shape))
    return (torch.flip(x, flips) if flips else x)[index]


def torch_where(torch, p, values, dtype, a, b):
    if "mask" in p:
        mask = torch.from_numpy(np.array(p["mask"], dtype=bool))
    else:
        node, compare, threshold = p["compare"]
        mask = COMPARE_OPERATOR[compare](values[node.index].detach(), threshold)
    return torch.where(mask, a, b)


def torch_maximum(torch, p, values, dtype, a, b):
    a, b = [x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=dtype) for x in (a, b)]
    return torch.maximum(a, b)


TORCH = {
    "add": lambda t, p, v, d, a, b: a + b, "sub": lambda t, p, v, d, a, b: a - b,
    "mul": lambda t, p, v, d, a, b: a * b, "div": lambda t, p, v, d, a, b: a / b,
    "pow": lambda t, p, v, d, a, b: a ** b, "matmul": lambda t, p, v, d, a, b: t.matmul(a, b),
    "maximum": torch_maximum,
    "neg": lambda t, p, v, d, x: -x, "abs": lambda t, p, v, d, x: t.abs(x),
    "exp": lambda t, p, v, d, x: t.exp(x), "log": lambda t, p, v, d, x: t.log(x),
    "sqrt": lambda t, p, v, d, x: t.sqrt(x), "tanh": lambda t, p, v, d, x: t.tanh(x),
    "sigmoid": lambda t, p, v, d, x: t.sigmoid(x), "relu": lambda t, p, v, d, x: t.relu(x),
    **{name: torch_reduce(name) for name in REDUCTIONS},
    "softmax": lambda t, p, v, d, x: t.softmax(x, dim=torch_dims(p, x, -1)),
    "log_softmax": lambda t, p, v, d, x: t.log_softmax(x, dim=torch_dims(p, x, -1)),
    "reshape": lambda t, p, v, d, x: x.reshape(p["shape"]),
    "transpose": torch_transpose,
    "broadcast_to": lambda t, p, v, d, x: t.broadcast_to(x, p["shape"]),
    "getitem": torch_getitem,
    "concatenate": lambda t, p, v, d, *xs: t.cat(xs, dim=p.get("axis", 0)),
    "stack": lambda t, p, v, d, *xs: t.stack(xs, dim=p.get("axis", 0)),
    "where": torch_where,
}


# ---- comparing ----
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}   # see the module docstring


def forward_error(actual, expected):
    """max |actual - expected| / (|expected| + max |expected|): relative to each element's magnitude
    and, for an element much smaller than the rest, to the array's (whose magnitudes it was made of)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = np.abs(expected) + np.abs(expected).max(initial=0.0)
    return relative(np.abs(actual - expected), scale)


SUBNORMAL_STEPS = 16   # roundings along a program's paths, each off by at most one subnormal below the normals


def relative(difference, scale, floor=0.0):
    """max (difference - floor) / scale, where a zero scale allows only a difference within the floor.

    floor is absolute: below the smallest normal number rounding is no longer relative (gradual
    underflow rounds to multiples of the smallest subnormal), so a gradient of 2e-323 computed as
    -0.25 / x^2 * 5e-324 by one engine and -(5e-324 * 0.25) / x^2 = 0 by the other are both right."""
    difference = np.maximum(np.asarray(difference) - floor, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(scale > 0, difference / scale, np.where(difference > 0, np.inf, 0.0))
    return r.max(initial=0.0)


def gradient_scales(program, theirs):
    """For every node, the sum over the paths from it to the output of |path product| times
    |cotangent|: the sweep of backward with every local Jacobian and the cotangent replaced by
    their absolute values. A gradient is a signed sum of these terms, so its rounding error is
    relative to this scale, not to the gradient itself (which cancels to ~0 in x / x). The local
    Jacobians are torch's, each step's taken whole (values have at most MAX_SIZE elements)."""
    import torch
    from torch.autograd.functional import jacobian
    scales = {program.output: np.abs(np.asarray(program.cotangent, dtype=np.float64))}
    for k in range(program.output, -1, -1):
        node = program.nodes[k]
        if isinstance(node, Leaf) or k not in scales or not theirs[k].requires_grad:
            continue
        positions = [j for j, a in enumerate(node.args) if isinstance(a, Ref) and theirs[a.index].requires_grad]
        inputs = tuple(theirs[node.args[j].index].detach() for j in positions)
        dtype = getattr(torch, TORCH_DTYPES[np.dtype(node.dtype)])

        def step(*xs, node=node, positions=positions, dtype=dtype):
            args = [resolve(a, theirs) for a in node.args]
            for j, x in zip(positions, xs):
                args[j] = x
            return TORCH[node.op](torch, node.params, theirs, dtype, *[torch_operand(torch, a, dtype) for a in args])

        jacobians = jacobian(step, inputs)
        weight = scales[k].reshape(-1)
        for j, J in zip(positions, jacobians):
            i = node.args[j].index
            local = np.abs(J.detach().numpy().astype(np.float64)).reshape(weight.size, -1)
            contribution = (weight @ local).reshape(theirs[i].shape)
            scales[i] = scales[i] + contribution if i in scales else contribution
    return scales


def compare(program):
    """Run the program on both engines: the list of differences (empty if none) and every error
    measured, as (kind, float32, error) for the record."""
    import torch
    problems, errors = [], []
    try:
        ours = run_tinygrad(program)
    except Exception as e:       # noqa: BLE001 -- a valid program must run; what it raised is the report
        return [f"tinygrad_vg raised {type(e).__name__}: {e}"], errors
    theirs = run_torch(program)
    float32 = []                 # computed in float32 somewhere upstream: float32's tolerance
    for i, node in enumerate(program.nodes):
        refs = [a.index for a in getattr(node, "args", ()) if isinstance(a, Ref)]
        constants = [a for a in getattr(node, "args", ()) if not isinstance(a, Ref)]
        float32.append(np.dtype(theirs[i].detach().numpy().dtype) == np.float32 or any(float32[j] for j in refs)
                       or any(np.asarray(a).dtype == np.float32 for a in constants))
    for i, node in enumerate(program.nodes):
        a, t = ours[i], theirs[i].detach().numpy()
        expected = as_float_array(node.data).dtype if isinstance(node, Leaf) else np.dtype(node.dtype)
        if type(a).__name__ != "Tensor":
            problems.append(f"v{i}: tinygrad_vg gave a {type(a).__name__}, not a Tensor")
            continue
        if a.dtype != expected or t.dtype != expected:
            problems.append(f"v{i}: dtype {a.dtype} (tinygrad_vg), {t.dtype} (torch), numpy's rule {expected}")
        if a.shape != t.shape:
            problems.append(f"v{i}: shape {a.shape} (tinygrad_vg) vs {t.shape} (torch)")
            continue
        e = forward_error(a.data, t)
        errors.append(("forward", float32[i], e))
        if e > RTOL[np.dtype(np.float32 if float32[i] else np.float64)]:
            problems.append(f"v{i}: values differ by {e:.3g}\n  tinygrad_vg {a.data!r}\n  torch       {t!r}")
    if problems or not ours[-1].requires_grad:
        return problems, errors
    for a in ours:               # every node keeps its gradient, as run_torch asks torch's to
        if a.requires_grad:
            a.retain_grad()
    try:
        ours[-1].backward(program.cotangent)
    except Exception as e:       # noqa: BLE001 -- as above
        return problems + [f"tinygrad_vg's backward raised {type(e).__name__}: {e}"], errors
    theirs[-1].backward(torch.from_numpy(program.cotangent.copy()))
    scales = gradient_scales(program, theirs)
    rtol = RTOL[np.dtype(np.float32 if any(float32) else np.float64)]
    for i, (a, t) in enumerate(zip(ours, theirs)):
        if not a.requires_grad:
            continue
        if (a.grad is None) != (t.grad is None):
            problems.append(f"v{i}: gradient {a.grad!r} (tinygrad_vg) vs {t.grad!r} (torch)")
            continue
        if a.grad is None:
            continue
        if a.grad.dtype != a.dtype or a.grad.shape != a.shape:
            problems.append(f"v{i}: gradient {a.grad.dtype} {a.grad.shape} for a {a.dtype} {a.shape} tensor")
            continue
        expected = t.grad.numpy()
        e = relative(np.abs(np.asarray(a.grad, dtype=np.float64) - expected), scales.get(i, np.zeros(a.shape)),
                     floor=SUBNORMAL_STEPS * float(np.finfo(a.dtype).smallest_subnormal))
        errors.append(("gradient", any(float32), e))
        if e > rtol:
            problems.append(f"v{i}: gradients differ by {e:.3g} of the paths' scale\n"
                            f"  tinygrad_vg {a.grad!r}\n  torch       {expected!r}\n  scale       {scales.get(i)!r}")
    return problems, errors
