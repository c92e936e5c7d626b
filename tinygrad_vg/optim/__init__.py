"""Optimisers and learning-rate schedules with torch.optim's names, defaults and update rules, and
gradient clipping. Each rule's docstring states it as math; tests/test_optim_rules.py checks each,
step by step, against that math written out independently and against torch.optim."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_, global_grad_norm
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
