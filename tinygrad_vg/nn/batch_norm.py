"""BatchNorm1d: each channel normalised over the batch, built from engine ops (so its gradient,
through the batch mean and variance, comes from ops.py), with PyTorch's rules for the modes.

For an input of shape (N, C), or (N, C, L), with n = N (or N * L) values per channel c:
    y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
Training mode takes mean_c and the biased var_c = mean((x - mean_c)^2) from the batch, so every
output depends on every input of its channel, and updates the running estimates (buffers, outside
the graph) with the unbiased variance, var_c * n / (n - 1):
    running = (1 - f) * running + f * batch statistic,   f = momentum,
or f = 1 / num_batches_tracked when momentum is None (the running value is then the plain average
of the batches so far). Evaluation mode takes mean_c and var_c from the running estimates, so the
module is a fixed affine map of x. With track_running_stats=False there are no running estimates
and both modes use the batch. Using the batch needs n > 1: one value has no spread to divide by.
"""
import numpy as np

from ..tensor import Tensor, no_grad
from .module import Module


class BatchNorm1d(Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=np.float64):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Tensor(np.ones(num_features, dtype=dtype), requires_grad=True)
            self.bias = Tensor(np.zeros(num_features, dtype=dtype), requires_grad=True)
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
            self.num_batches_tracked = 0    # an int, where PyTorch keeps a 0-d int64 tensor: tensors here hold floats
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.num_batches_tracked = None

    def forward(self, x):
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {x.ndim}D input of shape {x.shape})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: input of shape {x.shape} has {x.shape[1]} channels (axis 1), "
                             f"but num_features is {self.num_features}")
        axes = (0,) if x.ndim == 2 else (0, 2)

        def per_channel(t):                 # (C,) broadcast against (N, C) or (N, C, L)
            return t if x.ndim == 2 else t.reshape(self.num_features, 1)

        if self.training or self.running_mean is None:
            n = x.size // self.num_features
            if n == 1:
                raise ValueError(f"BatchNorm1d: expected more than 1 value per channel when training, got input "
                                 f"of shape {x.shape}: a single value normalises to 0 and has no unbiased variance "
                                 "(in eval() mode the running statistics normalise one example)")
            mean = x.mean(axis=axes, keepdims=True)
            centred = x - mean
            variance = (centred * centred).mean(axis=axes, keepdims=True)
            if self.training and self.track_running_stats and self.running_mean is not None:
                self.update_running_stats(mean, variance, n)
        else:
            centred = x - per_channel(self.running_mean)
            variance = per_channel(self.running_var)
        y = centred / (variance + self.eps).sqrt()
        return y if self.weight is None else y * per_channel(self.weight) + per_channel(self.bias)

    def update_running_stats(self, mean, variance, n):
        """running = (1 - f) running + f batch, in place and outside the graph; the variance unbiased."""
        self.num_batches_tracked += 1
        f = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        with no_grad():
            self.running_mean *= 1 - f
            self.running_mean += f * mean.reshape(self.num_features)
            self.running_var *= 1 - f
            self.running_var += f * variance.reshape(self.num_features) * (n / (n - 1))

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")
