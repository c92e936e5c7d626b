"""Every primitive of the engine: its forward on numpy arrays and its vector-Jacobian product.

This is the one place where a derivative is written. Each op is a small class:

    forward(*arrays) -> array    computes the output and saves what the vjp will need
    vjp(g, i)        -> array    the gradient w.r.t. input i, given g = dLoss/dOutput

and says which values its vjp reads (`saves_output`, and `saves_inputs`: True for all of them, or
the positions of those it reads), so that backward can refuse to run a vjp on values that were
modified in place after the forward (`is_view` marks the ops whose output shares its input's
memory).

vjp returns an array of input i's shape: where the forward broadcast an input, its vjp sums the
gradient back (`unbroadcast`). Backward, Jacobians, path products and anomaly checks are all readers
of this table; none of them knows a derivative of its own. Ops know nothing of Tensor.
"""
import math

import numpy as np


def unbroadcast(g, shape):
    """Sum g down to `shape`: first the leading axes broadcasting added, then the axes that were 1."""
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    size_one = tuple(axis for axis, n in enumerate(shape) if n == 1 and g.shape[axis] != 1)
    return g.sum(axis=size_one, keepdims=True) if size_one else g


class Op:
    """One application of a primitive. Subclasses set `name` and define forward and vjp."""
    __slots__ = ()
    name = "op"
    saves_inputs = saves_output = is_view = False

    def __repr__(self):
        return self.name


class Broadcasting(Op):
    """A binary elementwise op: remembers its inputs, whose shapes unbroadcast needs."""
    __slots__ = ("a", "b")

    def forward(self, a, b):
        self.a, self.b = a, b
        return self.compute(a, b)

    def vjp(self, g, i):
        return unbroadcast(self.local_vjp(g, i), (self.a, self.b)[i].shape)


class Add(Broadcasting):
    name = "add"
    compute = staticmethod(np.add)

    def local_vjp(self, g, i):      # d(a+b)/da = d(a+b)/db = 1
        return g


class Sub(Broadcasting):
    name = "sub"
    compute = staticmethod(np.subtract)

    def local_vjp(self, g, i):      # d(a-b)/da = 1, d(a-b)/db = -1
        return g if i == 0 else -g


class Mul(Broadcasting):
    name = "mul"
    saves_inputs = True
    compute = staticmethod(np.multiply)

    def local_vjp(self, g, i):      # d(ab)/da = b, d(ab)/db = a
        return g * (self.b if i == 0 else self.a)


class Div(Broadcasting):
    name = "div"
    saves_inputs = True
    compute = staticmethod(np.divide)

    def local_vjp(self, g, i):      # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2, as (a/b)/b: b*b overflows past 1e154
        return g / self.b if i == 0 else g * -(self.a / self.b / self.b)


class Pow(Broadcasting):
    name = "pow"
    saves_inputs = True
    compute = staticmethod(np.power)

    def local_vjp(self, g, i):
        # d(a^b)/da = b a^(b-1), and 0 where b = 0 (a^0 = 1 for every a, also a = 0);
        # d(a^b)/db = a^b log a, and 0 where a = 0 and b >= 0 (0^b is constant there)
        a, b = self.a, self.b
        with np.errstate(divide="ignore", invalid="ignore"):    # at a = 0; replaced below
            if i == 0:
                return g * zero_where(b == 0, b * a ** (b - 1))
            return g * zero_where((a == 0) & (b >= 0), a ** b * np.log(a))


def zero_where(mask, values):
    """values with 0 where mask holds (a copy only when it holds somewhere)."""
    return np.where(mask, 0, values) if np.any(mask) else values


class Maximum(Broadcasting):
    name = "maximum"
    saves_inputs = True
    compute = staticmethod(np.maximum)

    def local_vjp(self, g, i):      # the larger input gets the gradient; a tie splits it in halves
        a, b = self.a, self.b
        wins = (a > b) if i == 0 else (b > a)
        return g * (wins + 0.5 * (a == b))


class Where(Op):
    """where(cond, a, b): cond is a constant boolean array, not an input of the graph."""
    __slots__ = ("cond", "a", "b")
    name = "where"

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.where(self.cond, a, b)

    def vjp(self, g, i):            # the chosen side gets g, the other 0
        return unbroadcast(np.where(self.cond, g, 0) if i == 0 else np.where(self.cond, 0, g),
                           (self.a, self.b)[i].shape)


def transposed(x):
    """True for a transposed view of a C-order array, like W.T: its last axis is the slow one."""
    return x.flags.f_contiguous and not x.flags.c_contiguous


class MatMul(Op):
    """a @ b with np.matmul semantics: 1-D operands and broadcast batch dimensions."""
    __slots__ = ("a", "b")
    name = "matmul"
    saves_inputs = True

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"shapes {a.shape} and {b.shape} do not align")
        self.a, self.b = a, b
        return a @ b

    def vjp(self, g, i):
        # A 1-D a is a row (1, k) and a 1-D b a column (k, 1) whose extra axis the output dropped:
        # put those axes back, then d(AB)/dA: g B^T and d(AB)/dB: A^T g. For an operand stored
        # transposed (b = W.T) the same numbers are computed as (g^T A)^T, laid out so that W's
        # gradient is C-order like W, and an optimiser's update reads both in one sweep.
        a, b = self.a, self.b
        if b.ndim == 1:
            b, g = b[:, None], g[..., None]
        if a.ndim == 1:
            a, g = a[None, :], g[..., None, :]
        if i == 0:
            grad = (b @ g.swapaxes(-1, -2)).swapaxes(-1, -2) if transposed(a) else g @ b.swapaxes(-1, -2)
        else:
            grad = (g.swapaxes(-1, -2) @ a).swapaxes(-1, -2) if transposed(b) else a.swapaxes(-1, -2) @ g
        grad = unbroadcast(grad, (a, b)[i].shape)
        return grad.reshape((self.a, self.b)[i].shape)


class Linear(Op):
    """x @ w.T + b as one node, PyTorch's F.linear (its graph node is addmm): x (..., in_features),
    w (out_features, in_features) or (in_features,), b (optional) broadcasting to the output. One
    node keeps one array where matmul then add keep two; the bias is added into matmul's result."""
    __slots__ = ("x", "w", "bias_shape")
    name = "linear"
    saves_inputs = (0, 1)       # the bias's vjp needs only its shape

    def forward(self, x, w, b=None):
        if x.ndim == 0 or w.ndim not in (1, 2) or x.shape[-1] != w.shape[-1]:
            raise ValueError(f"input {x.shape} and weight {w.shape} do not fit: it needs an input "
                             "(..., in_features) and a weight (out_features, in_features)")
        self.x, self.w = x, w
        y = x @ w.T
        if b is None:
            return y
        if np.broadcast_shapes(y.shape, b.shape) != y.shape:
            raise ValueError(f"bias {b.shape} does not broadcast to the output's shape {y.shape}")
        self.bias_shape = b.shape
        if type(y) is np.ndarray and np.result_type(y, b) == y.dtype:
            y += b                  # into matmul's fresh result: no second array
            return y
        return y + b                # a 0-d result, or a bias that promotes the dtype

    def vjp(self, g, i):
        # y = x W^T + b:  dL/dx = g W,  dL/dW = g^T x summed over the batch axes,  dL/db = g summed
        # to b's shape. A 1-D w is a row (1, in_features) whose output axis y dropped: put it back.
        if i == 2:
            return unbroadcast(g, self.bias_shape)
        x, w = self.x, self.w
        if w.ndim == 1:
            w, g = w[None, :], g[..., None]
        if i == 0:
            return g @ w
        batch = math.prod(x.shape[:-1])
        return (g.reshape(batch, g.shape[-1]).T @ x.reshape(batch, x.shape[-1])).reshape(self.w.shape)


class Unary(Op):
    """An elementwise op of one input; saves its input x and output y."""
    __slots__ = ("x", "y")

    def forward(self, x):
        self.x = x
        self.y = self.compute(x)
        return self.y


class Neg(Unary):
    name = "neg"
    compute = staticmethod(np.negative)

    def vjp(self, g, i):            # d(-x)/dx = -1
        return -g


class Exp(Unary):
    name = "exp"
    saves_output = True
    compute = staticmethod(np.exp)

    def vjp(self, g, i):            # d exp(x)/dx = exp(x)
        return g * self.y


class Log(Unary):
    name = "log"
    saves_inputs = True
    compute = staticmethod(np.log)

    def vjp(self, g, i):            # d log(x)/dx = 1/x   (log(0) = -inf, and its gradient is inf)
        return g / self.x


class Sqrt(Unary):
    name = "sqrt"
    saves_output = True
    compute = staticmethod(np.sqrt)

    def vjp(self, g, i):            # d sqrt(x)/dx = 1 / (2 sqrt(x))
        return g / (2 * self.y)


class Tanh(Unary):
    name = "tanh"
    saves_output = True
    compute = staticmethod(np.tanh)

    def vjp(self, g, i):            # d tanh(x)/dx = 1 - tanh(x)^2
        return g * (1 - self.y * self.y)


def stable_sigmoid(x):
    """1/(1+e^-x) for x >= 0 and e^x/(1+e^x) for x < 0: exp only ever sees a non-positive number."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Unary):
    name = "sigmoid"
    saves_output = True
    compute = staticmethod(stable_sigmoid)

    def vjp(self, g, i):            # d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x))
        return g * self.y * (1 - self.y)


class ReLU(Unary):
    name = "relu"
    saves_inputs = True

    @staticmethod
    def compute(x):
        return np.maximum(x, 0)

    def vjp(self, g, i):            # d relu(x)/dx = 1 if x > 0 else 0 (we take 0 at the kink)
        return g * (self.x > 0)


class Abs(Unary):
    name = "abs"
    saves_inputs = True
    compute = staticmethod(np.abs)

    def vjp(self, g, i):            # d |x|/dx = sign(x) (0 at the kink)
        return g * np.sign(self.x)


class Reduction(Op):
    """Reduces over `axis` (None: all axes). The output is computed with the reduced axes kept as
    size 1 (`kept`), so the vjp can broadcast g back over the input by a reshape."""
    __slots__ = ("axis", "keepdims", "x", "kept")

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        self.kept = self.compute(x, axis=self.axis, keepdims=True)
        if self.keepdims:
            return self.kept
        return self.kept.reshape(()) if self.axis is None else np.squeeze(self.kept, axis=self.axis)


class Sum(Reduction):
    name = "sum"
    compute = staticmethod(np.sum)

    def vjp(self, g, i):            # d sum(x)/dx_j = 1 for every j
        return np.broadcast_to(g.reshape(self.kept.shape), self.x.shape)


class Mean(Reduction):
    name = "mean"
    compute = staticmethod(np.mean)        # of an empty slice: nan, as numpy says

    def vjp(self, g, i):            # d mean(x)/dx_j = 1/n for every j, n the elements averaged
        averaged = max(self.x.size // max(self.kept.size, 1), 1)    # an empty x: nothing to send back
        return np.broadcast_to(g.reshape(self.kept.shape) / averaged, self.x.shape)


class Max(Reduction):
    name = "max"
    saves_inputs = saves_output = True      # the output is a view of `kept`
    compute = staticmethod(np.max)

    def vjp(self, g, i):            # d max(x)/dx_j = 1/(number of maxima) where x_j is a maximum, else 0
        is_max = self.x == self.kept
        return g.reshape(self.kept.shape) * is_max / is_max.sum(axis=self.axis, keepdims=True)


def shifted_by_max(x, axis):
    """(x - m, m) with m = max(x) along axis (kept as size 1), or 0 where that max is not finite:
    exp(x - m) never overflows, a slice of -inf stays -inf instead of turning into nan, and the
    logsumexp of an empty slice is log 0 = -inf."""
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)    # -inf for an empty slice
    m = np.where(np.isfinite(m), m, 0)
    return x - m, m


def stable_logsumexp(x, axis=None, keepdims=True):
    """log sum exp(x) = m + log sum exp(x - m) with m = max(x): no exp ever overflows."""
    shifted, m = shifted_by_max(x, axis)
    out = m + np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def stable_softmax(x, axis):
    """exp(x - m) / sum exp(x - m), m = max(x): the shift comes first, so logits near 1e6 keep their
    digits (exp(x - logsumexp(x)) would subtract at the scale of 1e6, and lose ten of them)."""
    e = np.exp(shifted_by_max(x, axis)[0])
    return e / e.sum(axis=axis, keepdims=True)


class LogSumExp(Reduction):
    name = "logsumexp"
    saves_inputs = True
    compute = staticmethod(stable_logsumexp)

    def vjp(self, g, i):            # d logsumexp(x)/dx_j = softmax(x)_j
        return g.reshape(self.kept.shape) * stable_softmax(self.x, self.axis)


class AlongAxis(Op):
    """softmax and log_softmax along one axis. Each subtracts the max before anything else: written
    as x - logsumexp(x), logits near 1e6 keep only the digits 1e6 leaves them (about 1e-10), and a
    gradient entry of 1e-13 came out with the wrong sign."""
    __slots__ = ("axis", "y")
    saves_output = True

    def __init__(self, axis=-1):
        self.axis = axis


class LogSoftmax(AlongAxis):
    name = "log_softmax"

    def forward(self, x):
        shifted, _ = shifted_by_max(x, self.axis)
        self.y = shifted - np.log(np.sum(np.exp(shifted), axis=self.axis, keepdims=True))
        return self.y

    def vjp(self, g, i):            # d log_softmax(x)_j/dx_k = [j = k] - softmax(x)_k
        return g - np.exp(self.y) * g.sum(axis=self.axis, keepdims=True)


class Softmax(AlongAxis):
    name = "softmax"

    def forward(self, x):
        self.y = stable_softmax(x, self.axis)
        return self.y

    def vjp(self, g, i):            # d softmax(x)_j/dx_k = softmax_j ([j = k] - softmax_k)
        return self.y * (g - (g * self.y).sum(axis=self.axis, keepdims=True))


class Reshape(Op):
    __slots__ = ("shape", "input_shape")
    name = "reshape"
    is_view = True     # a view of the input where numpy can make one

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(self.shape)

    def vjp(self, g, i):            # reshaping moves no value: reshape g back
        return g.reshape(self.input_shape)


class Transpose(Op):
    """x.transpose(axes); axes None reverses the axes, as in numpy (x.T)."""
    __slots__ = ("axes",)
    name = "transpose"
    is_view = True

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def vjp(self, g, i):            # undo the permutation with its inverse
        if self.axes is None:       # reversing is its own inverse
            return g.transpose()
        inverse = [0] * g.ndim
        for position, axis in enumerate(self.axes):     # an axis -1 counts from the end here too
            inverse[axis] = position
        return g.transpose(inverse)


class BroadcastTo(Op):
    __slots__ = ("shape", "input_shape")
    name = "broadcast_to"
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return np.broadcast_to(x, self.shape)

    def vjp(self, g, i):            # every copy of an element sends its gradient back to it
        return unbroadcast(g, self.input_shape)


class GetItem(Op):
    __slots__ = ("index", "input_shape", "dtype")
    name = "getitem"
    is_view = True     # a view for basic indices, a copy for integer arrays

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.input_shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def vjp(self, g, i):            # scatter g into zeros; an element picked twice gets both (np.add.at)
        grad = np.zeros(self.input_shape, dtype=self.dtype)
        np.add.at(grad, self.index, g)
        return grad


class Concatenate(Op):
    __slots__ = ("axis", "bounds")
    name = "concatenate"

    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        out = np.concatenate(xs, axis=self.axis)
        self.bounds = np.cumsum([0] + [x.shape[self.axis] for x in xs])
        return out

    def vjp(self, g, i):            # each input gets back its own slice of g
        return np.take(g, range(self.bounds[i], self.bounds[i + 1]), axis=self.axis)
