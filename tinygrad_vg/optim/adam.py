"""Adam, and AdamW (Adam with decoupled weight decay)."""
import math

import numpy as np

from .optimizer import Optimizer, check_non_negative


class Adam(Optimizer):
    """torch.optim.Adam's rule, per parameter, with gradient g at step t = 1, 2, ...:

        g <- g + weight_decay p                      (L2 penalty, coupled: it passes through m and v)
        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2            (m_0 = v_0 = 0)
        m_hat = m / (1 - b1^t),   v_hat = v / (1 - b2^t)     (v_hat uses max(v_1..v_t) if amsgrad)
        p <- p - lr m_hat / (sqrt(v_hat) + eps)

    The first step is p <- p - lr g / (|g| + eps) elementwise: a step of about lr whatever the
    gradient's size, unless |g| is near eps or below it, where the step shrinks to lr |g| / eps.
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps})
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        check_non_negative({"weight_decay value": weight_decay})
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "maximize": maximize})

    def update(self, p, g, state, group):
        lr, (b1, b2), decay = group["lr"], group["betas"], group["weight_decay"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        if decay != 0:
            if self.decoupled_weight_decay:
                p.data *= 1 - lr * decay
            else:
                g = g + decay * p.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        t = state["step"]
        denominator = np.sqrt(v) / math.sqrt(1 - b2 ** t) + group["eps"]
        p.data -= lr / (1 - b1 ** t) * (m / denominator)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), torch.optim.AdamW's rule:

        p <- p (1 - lr weight_decay)                 (first, and outside m and v)
        then Adam's step with the undecayed gradient g.

    Under Adam's weight_decay the penalty's gradient is divided by sqrt(v_hat) like the loss's, so
    weights with large gradients are barely decayed; here every weight shrinks by the same factor.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
