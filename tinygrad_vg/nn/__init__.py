"""Neural-network building blocks with PyTorch's names: modules, initialisers, losses, the deep chain."""
from . import functional, init
from .activations import Identity, ReLU, Sigmoid, Tanh
from .batch_norm import BatchNorm1d
from .chain import DeepChain
from .dropout import Dropout
from .layer_norm import LayerNorm
from .linear import Linear, linear
from .losses import cross_entropy, mse_loss
from .module import Module
from .module_list import ModuleList
from .residual import Residual
from .rnn import RNN
from .sequential import Lambda, Sequential
