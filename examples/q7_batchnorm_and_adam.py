"""Question 7: do batch normalization or Adam fix vanishing gradients by themselves?

Short answer: neither does, each for its own reason; the skip connection does. ANSWER (printed
at the end) states it with this run's numbers.

The chain: tanh layers in the ordered phase, W ~ N(0, sigma_w^2 / n) with sigma_w = 0.5, so each
layer scales the backward signal by about sigma_w tanh'(z) <= 0.5, and over 40 layers layer 1's
gradient is ~1e-12 of layer L's; forward, the signal from x shrinks the same way. Each variant
changes one thing: the optimiser (SGD, SGD with momentum 0.9, Adam with eps 1e-8 and with eps
1e-20), the norm before each activation (BatchNorm, LayerNorm), or a skip connection h + tanh(z).
- Adam divides each gradient by its own running size: its first step is exactly
  -lr g / (|g| + eps) (theory.adam_first_step), so layer 1 moves about as far as
  layer L... unless its gradient is below eps, where it moves lr |g| / eps: with eps = 1e-8 a
  gradient of 1e-13 stays suppressed; with eps = 1e-20 it does not. But a moving layer 1 is not
  enough: the forward signal from x is lost through the same chain, so the loss still stalls.
- BatchNorm re-normalises every layer's pre-activations over the batch. Forward, the signal
  survives; backward, mean-field theory says the gradient *grows* with depth by a factor set by
  the batch size and the nonlinearity alone (theory.batchnorm_gradient_growth, Yang et
  al. 2019): vanishing becomes exploding, and no weight scale tunes it away.
- Momentum multiplies every layer's steps alike (by up to 1 / (1 - 0.9)): the ratio stays.
- LayerNorm rescales each example's pre-activations: the forward signal keeps its size, but the
  backward signal still passes W and tanh' at every layer.
- The skip connection adds the identity to each layer's Jacobian: nothing to vanish through.

Predictions: the step-0 ratio |dL/dh_1| / |dL/dh_L| is mean-field (exact as width -> infinity,
so at width 48 expect a factor of ~2 over 40 layers); Adam's first move is exact.

Run:  python examples/q7_batchnorm_and_adam.py --depth 40 --steps 60 [--plot q7.png] [--html q7.html]
"""
import sys

import numpy as np

from tinygrad_vg import optim, theory, training
from tinygrad_vg.argtypes import finite_float, positive_float, positive_int
from tinygrad_vg.nn import DeepChain, mse_loss
from tinygrad_vg.script import OptionError, experiment, main

STALL_FRACTION = 0.9     # stalled: the last loss is above 0.9 x the best constant prediction's


def arguments(parser):
    parser.add_argument("--depth", type=positive_int, default=40, help="number of layers L (default 40)")
    parser.add_argument("--width", type=positive_int, default=48, help="units per layer (default 48)")
    parser.add_argument("--batch", type=positive_int, default=32,
                        help="rows of the input, also BatchNorm's batch (default 32)")
    parser.add_argument("--steps", type=positive_int, default=60, help="training steps per variant (default 60)")
    parser.add_argument("--sigma-w", type=finite_float, default=0.5, help="W ~ N(0, sigma_w^2 / width) (default 0.5)")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="SGD's learning rate (default 0.1)")
    parser.add_argument("--adam-lr", type=positive_float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    parser.add_argument("--theory-samples", type=positive_int, default=100_000,
                        help="Monte Carlo samples of BatchNorm's mean-field growth (default 100000; its error "
                             "is about 1/sqrt(samples) of the rate per layer)")


def variants(lr, adam_lr):
    """(name, DeepChain options, the optimiser for its parameters) of each variant."""
    def sgd(params):
        return optim.SGD(params, lr=lr)

    def momentum(params):
        return optim.SGD(params, lr=lr, momentum=0.9)

    def adam(eps):
        return lambda params: optim.Adam(params, lr=adam_lr, eps=eps)

    return [
        ("SGD", {}, sgd),
        ("SGD + momentum 0.9", {}, momentum),
        ("Adam, eps 1e-8", {}, adam(1e-8)),
        ("Adam, eps 1e-20", {}, adam(1e-20)),
        ("SGD + BatchNorm", {"norm": "batch"}, sgd),
        ("Adam + BatchNorm", {"norm": "batch"}, adam(1e-8)),
        ("SGD + LayerNorm", {"norm": "layer"}, sgd),
        ("SGD + skip connection", {"residual": True}, sgd),
    ]


def train_variant(x, y, options, make_optimizer, depth, sigma_w, steps, seed):
    """Step 0's |dL/dh_l|, the first move of W_1 beside theory's, then training: how far W_1 and W_L moved."""
    chain = DeepChain(depth, x.shape[1], activation="tanh", init="normal", sigma_w=sigma_w, rng=seed, **options)
    first, last = chain.layers[0].weight, chain.layers[-1].weight
    start = first.data.copy(), last.data.copy()
    output, layer_outputs = chain.forward_with_outputs(x)
    mse_loss(output, y).backward()
    grad_norms = [float(np.linalg.norm(h.grad)) for h in layer_outputs]
    largest_first_grad = float(np.abs(first.grad).max())
    optimizer = make_optimizer(chain.parameters())
    if isinstance(optimizer, optim.Adam):
        group = optimizer.param_groups[0]
        predicted_move = np.linalg.norm(theory.adam_first_step(first.grad, group["lr"], group["eps"]))
    else:                              # SGD's first step, momentum's too (its buffer starts as g)
        predicted_move = optimizer.param_groups[0]["lr"] * np.linalg.norm(first.grad)
    moves = []                         # |W_1 - W_1(0)| / |W_1(0)| and the same for W_L after each step
    record = training.train(chain, x, y, steps, optimizer=optimizer, on_step=lambda step, record: moves.append(
        [float(np.linalg.norm(first.data - start[0]) / np.linalg.norm(start[0])),
         float(np.linalg.norm(last.data - start[1]) / np.linalg.norm(start[1]))]))
    return {"grad_norms": grad_norms, "ratio": grad_norms[0] / grad_norms[-1],
            "first_move": moves[0][0] * float(np.linalg.norm(start[0])), "predicted_first_move": float(predicted_move),
            "largest_first_grad": largest_first_grad, "moves": moves, "loss": record.loss,
            "halted_at": None if record.halted is None else record.halted.step}


@experiment
def run(depth=40, width=48, batch=32, steps=60, sigma_w=0.5, lr=0.1, adam_lr=1e-3, seed=0, theory_samples=100_000):
    if depth < 2 or batch < 4:
        raise OptionError(f"need --depth >= 2 and --batch >= 4 (BatchNorm's theory), got {depth} and {batch}")
    # The task (as in q2 and q6): a random teacher y = tanh(x A); a constant output reaches `constant_loss`.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    y = np.tanh(x @ rng.standard_normal((width, width)) / np.sqrt(width))
    constant_loss = float(np.mean((y - y.mean(axis=0)) ** 2))
    # |dL/dh_1| / |dL/dh_L| at initialisation from theory: mean-field for the plain chain, BatchNorm's
    # growth per layer (Monte Carlo: seconds, so computed once) for the BatchNorm chains, none otherwise
    growth = theory.batchnorm_gradient_growth(batch, "tanh", samples=theory_samples).per_layer
    plain = np.asarray(theory.grad_norm_ratios(theory.backward_gains(sigma_w, 0.0, depth, 1.0, "tanh")))
    batch_norm = growth ** (depth - np.arange(1, depth + 1))      # |dL/dh_l| / |dL/dh_L| = growth^(L-l)
    results = []
    for name, options, make_optimizer in variants(lr, adam_lr):
        r = train_variant(x, y, options, make_optimizer, depth, sigma_w, steps, seed)
        ratios = batch_norm if options.get("norm") == "batch" else None if options else plain
        r["name"] = name
        r["predicted_ratio"] = None if ratios is None else float(ratios[0])
        r["predicted_grad_norms"] = None if ratios is None else (r["grad_norms"][-1] * ratios).tolist()
        r["stalled"] = r["halted_at"] is not None or r["loss"][-1] > STALL_FRACTION * constant_loss
        results.append(r)
    return {"depth": depth, "width": width, "batch": batch, "steps": steps, "sigma_w": sigma_w, "lr": lr,
            "adam_lr": adam_lr, "constant_loss": constant_loss, "stall_fraction": STALL_FRACTION,
            "batchnorm_growth": growth, "variants": results}


def ending(result, r):
    """How the run ended: its last loss as a fraction of the best constant prediction's, and whether
    that is a stall (above STALL_FRACTION of it) or training."""
    if r["halted_at"] is not None:
        return f"halted at step {r['halted_at']}"
    fraction = r["loss"][-1] / result["constant_loss"]
    return f"{'stalled' if r['stalled'] else 'trained'} at {fraction:.2f} of the constant's loss"


def answer(result):
    """The ANSWER paragraph: each verdict read off this run's numbers."""
    v = {r["name"]: r for r in result["variants"]}
    sgd, momentum, adam, tiny_eps = v["SGD"], v["SGD + momentum 0.9"], v["Adam, eps 1e-8"], v["Adam, eps 1e-20"]
    batch_norm, layer_norm, skip = v["SGD + BatchNorm"], v["SGD + LayerNorm"], v["SGD + skip connection"]
    below = "below" if adam["largest_first_grad"] < 1e-8 else "not below"
    return ["\nANSWER",
            f"- Momentum changes every layer's steps alike: the ratio stays {momentum['ratio']:.1e}, "
            f"W_1 moved {momentum['moves'][-1][0]:.1e} of itself; {ending(result, momentum)} "
            f"(SGD: {ending(result, sgd)}).",
            f"- Adam moves layer 1 ({adam['moves'][-1][0]:.1e} of itself after {result['steps']} steps, SGD "
            f"{sgd['moves'][-1][0]:.1e}), as far as its eps lets it: dL/dW_1's largest element at step 0, "
            f"{adam['largest_first_grad']:.1e}, is {below} eps = 1e-8, and W_1's first move is "
            f"{adam['first_move']:.1e} (lr g / (|g| + eps) elementwise); with eps = 1e-20 it is "
            f"{tiny_eps['first_move']:.1e}. With eps 1e-8: {ending(result, adam)}; with eps 1e-20: "
            f"{ending(result, tiny_eps)}. Moving layer 1 is not enough while the forward signal from x is lost too.",
            f"- BatchNorm: the gradient {'grows' if batch_norm['ratio'] > 1 else 'shrinks'} on the way down, "
            f"|dL/dh_1| / |dL/dh_L| = {batch_norm['ratio']:.1e} (mean-field: {batch_norm['predicted_ratio']:.1e}, "
            f"{result['batchnorm_growth']:.3f} per layer at batch {result['batch']}, whatever sigma_w). With SGD, W_1's "
            f"first step is {batch_norm['moves'][0][0]:.2f} of its size; {ending(result, batch_norm)}. With Adam, "
            f"whose steps do not grow with the gradient: {ending(result, v['Adam + BatchNorm'])}.",
            f"- LayerNorm: |dL/dh_1| / |dL/dh_L| = {layer_norm['ratio']:.1e}; {ending(result, layer_norm)}.",
            f"- The skip connection: |dL/dh_1| / |dL/dh_L| = {skip['ratio']:.1e}; {ending(result, skip)}."]


def show(result):
    last_header = f"loss {result['steps']}"
    lines = [f"tanh chain, {result['depth']} layers of width {result['width']}, sigma_w {result['sigma_w']:g}, batch "
             f"{result['batch']}; teacher task y = tanh(x A); {result['steps']} steps (SGD lr {result['lr']:g}, "
             f"Adam lr {result['adam_lr']:g})",
             f"(a constant output scores {result['constant_loss']:.4f}; a run stalled when it ends above "
             f"{STALL_FRACTION:g} of that)\n",
             f"{'variant':<22} {'|dL/dh_1|/|dL/dh_L|':>19} {'predicted':>10} {'1st |dW_1|':>10} {'predicted':>10} "
             f"{'W_1 moved':>10} {'W_L moved':>10} {'loss 0':>8} {last_header:>9}"]
    for r in result["variants"]:
        predicted = "-" if r["predicted_ratio"] is None else format(r["predicted_ratio"], ".2e")
        last_loss = f"halted {r['halted_at']}" if r["halted_at"] is not None else f"{r['loss'][-1]:.4f}"
        lines.append(f"{r['name']:<22} {r['ratio']:>19.2e} {predicted:>10} {r['first_move']:>10.2e} "
                     f"{r['predicted_first_move']:>10.2e} {r['moves'][-1][0]:>10.2e} {r['moves'][-1][1]:>10.2e} "
                     f"{r['loss'][0]:>8.4f} {last_loss:>9}")
    lines.append("\n|dL/dh| ratio and its prediction at step 0 (mean-field; '-': no formula here); 1st |dW_1|: the "
                 "first update of W_1,\nbeside theory's (Adam's exact, SGD's lr |g|); W moved: |W - W(0)| / |W(0)| "
                 "after the last step.")
    return "\n".join(lines + answer(result))


GROUPS = [  # the figure's panels: which change each variant makes, a few lines per panel
    ("the optimiser", ["SGD", "SGD + momentum 0.9", "Adam, eps 1e-8", "Adam, eps 1e-20"]),
    ("the norm, or a skip connection", ["SGD", "SGD + BatchNorm", "Adam + BatchNorm", "SGD + LayerNorm",
                                        "SGD + skip connection"]),
]


def figure(result):
    by_name = {r["name"]: (n, r) for n, r in enumerate(result["variants"])}
    layers = list(range(1, result["depth"] + 1))

    def gradient_lines(name, label):
        n, r = by_name[name]
        lines = [{"label": label, "x": layers, "y": r["grad_norms"], "style": f"C{n}o"}]
        if r["predicted_grad_norms"] is not None:
            lines.append({"label": "mean-field", "x": layers, "y": r["predicted_grad_norms"], "style": f"C{n}-"})
        return lines

    gradients = [{"title": "|dL/dh_l| at step 0: the plain chain vanishes, BatchNorm explodes", "xlabel": "layer l",
                  "ylabel": "|dL/dh_l|", "lines": gradient_lines("SGD", "plain chain (every optimiser)")
                  + gradient_lines("SGD + BatchNorm", "BatchNorm")},
                 {"title": "|dL/dh_l| at step 0: LayerNorm, a skip connection (no formula here)", "xlabel": "layer l",
                  "ylabel": "|dL/dh_l|", "lines": gradient_lines("SGD + LayerNorm", "LayerNorm")
                  + gradient_lines("SGD + skip connection", "skip connection")}]
    losses = []
    for title, names in GROUPS:
        lines = [{"label": name, "x": list(range(len(by_name[name][1]["loss"]))), "y": by_name[name][1]["loss"],
                  "style": f"C{by_name[name][0]}-"} for name in names]
        lines.append({"label": f"{STALL_FRACTION:g} x constant output (stalled above)", "x": [0, result["steps"] - 1],
                      "y": [STALL_FRACTION * result["constant_loss"]] * 2, "style": "k--"})
        losses.append({"title": f"training loss: {title}", "xlabel": "training step", "ylabel": "mean squared error",
                       "lines": lines})
    rows = [[r["name"], r["ratio"], "-" if r["predicted_ratio"] is None else r["predicted_ratio"], r["first_move"],
             r["predicted_first_move"], r["moves"][-1][0], r["moves"][-1][1], r["loss"][0],
             f"halted at {r['halted_at']}" if r["halted_at"] is not None else r["loss"][-1] / result["constant_loss"],
             "stalled" if r["stalled"] else "trained"] for r in result["variants"]]
    table = {"title": "every variant: step 0, the first move, how far W moved, how it ended", "table": {
        "header": ["variant", "|dL/dh_1|/|dL/dh_L|", "predicted", "1st |dW_1|", "predicted", "W_1 moved",
                   "W_L moved", "loss 0", "last loss / constant's", "verdict"], "rows": rows}}
    return gradients + losses + [table]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
