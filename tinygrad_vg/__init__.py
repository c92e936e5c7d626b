"""tinygrad_vg: a small reverse-mode autograd engine over numpy, and a microscope for vanishing and
exploding gradients."""
from .anomaly import NonFiniteError, UnderflowError, detect_anomaly
from .chain_rule import Path, count_paths, jacobian, local_jacobian, paths, to_dot
from .diagnostics import ChainReport, LayerRecord, chain_report
from .drawing import Drawing, draw
from .gradcheck import gradcheck
from .tensor import Tensor, concatenate, maximum, no_grad, stack, where
from . import nn, optim, training

__version__ = "0.1.0"
