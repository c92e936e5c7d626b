"""The workloads of issue 6, each written twice, and one step of each for every implementation.

`loss(params, data, m)` is the model as an autodiff engine sees it. It is written once, with
Python operators and the functions of `m` (`namespace(...)`: tanh, exp and linear, the layer
x @ W.T + b, in tinygrad_vg, torch, autograd.numpy or numpy), so every engine differentiates the same
computation, each with its own primitives.

`numpy_grads(params, data)` is the same model with its backward pass written out by hand: the
forward pass keeps what the backward pass needs, then the chain rule runs from the loss back to
the parameters. This is the baseline the engines are timed against, and reading it beside `loss`
shows what reverse mode automates.
"""
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str
    make: Callable          # make() -> (params, data): fresh arrays, the same on every call
    loss: Callable          # loss(params, data, m) -> scalar
    numpy_grads: Callable   # numpy_grads(params, data) -> [dloss/dparam for each param]
    lr: float | None = None  # when set, a step ends with the SGD update  p -= lr * dloss/dp
    ops: int | None = None  # elementwise ops per step, for microseconds per op


def by_operators(x, W, b=None):
    """The layer x @ W.T + b written with operators: what an engine records without a linear op
    (autograd has none; numpy needs none), a matmul node and an add node in the others."""
    return x @ W.T if b is None else x @ W.T + b


def spelt(layer, loss, operators):
    """(name suffix, loss) of a model whose layers call m.linear: as written (layer="linear"), or
    with every m.linear replaced by by_operators (layer="operators", the suffix shows `operators`)."""
    if layer == "linear":
        return "", loss
    if layer == "operators":
        return f" ({operators})", lambda params, data, m: loss(params, data, SimpleNamespace(tanh=m.tanh,
                                                                                             linear=by_operators))
    raise ValueError(f"layer must be 'linear' or 'operators', got {layer!r}")


def namespace(engine):
    """The functions a workload's loss calls, in one engine."""
    if engine == "tinygrad_vg":
        from tinygrad_vg import Tensor
        from tinygrad_vg.nn.functional import linear
        return SimpleNamespace(tanh=Tensor.tanh, exp=Tensor.exp, linear=linear)
    if engine == "torch":
        import torch
        return SimpleNamespace(tanh=torch.tanh, exp=torch.exp, linear=torch.nn.functional.linear)
    if engine == "autograd":
        import autograd.numpy as anp
        return SimpleNamespace(tanh=anp.tanh, exp=anp.exp, linear=by_operators)
    return SimpleNamespace(tanh=np.tanh, exp=np.exp, linear=by_operators)


# ---------------------------------------------------------------------------------------------
# W1: deep tanh MLP.  h_0 = x;  z_l = h_{l-1} @ W_l.T + b_l;  h_l = tanh(z_l);
#     loss = mean((h_L - target)^2)
# Each layer is m.linear, as nn.Linear runs it (one node in tinygrad_vg and torch); with
# layer="operators" it is h @ W.T + b, as a hand-written model spells it (a matmul and an add).

def mlp(depth, width, batch, dtype=np.float64, seed=0, layer="linear"):
    def make():
        rng = np.random.default_rng(seed)
        params = []
        for _ in range(depth):
            # sigma_w = 1 (W ~ N(0, 1/fan_in)), sigma_b = 0.1: signals neither vanish nor saturate
            params += [rng.normal(0.0, width ** -0.5, (width, width)), rng.normal(0.0, 0.1, width)]
        data = {"x": rng.normal(size=(batch, width)), "target": rng.uniform(-0.5, 0.5, (batch, width))}
        return [p.astype(dtype) for p in params], {k: v.astype(dtype) for k, v in data.items()}

    suffix, loss = spelt(layer, mlp_loss, "h @ W.T + b")
    return Workload(f"W1 mlp L{depth} w{width} {np.dtype(dtype).name}{suffix}", make, loss, mlp_numpy_grads, lr=0.01)


def mlp_loss(params, data, m):
    h = data["x"]
    for W, b in zip(params[0::2], params[1::2]):
        h = m.tanh(m.linear(h, W, b))
    return ((h - data["target"]) ** 2).mean()


def mlp_numpy_grads(params, data):
    weights, biases = params[0::2], params[1::2]
    hs = [data["x"]]
    for W, b in zip(weights, biases):
        hs.append(np.tanh(hs[-1] @ W.T + b))
    # loss = mean((h_L - target)^2)  =>  dloss/dh_L = 2 (h_L - target) / h_L.size
    g = (2 / hs[-1].size) * (hs[-1] - data["target"])
    grads = [None] * len(params)
    for l in reversed(range(len(weights))):
        gz = g * (1 - hs[l + 1] ** 2)          # tanh'(z) = 1 - tanh(z)^2
        grads[2 * l] = gz.T @ hs[l]            # dz/dW: each row of W meets h_{l-1}
        grads[2 * l + 1] = gz.sum(axis=0)      # b was broadcast over the batch
        g = gz @ weights[l]
    return grads


# ---------------------------------------------------------------------------------------------
# W2: a long chain of cheap elementwise ops on a small vector, 4 ops per round:
#     x <- exp(tanh(x * a + b));  loss = sum(x).  exp only ever sees tanh's output, so it stays finite.

def elementwise_chain(n_ops, size=16, seed=0):
    if n_ops % 4:
        raise ValueError(f"elementwise_chain: n_ops={n_ops} is not a multiple of 4 ops per round")

    def make():
        rng = np.random.default_rng(seed)
        params = [rng.uniform(0.5, 1.0, size), rng.uniform(-0.5, 0.5, size)]
        return params, {"x": rng.uniform(-1.0, 1.0, size), "rounds": n_ops // 4}

    return Workload(f"W2 elementwise {n_ops} ops ({size},)", make,
                    elementwise_chain_loss, elementwise_chain_numpy_grads, ops=n_ops)


def elementwise_chain_loss(params, data, m):
    a, b = params
    x = data["x"]
    for _ in range(data["rounds"]):
        x = m.exp(m.tanh(x * a + b))
    return x.sum()


def elementwise_chain_numpy_grads(params, data):
    a, b = params
    xs, ts = [data["x"]], []
    for _ in range(data["rounds"]):
        ts.append(np.tanh(xs[-1] * a + b))
        xs.append(np.exp(ts[-1]))
    g = np.ones_like(xs[-1])                   # loss = sum(x)
    ga, gb = np.zeros_like(a), np.zeros_like(b)
    for x_in, t, y in zip(reversed(xs[:-1]), reversed(ts), reversed(xs[1:])):
        gz = g * y * (1 - t ** 2)              # exp' = exp, tanh' = 1 - tanh^2
        ga += gz * x_in
        gb += gz
        g = gz * a
    return [ga, gb]


# ---------------------------------------------------------------------------------------------
# W3: a deep scalar chain, 3 ops per step:  x <- tanh(x * a + b);  loss = x.
#     a and b are used at every step, so their gradients sum over all steps.

def scalar_chain(steps):
    def make():
        return [np.array(0.8), np.array(0.2)], {"x": np.array(0.5), "steps": steps}

    return Workload(f"W3 scalar chain {steps:,} steps", make,
                    scalar_chain_loss, scalar_chain_numpy_grads, ops=3 * steps)


def scalar_chain_loss(params, data, m):
    a, b = params
    x = data["x"]
    for _ in range(data["steps"]):
        x = m.tanh(x * a + b)
    return x


def scalar_chain_numpy_grads(params, data):
    a, b = params
    xs = [data["x"]]
    for _ in range(data["steps"]):
        xs.append(np.tanh(xs[-1] * a + b))
    g, ga, gb = 1.0, 0.0, 0.0                  # loss = x_N
    for x_in, y in zip(reversed(xs[:-1]), reversed(xs[1:])):
        gz = g * (1 - y ** 2)
        ga += gz * x_in
        gb += gz
        g = gz * a
    return [np.asarray(ga), np.asarray(gb)]


# ---------------------------------------------------------------------------------------------
# W4: vanilla tanh RNN over T steps, backpropagation through time.
#     h_0 = 0;  h_t = tanh(x_t @ U.T + h_{t-1} @ W.T + b);  loss = mean((h_T - target)^2)
#     (loss on the final state only: the gradient has to travel back through all T steps)

def rnn(steps, hidden, batch, n_in, seed=0, layer="linear"):
    def make():
        rng = np.random.default_rng(seed)
        params = [rng.normal(0.0, n_in ** -0.5, (hidden, n_in)),
                  rng.normal(0.0, hidden ** -0.5, (hidden, hidden)),
                  rng.normal(0.0, 0.1, hidden)]
        data = {"xs": [rng.normal(size=(batch, n_in)) for _ in range(steps)],
                "h0": np.zeros((batch, hidden)),
                "target": rng.uniform(-0.5, 0.5, (batch, hidden))}
        return params, data

    suffix, loss = spelt(layer, rnn_loss, "x @ U.T + h @ W.T + b")
    return Workload(f"W4 rnn T{steps} h{hidden} b{batch}{suffix}", make, loss, rnn_numpy_grads, lr=0.01)


def rnn_loss(params, data, m):
    """What nn.RNN runs: h <- tanh(linear(x, U) + linear(h, W, b))."""
    U, W, b = params
    h = data["h0"]
    for x in data["xs"]:
        h = m.tanh(m.linear(x, U) + m.linear(h, W, b))
    return ((h - data["target"]) ** 2).mean()


def rnn_numpy_grads(params, data):
    U, W, b = params
    xs, hs = data["xs"], [data["h0"]]
    for x in xs:
        hs.append(np.tanh(x @ U.T + hs[-1] @ W.T + b))
    g = (2 / hs[-1].size) * (hs[-1] - data["target"])
    gU, gW, gb = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b)
    for t in reversed(range(len(xs))):
        gz = g * (1 - hs[t + 1] ** 2)
        gU += gz.T @ xs[t]                     # the same U and W at every step: gradients add up
        gW += gz.T @ hs[t]
        gb += gz.sum(axis=0)
        g = gz @ W                             # on to h_{t-1}
    return [gU, gW, gb]


# ---------------------------------------------------------------------------------------------
# One step of a workload in each implementation. Each `*_step(workload)` sets up its own fresh
# copy of the parameters and returns step() -> list of gradients (as numpy arrays). A step is
# forward + backward, then the SGD update when the workload has a learning rate.

def sgd_update(params, grads, lr):
    if lr is not None:
        for p, g in zip(params, grads):
            p -= lr * g


def to_each_array(data, convert):
    """Apply convert to every array in data (values are arrays, lists of arrays, or ints)."""
    def one(value):
        if isinstance(value, list):
            return [convert(v) for v in value]
        return convert(value) if isinstance(value, np.ndarray) else value
    return {key: one(value) for key, value in data.items()}


def numpy_step(workload):
    params, data = workload.make()

    def step():
        grads = workload.numpy_grads(params, data)
        sgd_update(params, grads, workload.lr)
        return grads
    return step


def tinygrad_vg_step(workload, default_path=False):
    """The training path, backward(retain_grads=False), or with default_path the plain
    loss.backward() a user's loop calls (which keeps the graph until the loss is dropped)."""
    from tinygrad_vg import Tensor
    params, data = workload.make()
    params = [Tensor(p, requires_grad=True) for p in params]
    data = to_each_array(data, Tensor)
    m = namespace("tinygrad_vg")

    def step():
        for p in params:
            p.zero_grad()
        if default_path:
            workload.loss(params, data, m).backward()
        else:   # a training step: leaves' grads only, the graph freed as it is swept
            workload.loss(params, data, m).backward(retain_grads=False)
        grads = [p.grad for p in params]
        sgd_update([p.data for p in params], grads, workload.lr)
        return grads
    return step


def torch_step(workload):
    import torch
    params, data = workload.make()
    params = [torch.tensor(p, requires_grad=True) for p in params]
    data = to_each_array(data, torch.from_numpy)

    m = namespace("torch")

    def step():
        for p in params:
            p.grad = None
        workload.loss(params, data, m).backward()
        grads = [p.grad for p in params]
        sgd_update([p.data for p in params], grads, workload.lr)
        return [g.numpy() for g in grads]
    return step


def autograd_step(workload):
    import autograd
    params, data = workload.make()
    m = namespace("autograd")
    loss_grads = autograd.grad(lambda params: workload.loss(params, data, m))

    def step():
        grads = loss_grads(params)
        sgd_update(params, grads, workload.lr)
        return grads
    return step


# The baseline first; the optional peers raise ImportError when they are not installed.
IMPLEMENTATIONS = {"numpy": numpy_step, "tinygrad_vg": tinygrad_vg_step,
                   "torch": torch_step, "autograd": autograd_step}
