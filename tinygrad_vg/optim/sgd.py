"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov's variant."""
import numpy as np

from .optimizer import Optimizer, check_non_negative


class SGD(Optimizer):
    """torch.optim.SGD's rule, per parameter, with gradient g:

        g <- g + weight_decay p                      (if weight_decay != 0: the L2 penalty's gradient)
        b <- g on the first step,                    (if momentum != 0; no dampening on that step)
        b <- momentum b + (1 - dampening) g          after it
        g <- g + momentum b  (nesterov)   or   g <- b
        p <- p - lr g

    With momentum mu and no dampening, b = g_t + mu g_(t-1) + mu^2 g_(t-2) + ...: the step sums
    past gradients, up to 1 / (1 - mu) times a steady gradient. The course's momentum
    v <- beta v + (1 - beta) g (v_0 = 0), p <- p - alpha v is exactly SGD(lr=alpha (1 - beta),
    momentum=beta): by induction v_t = (1 - beta) b_t. dampening=beta is *not* it: its first step
    is b_1 = g_1, so b_t - v_t = beta^t g_1.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        check_non_negative({"learning rate": lr, "momentum value": momentum, "weight_decay value": weight_decay})
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize})

    def update(self, p, g, state, group):
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.data
        momentum = group["momentum"]
        if momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.array(g)  # a copy (g may be p.grad), 0-d an array
            else:
                b *= momentum
                b += (1 - group["dampening"]) * g
            g = g + momentum * b if group["nesterov"] else b
        p.data -= group["lr"] * g
