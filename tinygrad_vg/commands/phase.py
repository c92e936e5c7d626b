"""Phase diagram: where does a deep tanh chain's gradient vanish, where does it explode, and how deep can it still train?

Short answer: over the weight scale sigma_w (at a bias scale sigma_b) the per-layer gradient gain
chi_1 = sigma_w^2 E[tanh'(z)^2] crosses 1 at one critical sigma_w: below it (ordered) |dL/dh_l|
shrinks with every layer down, above it (chaotic) it grows, at any depth. And a chain trains
only when it is not much deeper than 6 xi_c, where xi_c = -1/ln chi_c is the depth over which two
inputs' correlation survives; xi_c diverges at the critical line, so the trainable region is
widest there (Poole et al. 2016; Schoenholz et al., "Deep Information Propagation", ICLR 2017).
Each cell of the map is its own network (and for trainability its own training run), run on a
process pool, or a Dask cluster with --dask.

Run:  tinygrad-vg phase --measure gradient --html phase.html
      tinygrad-vg phase --measure trainability --depth 4:40:4 --steps 200
"""
import math

import numpy as np

from .. import theory
from ..argtypes import number_range, positive_float, positive_int
from ..experiments.measures import log10_gain_per_step
from ..nn import DeepChain, Linear, cross_entropy
from ..optim import SGD
from ..script import OptionError, experiment
from ..sweep import SerialExecutor, cell_seed, default_executor, sweep
from ..tensor import Tensor, no_grad
from ..views.text import table

MEASURES = ("gradient", "trainability")
# Per measure, what an option left out means: trainability trains every cell, so its map is smaller
DEFAULTS = {"gradient": {"depth": list(range(10, 201, 10)), "width": 128, "batch": 16, "seeds": 3},
            "trainability": {"depth": list(range(4, 41, 4)), "width": 32, "batch": 64, "seeds": 2}}


def arguments(parser):
    parser.add_argument("--measure", choices=MEASURES, default="gradient",
                        help="gradient: the per-layer log10 gain of |dL/dh_l| at initialisation; trainability: "
                             "the training accuracy after --steps of SGD (default gradient)")
    parser.add_argument("--sigma-w", type=number_range, default=None, metavar="START:STOP:STEP",
                        help="weight scales, a range (ends included) or a list a,b,c (default 0.5:4:0.25)")
    parser.add_argument("--sigma-b", type=number_range, default=[0.05], metavar="B[,B...]",
                        help="bias scales (standard deviations, not variances; default 0.05)")
    parser.add_argument("--depth", type=number_range, default=None, metavar="START:STOP:STEP",
                        help="depths (default 10:200:10 for gradient, 4:40:4 for trainability)")
    parser.add_argument("--width", type=positive_int, default=None, help="units per layer (default 128; 32 for trainability)")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help="inputs per cell: for trainability the training set (default 16; 64 for trainability)")
    parser.add_argument("--seeds", type=positive_int, default=None, help="networks per cell (default 3; 2 for trainability)")
    parser.add_argument("--steps", type=positive_int, default=200, help="trainability: SGD steps (default 200)")
    parser.add_argument("--lr", type=positive_float, default=0.05, help="trainability: learning rate (default 0.05)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: one per core; 1 runs in this process)")
    parser.add_argument("--dask", metavar="ADDRESS", default=None,
                        help='run the cells on a Dask cluster: its scheduler address, or "local" for a LocalCluster '
                             'on this machine (needs pip install -e ".[cluster]")')
    parser.add_argument("--resume", metavar="FILE.jsonl", default=None,
                        help="append each finished cell to FILE and skip the cells it already holds")


# ---------------------------------------------------------------- one cell: a network of its own

def gradient_cell(config):
    """log10 gain per layer of |dL/dh_l| for L = h_L . r, r a random read-out, at initialisation."""
    rng = np.random.default_rng(cell_seed(config))
    chain = DeepChain(config["depth"], config["width"], activation="tanh", init="normal",
                      sigma_w=config["sigma_w"], sigma_b=config["sigma_b"], rng=rng)
    output, layer_outputs = chain.forward_with_outputs(rng.standard_normal((config["batch"], config["width"])))
    (output * Tensor(rng.standard_normal(config["width"]))).sum().backward()
    return {"log10_gain_per_layer": log10_gain_per_step([np.linalg.norm(h.grad) for h in layer_outputs])}


def classification_task(batch, width, rng):
    """Two classes the chain must tell apart: x ~ N(0, 1) in R^width, label = sign of a random
    direction's projection, so the task is easy for a shallow net and hard only through depth."""
    x = rng.standard_normal((batch, width))
    return x, (x @ rng.standard_normal(width) > 0).astype(np.int64)


def trainability_cell(config):
    """Training accuracy and loss after `steps` of full-batch SGD on classification_task."""
    rng = np.random.default_rng(cell_seed(config))
    chain = DeepChain(config["depth"], config["width"], activation="tanh", init="normal",
                      sigma_w=config["sigma_w"], sigma_b=config["sigma_b"], rng=rng)
    readout = Linear(config["width"], 2, rng=rng)
    x, labels = classification_task(config["batch"], config["width"], rng)
    params = [*chain.parameters(), *readout.parameters()]
    optimizer = SGD(params, lr=config["lr"])
    loss = None
    with np.errstate(all="ignore"):
        for _ in range(config["steps"]):
            optimizer.zero_grad()
            loss = cross_entropy(readout(chain(x)), labels)
            if not math.isfinite(loss.item()):
                return {"final_loss": None, "accuracy": None, "halted": True}
            loss.backward()
            optimizer.step()
        with no_grad():
            logits = readout(chain(x)).data
    return {"final_loss": float(loss.item()), "accuracy": float(np.mean(logits.argmax(1) == labels)), "halted": False}


CELLS = {"gradient": gradient_cell, "trainability": trainability_cell}


# ---------------------------------------------------------------- the map

def executor_for(workers, dask):
    """(executor, close): a Dask client's executor, this process (workers=1) or a process pool."""
    if dask:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise OptionError('--dask needs Dask\'s distributed: pip install -e ".[cluster]"') from None
        client = (Client(LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None))
                  if dask == "local" else Client(dask))
        return client.get_executor(pure=False), client.close   # pure=False: a cell is run, never looked up
    executor = SerialExecutor() if workers == 1 else default_executor(workers)
    return executor, executor.shutdown


def theory_rows(sigma_ws, sigma_bs):
    """chi_1, xi_c, xi_grad per (sigma_b, sigma_w), and the critical sigma_w per sigma_b."""
    rows = {"sigma_w": list(sigma_ws), "sigma_b": list(sigma_bs), "chi_1": [], "xi_c": [], "xi_grad": [],
            "critical_sigma_w": [theory.tanh_critical_sigma_w(b) for b in sigma_bs]}
    for b in sigma_bs:
        scales = [theory.tanh_depth_scales(w, b) for w in sigma_ws]
        rows["chi_1"].append([theory.tanh_chi1(w, b) for w in sigma_ws])
        rows["xi_c"].append([xi_c for xi_c, _ in scales])
        rows["xi_grad"].append([xi_grad for _, xi_grad in scales])
    return rows


def sign_change(sigma_ws, gains):
    """The sigma_w where the mean measured log gain crosses 0 (linear interpolation), or None."""
    for k in range(len(sigma_ws) - 1):
        low, high = gains[k], gains[k + 1]
        if low is not None and high is not None and low < 0 <= high:
            return sigma_ws[k] + (sigma_ws[k + 1] - sigma_ws[k]) * (-low) / (high - low)
    return None


@experiment
def run(measure="gradient", sigma_w=None, sigma_b=(0.05,), depth=None, width=None, batch=None, seeds=None, steps=200,
        lr=0.05, workers=None, dask=None, resume=None, progress=True):
    trainability = measure == "trainability"
    defaults = DEFAULTS[measure]
    sigma_ws = list(sigma_w or np.arange(0.5, 4.0 + 1e-9, 0.25).round(10))
    depths, width = depth or defaults["depth"], width or defaults["width"]
    batch, seeds = batch or defaults["batch"], seeds or defaults["seeds"]
    if any(d < 2 or d != int(d) for d in depths):
        raise OptionError(f"--depth: depths must be whole numbers >= 2 (a gain per layer needs two layers), got {depths}")
    depths = [int(d) for d in depths]
    training = {"steps": steps, "lr": lr} if trainability else {}
    config = {"measure": measure, "width": width, "batch": batch, "seeds": seeds, **training}
    cells = [{"sigma_w": float(w), "sigma_b": float(b), "depth": d, "seed": s, "width": width, "batch": batch,
              **training} for b in sigma_b for d in depths for w in sigma_ws for s in range(seeds)]
    executor, close = executor_for(workers, dask)
    try:
        results = sweep(CELLS[measure], cells, executor, path=resume, progress="phase" if progress else None)
    finally:
        close()
    cells = [{**cell, **result} for cell, result in zip(cells, results)]
    key = "accuracy" if trainability else "log10_gain_per_layer"
    means = [[mean_over_seeds(cells, sigma_ws, key, b, d) for d in depths] for b in sigma_b]
    measured = {"key": key, "mean": means,
                "sign_change": None if trainability else [[sign_change(sigma_ws, row) for row in rows] for rows in means]}
    return {"command": "phase", "config": {**config, "sigma_w": sigma_ws, "sigma_b": list(sigma_b), "depth": depths},
            "cells": cells, "measured": measured, "theory": theory_rows(sigma_ws, sigma_b)}


def mean_over_seeds(cells, sigma_ws, key, sigma_b, depth):
    """[mean of `key` over the seeds] per sigma_w, None where no seed has a value."""
    means = []
    for w in sigma_ws:
        values = [c[key] for c in cells if c["sigma_w"] == w and c["sigma_b"] == sigma_b
                  and c["depth"] == depth and c.get(key) is not None]
        means.append(float(np.mean(values)) if values else None)
    return means


def show(result):
    config, predicted = result["config"], result["theory"]
    gradient, measured = config["measure"] == "gradient", result["measured"]
    lines = [f"Phase diagram of a tanh chain, width {config['width']}, {config['seeds']} networks per cell: "
             + ("log10 gain per layer of |dL/dh_l| at initialisation (negative: vanishes, positive: explodes)"
                if gradient else f"training accuracy after {config['steps']} SGD steps (lr {config['lr']:g}; 0.5 is chance)")]
    for k, b in enumerate(config["sigma_b"]):
        lines.append(f"\nsigma_b = {b:g}: critical sigma_w (chi_1 = 1) = {predicted['critical_sigma_w'][k]:.4f}")
        header = ["depth", *(f"{w:g}" for w in config["sigma_w"])]
        rows = [[d, *("-" if v is None else f"{v:+.3f}" if gradient else f"{v:.2f}" for v in means)]
                for d, means in zip(config["depth"], measured["mean"][k])]
        theory_row = (["0.5 log chi_1", *(f"{0.5 * math.log10(chi):+.3f}" for chi in predicted["chi_1"][k])] if gradient
                      else ["6 xi_c", *(f"{6 * xi:.0f}" if math.isfinite(xi) else "inf" for xi in predicted["xi_c"][k])])
        lines.append(table(header, rows + [theory_row]))
        if gradient:
            found = [m for m in measured["sign_change"][k] if m is not None]
            if found:
                lines.append(f"measured sign change: sigma_w = {min(found):.3f} to {max(found):.3f} over the depths "
                             f"(theory {predicted['critical_sigma_w'][k]:.3f})")
    return "\n".join(lines)


def figure(result):
    config, predicted = result["config"], result["theory"]
    gradient, measured = config["measure"] == "gradient", result["measured"]
    panels = []
    for k, b in enumerate(config["sigma_b"]):
        rows = measured["mean"][k]
        if gradient:
            overlays = [{"label": "chi_1 = 1", "x": [predicted["critical_sigma_w"][k]] * 2,
                         "y": [config["depth"][0], config["depth"][-1]], "style": "k-"}]
        else:
            overlays = [{"label": "6 xi_c", "x": config["sigma_w"], "style": "k--",
                         "y": [min(6 * xi, config["depth"][-1]) for xi in predicted["xi_c"][k]]}]
        panels.append({"title": f"{'log10 gain per layer' if gradient else 'training accuracy'}, sigma_b = {b:g}",
                       "heatmap": rows, "x": config["sigma_w"], "y": config["depth"], "xlabel": "sigma_w",
                       "ylabel": "depth L", "scale": "signed" if gradient else "linear",
                       "colorbar": measured["key"].replace("_", " "), "overlays": overlays})
        if gradient:
            panels.append({"title": f"gain per layer against theory, sigma_b = {b:g}", "xlabel": "sigma_w",
                           "ylabel": "|dL/dh_(l-1)| / |dL/dh_l|", "yscale": "linear",
                           "marks": [{"x": predicted["critical_sigma_w"][k], "label": "chi_1 = 1"}],
                           "lines": [*({"label": f"measured, L = {d}", "x": config["sigma_w"], "style": f"C{n}o",
                                        "y": [None if v is None else 10 ** v for v in means]}
                                       for n, (d, means) in enumerate(list(zip(config["depth"], rows))
                                                                      [::max(1, len(config["depth"]) // 4)])),
                                     {"label": "sqrt(chi_1)", "x": config["sigma_w"], "style": "k-",
                                      "y": [math.sqrt(chi) for chi in predicted["chi_1"][k]]}]})
    return panels
