"""PyTorch's torch.nn.functional names for what this package has: `import tinygrad_vg.nn.functional as F`."""
from .linear import linear
from .losses import cross_entropy, mse_loss

__all__ = ["cross_entropy", "linear", "mse_loss"]
