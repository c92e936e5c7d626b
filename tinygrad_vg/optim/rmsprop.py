"""RMSprop: each gradient divided by the running root mean square of its own past values."""
import numpy as np

from .optimizer import Optimizer, check_non_negative


class RMSprop(Optimizer):
    """torch.optim.RMSprop's rule, per parameter, with gradient g:

        g <- g + weight_decay p                      (if weight_decay != 0)
        v <- alpha v + (1 - alpha) g^2                                      (v_0 = 0)
        d = sqrt(v) + eps,  or  d = sqrt(v - gbar^2) + eps with gbar <- alpha gbar + (1 - alpha) g
            when centered (gbar_0 = 0: the running variance instead of the running mean square)
        b <- momentum b + g / d,  p <- p - lr b      (if momentum > 0; b_0 = 0, unlike SGD's)
        p <- p - lr g / d                            (otherwise)

    No bias correction: v_1 = (1 - alpha) g^2, so at the default alpha = 0.99 the first step is
    lr g / (0.1 |g| + eps), about 10 lr elementwise: ten times Adam's first step at the same lr.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps, "momentum value": momentum,
                            "weight_decay value": weight_decay, "alpha value": alpha})
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered, "maximize": maximize})

    def update(self, p, g, state, group):
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data))
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.data
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            gbar = state["grad_avg"]
            gbar *= alpha
            gbar += (1 - alpha) * g
            d = np.sqrt(v - gbar * gbar) + group["eps"]
        else:
            d = np.sqrt(v) + group["eps"]
        if momentum > 0:
            b = state["momentum_buffer"]
            b *= momentum
            b += g / d
            p.data -= group["lr"] * b
        else:
            p.data -= group["lr"] * (g / d)
