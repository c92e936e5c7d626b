"""Question 2: deep layers get reasonable gradients, so won't training fix the shallow ones by itself?

Short answer: no. Each SGD step moves a layer by lr times its own gradient, and the shallow
layers' gradients stay ~1e-12 of the deep layers' at every step, because the reason they are small
(each sigmoid layer scales the backward signal by about sigma_w sigma'(z) <= 1/4) is still there
after the deep layers have learned. The deep layers do learn what they can without the shallow
ones: the mean of the target. So the loss plateaus near the loss of the best constant prediction,
the layer-1 weights move ~1e-12 of their size, and the signal from x never gets through. The
layer-1 / layer-L ratio does rise during training, but only because the top layer's gradient falls
faster than layer 1's: the script prints both.

The opposite failure does not train either: a tanh chain in the chaotic phase (sigma_w = 4) has
gradients hundreds of times larger at layer 1 than at layer L, all finite, and its first step
throws the shallow weights several times their own size; tanh saturates, the gradient collapses,
and the loss ends above the best constant prediction's.

Whether a run stalled is decided from its numbers: it stalled when its last loss is not 10% below
the best constant prediction's. (`--activation tanh` trains past it: the caption says so.)

Theory (theory.backward_gains, mean-field, exact as width -> infinity) predicts the step-0 ratio
|dL/dh_1| / |dL/dh_L|; training has no closed form, so the rest is measured.

Run:  python examples/q2_training_does_not_fix_it.py --depth 20 --steps 150 [--plot q2.png] [--html q2.html]
"""
import sys
from dataclasses import asdict

import numpy as np

from tinygrad_vg import chain_report, theory, training
from tinygrad_vg.argtypes import finite_float, non_negative_float, positive_int
from tinygrad_vg.nn import DeepChain, mse_loss
from tinygrad_vg.script import OptionError, experiment, main
from tinygrad_vg.views.text import log_axis, log_bars

STALL_FRACTION = 0.9     # stalled: the last loss is above 0.9 x the best constant prediction's


def arguments(parser):
    parser.add_argument("--depth", type=positive_int, default=20, help="number of layers L (default 20)")
    parser.add_argument("--width", type=positive_int, default=16, help="units per layer (default 16)")
    parser.add_argument("--activation", choices=["sigmoid", "tanh"], default="sigmoid", help="(default sigmoid)")
    parser.add_argument("--sigma-w", type=finite_float, default=1.0, help="W ~ N(0, sigma_w^2 / width) (default 1)")
    parser.add_argument("--sigma-b", type=finite_float, default=0.0, help="b ~ N(0, sigma_b^2) (default 0)")
    parser.add_argument("--exploding-sigma-w", type=non_negative_float, default=4.0,
                        help="sigma_w of the chaotic tanh chain trained second (default 4; 0 skips it)")
    parser.add_argument("--steps", type=positive_int, default=150, help="SGD steps (default 150)")
    parser.add_argument("--lr", type=finite_float, default=1.0, help="learning rate (default 1.0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")


def train_one_chain(x, y, constant_loss, activation, sigma_w, sigma_b, depth, steps, lr, rng):
    """Step 0's gradient ratio beside theory, then SGD: per step x layer |dL/dW_l|, and what it did."""
    width = x.shape[1]
    chain = DeepChain(depth, width, activation=activation, init="normal", sigma_w=sigma_w, sigma_b=sigma_b, rng=rng)
    initial_weights = [w.data.copy() for w in chain.weights]
    output, layer_outputs = chain.forward_with_outputs(x)
    loss = mse_loss(output, y)
    loss.backward()
    report = chain_report(layer_outputs, loss, spectra_max_size=0)
    gains = theory.backward_gains(sigma_w, sigma_b, depth, 1.0, activation)
    record = training.train(chain, x, y, steps, lr=lr)
    grads = np.array(record.weight_grad_norms)          # [step][layer]: |dL/dW_l| before each update
    final_outputs = chain.forward_with_outputs(x)[1]
    return {"activation": activation, "sigma_w": sigma_w, "loss": record.loss, "weight_grad_norms": grads.tolist(),
            "halted": None if record.halted is None else asdict(record.halted),
            "moved": [float(np.linalg.norm(w.data - w0) / np.linalg.norm(w0))
                      for w, w0 in zip(chain.weights, initial_weights)],
            "first_update": [float(lr * g / np.linalg.norm(w0)) for g, w0 in zip(grads[0], initial_weights)],
            "measured_ratio": report.layers[0].grad_norm / report.layers[-1].grad_norm,
            "predicted_ratio": float(theory.grad_norm_ratios(gains)[0]),
            "largest_grad_norm": max(record.grad_norm),
            "finite": bool(np.all(np.isfinite(grads)) and np.all(np.isfinite(record.loss))),
            "saturated": float(np.mean([np.abs(h.data) > 0.99 for h in final_outputs])),
            "stalled": bool(record.loss[-1] > STALL_FRACTION * constant_loss)}


@experiment
def run(depth=20, width=16, activation="sigmoid", sigma_w=1.0, sigma_b=0.0, exploding_sigma_w=4.0, steps=150,
        lr=1.0, seed=0):
    if depth < 2 or steps < 2 or exploding_sigma_w < 0:
        raise OptionError(f"need --depth >= 2, --steps >= 2 and --exploding-sigma-w >= 0 "
                          f"(got {depth}, {steps}, {exploding_sigma_w:g})")
    # A task the chain can only solve by using x: a random "teacher" y = tanh(x A).
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, width))
    x /= np.sqrt(np.mean(x ** 2))
    y = np.tanh(x @ rng.standard_normal((width, width)) / np.sqrt(width))
    constant_loss = float(np.mean((y - y.mean(axis=0)) ** 2))   # the best any x-independent output can do
    common = dict(sigma_b=sigma_b, depth=depth, steps=steps, lr=lr)
    vanishing = train_one_chain(x, y, constant_loss, activation, sigma_w, rng=rng, **common)
    exploding = None
    if exploding_sigma_w:
        exploding = train_one_chain(x, y, constant_loss, "tanh", exploding_sigma_w,
                                    rng=np.random.default_rng(seed + 1), **common)
        exploding["chi1"] = theory.tanh_chi1(exploding_sigma_w, sigma_b)
    return {"depth": depth, "width": width, "activation": activation, "sigma_w": sigma_w, "sigma_b": sigma_b,
            "steps": steps, "lr": lr, "constant_loss": constant_loss, "stall_fraction": STALL_FRACTION,
            "vanishing": vanishing, "exploding": exploding}


def shown_layers(depth):
    return sorted({1, 2, depth // 2, depth - 1, depth})


def training_text(result, chain):
    grads, moved, loss = np.array(chain["weight_grad_norms"]), chain["moved"], chain["loss"]
    constant_loss = result["constant_loss"]
    lines = [f"training halted: {chain['halted']['message']}"] if chain["halted"] else []
    steps = sorted({0, len(loss) // 4, len(loss) // 2, len(loss) - 1})
    lines.append("|dL/dW_l| during training, and how far each layer's weights moved, |W_end - W_0| / |W_0|")
    lines.append(f"{'layer':>5}" + "".join(f"  {'step ' + str(s):>10}" for s in steps) + f"  {'moved':>10}")
    for layer in shown_layers(result["depth"]):
        lines.append(f"{layer:>5}" + "".join(f"  {grads[s, layer - 1]:>10.3e}" for s in steps)
                     + f"  {moved[layer - 1]:>10.3e}")
    lines.append(f"{'1 / L':>5}" + "".join(f"  {grads[s, 0] / grads[s, -1]:>10.3e}" for s in steps)
                 + f"  {moved[0] / moved[-1]:>10.3e}")
    lines.append(f"\nloss: step 0 {loss[0]:.4f}, step {steps[1]} {loss[steps[1]]:.4f}, "
                 f"step {steps[2]} {loss[steps[2]]:.4f}, last {loss[-1]:.4f}")
    lines.append(f"best constant prediction (the target's mean): {constant_loss:.4f}")
    if chain["stalled"]:
        lines.append(f"stalled: the last loss is {loss[-1] / constant_loss:.2f} x the best constant prediction's,"
                     f" not {1 - STALL_FRACTION:.0%} below it: the chain has not learned to use x")
    else:
        lines.append(f"not stalled: the last loss is {loss[-1] / constant_loss:.2f} x the best constant "
                     "prediction's: the chain uses x")
    return lines


def ratio_story(result, chain):
    """Why the layer-1 / layer-L ratio moved: both of its factors, start to end."""
    grads = np.array(chain["weight_grad_norms"])
    first, last = grads[-1, 0] / grads[0, 0], grads[-1, -1] / grads[0, -1]
    change = first / last
    lines = [f"\nthe ratio |dL/dW_1| / |dL/dW_{result['depth']}| went from {grads[0, 0] / grads[0, -1]:.2e} to "
             f"{grads[-1, 0] / grads[-1, -1]:.2e} (x{change:.3g}): |dL/dW_{result['depth']}| changed x{last:.3g}, "
             f"|dL/dW_1| x{first:.3g}."]
    if change > 1 and first < 1:
        lines.append("It rises only because the top layer's gradient fell faster than layer 1's, which kept falling: "
                     "layer 1 never got a larger gradient.")
    elif change > 1:
        lines.append("It rises because layer 1's gradient grew.")
    return lines


def explosion_story(result, chain):
    depth, update, grads = result["depth"], chain["first_update"], np.array(chain["weight_grad_norms"])
    overshoots = update[0] > 1                           # step 0 moves W_1 by more than its own size
    vanished = grads[-1, 0] / grads[-1, -1] < 1e-2       # and at the end layer 1's gradient is gone
    lines = [f"\nstep 0's update lr |dL/dW_l| is {update[0]:.3g} x |W_1| at layer 1 and {update[-1]:.3g} x "
             f"|W_{depth}| at layer {depth}" + (": the step overshoots." if overshoots else "."),
             f"At the end {chain['saturated']:.0%} of all units sit at |h| > 0.99 (tanh' < 0.02) and |dL/dW_1| is "
             f"{grads[-1, 0]:.3g} (step 0: {grads[0, 0]:.3g}), {grads[-1, 0] / grads[-1, -1]:.3g} x |dL/dW_{depth}|"
             + (": the explosion turned into vanishing." if vanished else ".")]
    if chain["finite"] and chain["stalled"] and chain["measured_ratio"] > 1:
        lines.append("Exploding but finite gradients did not learn either" + (
            ": each step is too large where the gradient is large." if overshoots else f" in {result['steps']} steps."))
    return lines


def show(result):
    vanishing, exploding = result["vanishing"], result["exploding"]
    lines = [f"{result['activation']} chain, {result['depth']} layers of width {result['width']}, sigma_w = "
             f"{result['sigma_w']:g}, sigma_b = {result['sigma_b']:g}; teacher task y = tanh(x A)",
             f"step 0: |dL/dh_1| / |dL/dh_L| measured {vanishing['measured_ratio']:.3e}, "
             f"predicted {vanishing['predicted_ratio']:.3e} (theory.backward_gains)\n"]
    lines += training_text(result, vanishing) + ratio_story(result, vanishing)
    lines.append("\n|dL/dW_l| at the last step, log scale:")
    bars, (low, high) = log_bars(vanishing["weight_grad_norms"][-1], 40)
    lines.append(f"{'':>9}{log_axis(low, high, 40)}")
    lines += [f"layer {layer:>2} {bars[layer - 1]}" for layer in shown_layers(result["depth"])]
    if exploding is not None:
        lines.append(f"\nThe opposite: a tanh chain, sigma_w = {exploding['sigma_w']:g} (chi_1 = {exploding['chi1']:.3g}"
                     " per layer), the same task and SGD.")
        lines.append(f"step 0: |dL/dh_1| / |dL/dh_L| measured {exploding['measured_ratio']:.3e}, "
                     f"predicted {exploding['predicted_ratio']:.3e}; every gradient "
                     f"{'finite' if exploding['finite'] else 'NOT finite'}, largest |grad| "
                     f"{exploding['largest_grad_norm']:.3g}\n")
        lines += training_text(result, exploding) + explosion_story(result, exploding)
    return "\n".join(lines)


def figure(result):
    """Per chain, the step x layer heatmap of |dL/dW_l| (rows are steps, layers numbered from 1); the
    losses beside the best constant prediction; the printed table of the first chain."""
    chains = [c for c in (result["vanishing"], result["exploding"]) if c is not None]
    heatmaps = [{"title": f"|dL/dW_l| during training, {c['activation']} chain, sigma_w = {c['sigma_w']:g}",
                 "xlabel": "layer l", "ylabel": "training step", "colorbar": "|dL/dW_l|", "x0": 1, "y0": 0,
                 "heatmap": c["weight_grad_norms"]} for c in chains]
    steps = len(result["vanishing"]["loss"])
    loss_lines = [{"label": f"{c['activation']}, sigma_w = {c['sigma_w']:g}", "x": list(range(len(c["loss"]))),
                   "y": c["loss"], "style": f"C{n}-"} for n, c in enumerate(chains)]
    loss_lines.append({"label": "best constant prediction", "x": [0, steps - 1],
                       "y": [result["constant_loss"]] * 2, "style": "k--"})
    vanishing = result["vanishing"]
    grads = np.array(vanishing["weight_grad_norms"])
    shown_steps = sorted({0, steps // 4, steps // 2, steps - 1})
    rows = [[layer, *(grads[s, layer - 1] for s in shown_steps), vanishing["moved"][layer - 1]]
            for layer in shown_layers(result["depth"])]
    rows.append(["1 / L", *(grads[s, 0] / grads[s, -1] for s in shown_steps),
                 vanishing["moved"][0] / vanishing["moved"][-1]])
    table = {"title": f"{vanishing['activation']} chain: |dL/dW_l| at some steps, and how far each layer moved "
                      "(|W_end - W_0| / |W_0|)",
             "table": {"header": ["layer", *(f"step {s}" for s in shown_steps), "moved"], "rows": rows}}
    return heatmaps[:1] + [{"title": "loss", "xlabel": "training step", "ylabel": "mean squared error",
                            "yscale": "linear", "lines": loss_lines}, table] + heatmaps[1:]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
