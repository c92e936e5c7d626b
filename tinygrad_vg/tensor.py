"""Tensor: a numpy array plus the node of the graph that made it, and backward.

A tensor made by an op keeps `op` (the ops.py instance, holding what its vjp needs) and `inputs`
(an ordered tuple of tensors, duplicates kept). That is the whole graph: nothing points back from
an input to its users, so there are no reference cycles and dropping the last reference to an
output frees its graph at once, without waiting for Python's cyclic garbage collector.

In-place writes (`t += x`, `t[i] = x`, `t.data = a`, `t.data -= a`) are stamped in `written_at`,
so that backward refuses a vjp whose saved values were overwritten (writes.py), as PyTorch's
version counters make it do.
"""
import itertools
import operator

import numpy as np

from . import anomaly, graph, ops, writes

grad_enabled = True     # False inside no_grad(): ops record no graph
serial_numbers = itertools.count(1)  # every tensor gets the next one when it is made


class no_grad:
    """Context manager: the ops run inside record no graph, so nothing there can be differentiated."""

    def __enter__(self):
        global grad_enabled
        self.previous, grad_enabled = grad_enabled, False

    def __exit__(self, *exc):
        global grad_enabled
        grad_enabled = self.previous


def as_array(data, dtype=None):
    """The float array a tensor holds: floats keep their dtype, bools and integers become float64."""
    array = np.asarray(data._data if isinstance(data, Tensor) else data)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    elif array.dtype.kind != "f":
        raise TypeError(f"Tensor: cannot hold {type(data).__name__} data of dtype {array.dtype}; "
                        "give real numbers (float64, float32, int or bool)")
    if dtype is not None:
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"Tensor: dtype must be a float type, got {np.dtype(dtype)}")
        array = array.astype(dtype, copy=False)
    return array


class Tensor:
    __slots__ = ("_data", "grad", "requires_grad", "retains_grad", "op", "inputs", "name", "module",
                 "serial", "written_at", "base", "__weakref__")

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        """A leaf tensor. An ndarray of the right dtype is used as is, not copied."""
        self._data = as_array(data, dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.retains_grad = False       # a leaf keeps its .grad anyway
        self.op, self.inputs = None, ()
        self.name, self.module = name, None
        self.serial = next(serial_numbers)
        self.written_at = 0
        self.base = writes.memory_owner(data) if isinstance(data, Tensor) else None

    @property
    def data(self):
        """The numpy array. Assigning it (`t.data = a`, and so `t.data += 1`) is an in-place write
        that backward sees. Writing into the array itself (`t.data[0] = 1`, or into an array you
        took out) is numpy's business and goes unseen: write `with no_grad(): t[0] = 1` instead."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = as_array(value)
        self.mark_written()

    def mark_written(self):
        """Stamp an in-place write into this tensor's memory (see writes.py)."""
        writes.stamp(self, next(serial_numbers))

    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    size = property(lambda self: self._data.size)

    def item(self):
        return self._data.item()

    def numpy(self):
        return self._data

    def detach(self):
        """The same memory, cut from the graph (a write into either is a write into both)."""
        return Tensor(self)

    def __array__(self, dtype=None, copy=None):
        """The values, for numpy functions (np.ravel(t), np.asarray(t)); refused for a tensor that
        requires grad, as in PyTorch: numpy would silently drop it from the graph."""
        if self.requires_grad:
            raise TypeError(f"numpy cannot differentiate: this tensor (shape {self.shape}) requires grad; "
                            "use its own methods (t.sum(), t.exp(), ...) or np.asarray(t.detach()) for "
                            "the values alone")
        return np.array(self._data, dtype=dtype, copy=copy)

    def __array_ufunc__(self, ufunc, method, *args, **kwargs):
        """numpy ufuncs with a vjp here run as ops (np.exp(t) is t.exp(), ndarray + t is a Tensor);
        any other ufunc, method (reduce, at, ...) or keyword (out=, where=) is a TypeError."""
        operation = NUMPY_UFUNCS.get(ufunc)
        if operation is None or method != "__call__" or kwargs:
            called = f"np.{ufunc.__name__}" + (f".{method}" if method != "__call__" else "")
            given = f" with {', '.join(kwargs)}=" if kwargs else ""
            raise TypeError(f"{called}{given} on a Tensor: not an op of tinygrad_vg (no vjp); supported: "
                            f"{', '.join(sorted('np.' + u.__name__ for u in NUMPY_UFUNCS))}, called "
                            "plainly; use t.data for the values alone")
        return operation(*args)

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"bool: a tensor of shape {self.shape} has no single truth value; "
                             "use (t > 0).any() or .all()")
        return bool(self._data)

    __hash__ = object.__hash__      # == is elementwise, so a tensor hashes by identity, as in PyTorch

    def zero_grad(self):
        self.grad = None

    def retain_grad(self):
        """Ask backward to keep this intermediate's .grad too (as PyTorch's retain_grad; a no-op on a leaf)."""
        if not self.requires_grad:
            raise RuntimeError(f"retain_grad: this tensor (shape {self.shape}) does not require grad, so "
                               "backward gives it no gradient to keep")
        self.retains_grad = self.op is not None

    def __repr__(self):
        values = np.array2string(self.data, precision=4, threshold=20, separator=", ")
        made_by = f", op={self.op.name}" if self.op is not None else ""
        flags = ", requires_grad=True" if self.requires_grad else ""
        named = f", name={self.name!r}" if self.name else ""
        return f"Tensor({values}{flags}{made_by}{named})"

    def backward(self, grad=None, retain_grads=None):
        """Accumulate d(self)/d(node) into `.grad` of the leaves of the graph that require grad.

        One sweep in reverse topological order (`sweep_order`, taken from its end): when a node is
        reached, every node that used it has already sent its share, so its gradient is complete
        and can be passed on through its op's vjp. `.grad` adds up across calls (zero_grad() clears
        it). A leaf's `.grad` is writable and never shares memory with another leaf's; an
        intermediate's may be a view of its neighbour's: read it, don't write into it.

        Which tensors keep `.grad`, besides the leaves:
          None (default)  self, and each intermediate that asked with retain_grad() (as in PyTorch)
          True            every tensor that requires grad: all intermediates too
          False           none (a training loop's step): and the graph is freed as it is swept
        An intermediate's gradient is otherwise freed once passed on: keeping them all costs as much
        memory as the values again and, under glibc's malloc, page faults every step (benchmarks/run.py,
        W1 width 256: 1.79x numpy's peak memory). retain_grads=False also cuts each node from the
        graph once swept (its op, with the arrays its vjp saved, and its inputs), as PyTorch frees
        its graph after backward: tensors you still hold keep their `.data`; a second backward
        through them raises.
        """
        if not self.requires_grad:
            raise RuntimeError(f"backward: this tensor (shape {self.shape}) does not require grad; "
                               "make its inputs with requires_grad=True")
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward: output has shape {self.shape}; pass grad= of that shape "
                                   "(only a one-element output has the implicit grad 1)")
            grad = np.ones_like(self._data)
        else:
            grad = np.array(as_array(grad), dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape} but the output has shape {self.shape}")
        pending = {id(self): grad}        # id(node) -> this sweep's gradient so far
        summed = set()                    # ids whose pending gradient is a sum made here: ours to add into
        given_to_leaves = set()           # memory already handed to a leaf's .grad in this sweep
        order = sweep_order(self)
        keep_all, keep_asked = bool(retain_grads), retain_grads is None
        last_change, checking = writes.last_change, anomaly.enabled    # neither changes during the sweep
        while order:
            node = order.pop()            # the list lets go of each node once it is swept
            if node.op is released:
                raise RuntimeError("backward: part of this graph was freed by an earlier "
                                   "backward(retain_grads=False); run the forward pass again "
                                   "(backward() keeps the graph unless told retain_grads=False)")
            g = pending.pop(id(node), None)
            if g is None:                 # a constant: nothing flows into it
                continue
            if node.op is None:
                owner = id(g if g.base is None else g.base)
                if owner in given_to_leaves or not g.flags.writeable:   # shared, a broadcast view or a scalar
                    g = np.array(g)
                given_to_leaves.add(owner)
            elif node.serial < last_change:
                writes.refuse_stale(node)
            if node.op is None or keep_all or (keep_asked and (node.retains_grad or node is self)):
                node.grad = g if node.grad is None else node.grad + g
            for i, parent in enumerate(node.inputs):
                if parent.requires_grad:
                    contribution = node.op.vjp(g, i)
                    if contribution.dtype is not parent._data.dtype:     # numpy's dtypes are shared: mostly `is`
                        contribution = contribution.astype(parent._data.dtype, copy=False)
                    if checking:
                        anomaly.check(node.op, [x._data for x in node.inputs], contribution, "backward",
                                      node.module, cotangent=g, position=i)
                    key = id(parent)
                    if key not in pending:
                        pending[key] = contribution       # may be a view of g: never written into
                    elif key in summed:
                        pending[key] += contribution
                    else:
                        pending[key] = pending[key] + contribution
                        summed.add(key)
            if retain_grads is False and node.op is not None:
                node.op, node.inputs = released, ()

    # ---- operators: Tensors, ndarrays and Python numbers on either side ----
    def __add__(self, other): return apply(ops.Add(), self, lift(other, self))
    def __radd__(self, other): return apply(ops.Add(), lift(other, self), self)
    def __sub__(self, other): return apply(ops.Sub(), self, lift(other, self))
    def __rsub__(self, other): return apply(ops.Sub(), lift(other, self), self)
    def __mul__(self, other): return apply(ops.Mul(), self, lift(other, self))
    def __rmul__(self, other): return apply(ops.Mul(), lift(other, self), self)
    def __truediv__(self, other): return apply(ops.Div(), self, lift(other, self))
    def __rtruediv__(self, other): return apply(ops.Div(), lift(other, self), self)
    def __pow__(self, other): return apply(ops.Pow(), self, lift(other, self))
    def __rpow__(self, other): return apply(ops.Pow(), lift(other, self), self)
    def __matmul__(self, other): return apply(ops.MatMul(), self, lift(other, self))
    def __rmatmul__(self, other): return apply(ops.MatMul(), lift(other, self), self)
    def __neg__(self): return apply(ops.Neg(), self)
    def __abs__(self): return apply(ops.Abs(), self)

    # comparisons are elementwise and give plain boolean arrays (masks for `where` and indexing),
    # not differentiable tensors
    def __eq__(self, other): return self.compare(np.equal, other)
    def __ne__(self, other): return self.compare(np.not_equal, other)
    def __gt__(self, other): return self.compare(np.greater, other)
    def __ge__(self, other): return self.compare(np.greater_equal, other)
    def __lt__(self, other): return self.compare(np.less, other)
    def __le__(self, other): return self.compare(np.less_equal, other)

    def compare(self, ufunc, other):
        try:
            other = lift(other, self)
        except TypeError:
            return NotImplemented       # t == None is False, t < "a" a TypeError, as for any object
        try:
            return ufunc(self._data, other._data)
        except ValueError as error:
            raise ValueError(f"{ufunc.__name__}: {error} (shapes {self.shape} and {other.shape})") from None

    # ---- in-place: t += x, as in PyTorch ----
    def __iadd__(self, other): return self.in_place("+=", ops.Add, other)
    def __isub__(self, other): return self.in_place("-=", ops.Sub, other)
    def __imul__(self, other): return self.in_place("*=", ops.Mul, other)
    def __itruediv__(self, other): return self.in_place("/=", ops.Div, other)

    def __setitem__(self, index, value):
        self.in_place("setitem", None, value, index)

    def in_place(self, what, op, value, index=None):
        """self op= value (or self[index] = value, for op None).

        Where no graph is recorded through it (inside no_grad(), which is how parameters are updated,
        or on tensors that do not require grad), the result is written into self's own array and
        the write stamped. Where one is, the op is recorded as a new node that this Python object
        becomes (`rebind`); a leaf that requires grad refuses, as in PyTorch."""
        value = lift(value, self)
        if grad_enabled and (self.requires_grad or value.requires_grad):
            if self.requires_grad and self.op is None:
                raise RuntimeError(f"{what}: this leaf tensor (shape {self.shape}) requires grad, and writing "
                                   "into it would hide the change from backward; update parameters inside "
                                   "`with no_grad():`, as in PyTorch")
            if op is None:
                raise RuntimeError(f"setitem: assigning into a tensor of a recorded graph (shape {self.shape}) "
                                   "is not recorded here; build the new tensor with where() or concatenate()")
            return self.rebind(op(), value)
        try:
            if op is None:
                self._data[index] = value._data
            else:
                op.compute(self._data, value._data, out=self._data)
        except (ValueError, IndexError, TypeError) as error:
            raise type(error)(f"{what}: {error} (tensor {self.shape} {self.dtype}, "
                              f"value {value.shape} {value.dtype})") from None
        self.mark_written()
        return self

    def rebind(self, op, value):
        """Record `self = op(self, value)` keeping this Python object: what self was moves to a new
        tensor `previous`, the op's output is made from it, and self takes that output's place.
        Edges of value's graph that pointed to self are re-pointed to previous, so `c += c + 1` is
        c = c + (c + 1). A node made earlier that used self still points to this object, which is
        now a later node: backward sees that edge run backwards in time and raises (PyTorch would
        follow it to the old value, whose memory it overwrote)."""
        previous = Tensor.__new__(Tensor)
        for slot in NODE_SLOTS:
            setattr(previous, slot, getattr(self, slot))
        value = previous if value is self else value
        writes.repoint(value, self, previous)
        result = apply(op, previous, value)
        for slot in NODE_SLOTS:
            setattr(self, slot, getattr(result, slot))
        self.name, self.retains_grad, previous.retains_grad = previous.name, previous.retains_grad, False
        writes.note_change(next(serial_numbers))     # backward checks the nodes made before
        return self

    # ---- elementwise ----
    def exp(self): return apply(ops.Exp(), self)
    def log(self): return apply(ops.Log(), self)
    def sqrt(self): return apply(ops.Sqrt(), self)
    def tanh(self): return apply(ops.Tanh(), self)
    def sigmoid(self): return apply(ops.Sigmoid(), self)
    def relu(self): return apply(ops.ReLU(), self)
    def abs(self): return apply(ops.Abs(), self)

    # ---- reductions (np.sum(t), np.mean(t), np.max(t) call these, passing out= and dtype=) ----
    def sum(self, axis=None, keepdims=False, dtype=None, out=None):
        refuse_numpy_options("sum", dtype, out)
        return apply(ops.Sum(as_axis(axis), keepdims), self)

    def mean(self, axis=None, keepdims=False, dtype=None, out=None):
        refuse_numpy_options("mean", dtype, out)
        return apply(ops.Mean(as_axis(axis), keepdims), self)

    def max(self, axis=None, keepdims=False, out=None):
        refuse_numpy_options("max", None, out)
        return apply(ops.Max(as_axis(axis), keepdims), self)

    def logsumexp(self, axis=None, keepdims=False):
        return apply(ops.LogSumExp(as_axis(axis), keepdims), self)

    def log_softmax(self, axis=-1):
        return apply(ops.LogSoftmax(axis), self)

    def softmax(self, axis=-1):
        return apply(ops.Softmax(axis), self)

    # ---- shape ----
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return apply(ops.Reshape(tuple(shape)), self)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return apply(ops.Transpose(tuple(axes) or None), self)

    T = property(lambda self: apply(ops.Transpose(), self))

    def __getitem__(self, index):
        if any(isinstance(part, Tensor) for part in (index if isinstance(index, tuple) else (index,))):
            raise TypeError("getitem: a Tensor index holds floats (every tensor here does), so it cannot "
                            "say whether it is a mask or positions; index with a numpy array: booleans "
                            "mask (t > 0 gives one), integers pick")
        return apply(ops.GetItem(index), self)

    def broadcast_to(self, shape):
        return apply(ops.BroadcastTo(tuple(shape)), self)


NODE_SLOTS = [slot for slot in Tensor.__slots__ if slot != "__weakref__"]


def refuse_numpy_options(name, dtype, out):
    if dtype is not None or out is not None:
        raise TypeError(f"{name}: numpy's dtype= and out= are not supported on tensors "
                        f"(got dtype={dtype}, out={type(out).__name__ if out is not None else None})")


def as_axis(axis):
    """numpy takes an int, a tuple or None as axis; a list becomes a tuple."""
    return tuple(axis) if isinstance(axis, list) else axis


def lift(value, like):
    """A Tensor for an operand. A Python number takes `like`'s dtype, as numpy treats Python scalars
    (float32 * 2 stays float32); everything else follows the Tensor constructor's rules."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, np.generic):   # np.float64 is strong
        return Tensor(np.asarray(value, dtype=like._data.dtype))
    return Tensor(value)


def apply(op, *inputs):
    """Run `op` forward on the inputs' arrays and wrap the result, recording the graph if needed."""
    arrays = [x._data for x in inputs]
    try:
        data = op.forward(*arrays)
    except (ValueError, IndexError) as error:
        shapes = ", ".join(f"{x.shape} {x.dtype}" for x in inputs)
        raise type(error)(f"{op.name}: {error} (inputs: {shapes})") from None
    out = Tensor.__new__(Tensor)
    out._data = data if type(data) is np.ndarray else np.asarray(data)   # ufuncs give 0-d results as scalars
    out.grad = out.name = out.module = None
    out.retains_grad = False
    out.serial = next(serial_numbers)
    out.written_at = 0
    out.base = writes.memory_owner(inputs[0]) if op.is_view and np.may_share_memory(data, arrays[0]) else None
    out.requires_grad = grad_enabled and any([x.requires_grad for x in inputs])
    if out.requires_grad:
        out.op, out.inputs = op, inputs
    else:
        out.op, out.inputs = None, ()
    if anomaly.enabled:
        out.module = anomaly.current_module()
        anomaly.check(op, arrays, out._data, "forward", out.module)
    return out


def sweep_order(root):
    """The nodes of root's graph in the order its tensors were made, root last; backward visits
    them from the end. A tensor is made after its inputs, so this is a topological order; and taken
    from the end it is the forward pass run backwards, as a hand-written backward runs. In an RNN
    step tanh(x @ U.T + h @ W.T + b) the sweep finishes the step (U.T and W.T pass their gradients
    on to U and W) before it goes on to h, instead of holding x @ U.T's gradient until every earlier
    step is done, which a depth-first order with either fixed order of inputs would do to U.T or W.T."""
    return sorted(graph.reachable(root), key=operator.attrgetter("serial"))


class Released(ops.Op):
    """The op of a tensor whose graph backward(retain_grads=False) has freed: it has no inputs and
    nothing to differentiate."""
    name = "released"


released = Released()


def lift_pair(a, b):
    """Tensors for two operands, a Python number taking the dtype of the other side."""
    if isinstance(a, Tensor):
        return a, lift(b, a)
    if isinstance(b, Tensor):
        return lift(a, b), b
    return Tensor(a), Tensor(b)


def concatenate(tensors, axis=0):
    return apply(ops.Concatenate(axis), *[t if isinstance(t, Tensor) else Tensor(t) for t in tensors])


def stack(tensors, axis=0):
    """Join along a new axis: give each tensor a size-1 axis there, then concatenate."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors or any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: needs one or more tensors of one shape, got shapes {[t.shape for t in tensors]}")
    ndim = tensors[0].ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack: axis {axis} is out of range for {ndim - 1}-D inputs")
    axis %= ndim
    return concatenate([t.reshape(t.shape[:axis] + (1,) + t.shape[axis:]) for t in tensors], axis)


def maximum(a, b):
    """Elementwise max; where a == b the gradient is split in halves."""
    return apply(ops.Maximum(), *lift_pair(a, b))


def where(condition, a, b):
    """a where condition holds, else b. The condition is a constant mask, not differentiated."""
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    return apply(ops.Where(condition), *lift_pair(a, b))


def numpy_binary(operation):
    """A numpy ufunc of two operands as our operator: either side may be an ndarray or a scalar."""
    return lambda a, b: operation(*lift_pair(a, b))


NUMPY_UFUNCS = {
    np.add: numpy_binary(operator.add), np.subtract: numpy_binary(operator.sub),
    np.multiply: numpy_binary(operator.mul), np.divide: numpy_binary(operator.truediv),
    np.power: numpy_binary(operator.pow), np.matmul: numpy_binary(operator.matmul),
    np.maximum: maximum, np.equal: numpy_binary(operator.eq), np.not_equal: numpy_binary(operator.ne),
    np.greater: numpy_binary(operator.gt), np.greater_equal: numpy_binary(operator.ge),
    np.less: numpy_binary(operator.lt), np.less_equal: numpy_binary(operator.le),
    np.negative: Tensor.__neg__, np.absolute: Tensor.abs, np.exp: Tensor.exp, np.log: Tensor.log,
    np.sqrt: Tensor.sqrt, np.tanh: Tensor.tanh,
}
