"""The optimisers `train --optimizer` names, with PyTorch's defaults but lr, and a line naming one."""
from .. import optim

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")


def make_optimizer(name, params, lr, momentum=None, weight_decay=0.0):
    """--optimizer's choice with PyTorch's defaults but lr: momentum is SGD with momentum (0.9 unless
    given); rmsprop's momentum is 0 unless given; adam has none (betas 0.9, 0.999)."""
    if name == "adam":
        return optim.Adam(params, lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr, momentum=momentum or 0.0, weight_decay=weight_decay)
    default = 0.9 if name == "momentum" else 0.0
    return optim.SGD(params, lr, momentum=default if momentum is None else momentum, weight_decay=weight_decay)


def describe_optimizer(settings):
    """ "Adam lr 0.1, betas (0.9, 0.999), eps 1e-08": the rule and its hyperparameters, leaving out the
    ones switched off (False, or 0 other than lr)."""
    parts = [f"{settings['name']} lr {settings['lr']:g}"]
    for key, value in settings.items():
        if key in ("name", "lr") or value is False or value == 0:
            continue
        text = f"({', '.join(f'{v:g}' for v in value)})" if isinstance(value, list) else f"{value:g}"
        parts.append(f"{key.replace('_', ' ')} {text}")
    return ", ".join(parts)
