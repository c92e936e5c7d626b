"""The deep chain of the `chain` and `train` commands, and the task it is trained on, built from one
plain dict of settings (a "config") so that a run's JSON says exactly how to build its chain again."""
import math

import numpy as np

from ..nn import DeepChain

DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}
NORM_NAMES = {"layer": "LayerNorm", "batch": "BatchNorm1d"}
CHAIN_KEYS = ("depth", "width", "batch", "activation", "init", "scale", "sigma_w", "sigma_b",
              "residual", "alpha", "norm", "dropout", "dtype", "seed")


def chain_config(depth, width, batch, activation, init, scale, sigma_w, sigma_b, residual, alpha, norm,
                 dropout, dtype, seed):
    """The settings as build_chain reads them; norm "none" (the flag's spelling) is None."""
    return {"depth": depth, "width": width, "batch": batch, "activation": activation, "init": init,
            "scale": scale, "sigma_w": sigma_w, "sigma_b": sigma_b, "residual": residual, "alpha": alpha,
            "norm": None if norm in (None, "none") else norm, "dropout": dropout, "dtype": dtype, "seed": seed}


def synthetic_task(batch, width, rng):
    """x ~ N(0, 1) of shape (batch, width) and targets y = tanh(x A^T) of a fixed random teacher
    A ~ N(0, 1/width): a smooth map with targets in (-1, 1) that every chain can try to learn."""
    x = rng.standard_normal((batch, width))
    teacher = rng.standard_normal((width, width)) / math.sqrt(width)
    return x, np.tanh(x @ teacher.T)


def best_constant_loss(target):
    """The MSE of the best prediction that ignores x, the targets' mean: the plateau of a chain whose
    signal from x does not get through."""
    return float(np.mean((target - target.mean(axis=0)) ** 2))


def build_chain(config):
    """The DeepChain of `config`, its input and its target, all drawn from config["seed"]."""
    rng = np.random.default_rng(config["seed"])
    model = DeepChain(config["depth"], config["width"], config["activation"], config["init"],
                      scale=config["scale"], sigma_w=config["sigma_w"], sigma_b=config["sigma_b"],
                      residual=config["residual"], alpha=config["alpha"], norm=config["norm"],
                      dropout=config["dropout"], dtype=DTYPES[config["dtype"]], rng=rng)
    x, target = synthetic_task(config["batch"], config["width"], rng)
    return model, x, target


def describe_config(config):
    """One line naming the chain: "6 layers of width 4, batch 3, tanh, W ~ N(0, 1.5^2/n), ..."."""
    parts = [f"{config['depth']} layers of width {config['width']}, batch {config['batch']}",
             config["activation"]]
    init = config["init"]
    if init == "normal":
        parts.append(f"W ~ N(0, {config['sigma_w']:g}^2/n), b ~ N(0, {config['sigma_b']:g}^2)")
    elif init == "identity":
        parts.append(f"W = {config['scale']:g} I")
    elif init == "default":
        parts.append("PyTorch's default W, b ~ U(-1/sqrt(n), 1/sqrt(n))")
    else:
        parts.append(f"init {init} (scale {config['scale']:g})")
    if config["residual"]:
        parts.append(f"residual (alpha {config['alpha']:g})")
    if config["norm"]:
        parts.append(NORM_NAMES[config["norm"]])
    if config["dropout"]:
        parts.append(f"dropout {config['dropout']:g}")
    parts += [config["dtype"], f"seed {config['seed']}"]
    return ", ".join(parts)
