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

Run:  python examples/q2_training_does_not_fix_it.py --depth 20 --steps 150 [--plot q2.png]
"""
import argparse

import numpy as np

from tinygrad_vg import chain_report, plot, theory, training
from tinygrad_vg.nn import DeepChain, mse_loss

STALL_FRACTION = 0.9     # stalled: the last loss is above 0.9 x the best constant prediction's

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--depth", type=int, default=20, help="number of layers L (default 20)")
parser.add_argument("--width", type=int, default=16, help="units per layer (default 16)")
parser.add_argument("--activation", choices=["sigmoid", "tanh"], default="sigmoid", help="(default sigmoid)")
parser.add_argument("--sigma-w", type=float, default=1.0, help="W ~ N(0, sigma_w^2 / width) (default 1)")
parser.add_argument("--sigma-b", type=float, default=0.0, help="b ~ N(0, sigma_b^2) (default 0)")
parser.add_argument("--exploding-sigma-w", type=float, default=4.0,
                    help="sigma_w of the chaotic tanh chain trained second (default 4; 0 skips it)")
parser.add_argument("--steps", type=int, default=150, help="SGD steps (default 150)")
parser.add_argument("--lr", type=float, default=1.0, help="learning rate (default 1.0)")
parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
parser.add_argument("--plot", metavar="FILE.png", help="also draw a layer x step heatmap of |dL/dW_l|")
args = parser.parse_args()
if args.depth < 2 or args.width < 1 or args.steps < 2 or args.exploding_sigma_w < 0:
    parser.error("need --depth >= 2, --width >= 1, --steps >= 2 and --exploding-sigma-w >= 0")

# A task the chain can only solve by using x: a random "teacher" y = tanh(x A).
rng = np.random.default_rng(args.seed)
x = rng.standard_normal((32, args.width))
x /= np.sqrt(np.mean(x ** 2))
y = np.tanh(x @ rng.standard_normal((args.width, args.width)) / np.sqrt(args.width))
constant_loss = np.mean((y - y.mean(axis=0)) ** 2)   # the best any x-independent output can do


def experiment(activation, sigma_w, rng):
    """Step 0's gradient ratio beside theory, then SGD: per step x layer |dL/dW_l|, and what it did."""
    chain = DeepChain(args.depth, args.width, activation=activation, init="normal",
                      sigma_w=sigma_w, sigma_b=args.sigma_b, rng=rng)
    initial_weights = [w.data.copy() for w in chain.weights]
    output, layer_outputs = chain.forward_with_outputs(x)
    loss = mse_loss(output, y)
    loss.backward()
    report = chain_report(layer_outputs, loss, spectra_max_size=0)
    gains = theory.backward_gains(sigma_w, args.sigma_b, args.depth, 1.0, activation)
    record = training.train(chain, x, y, args.steps, lr=args.lr)
    grads = np.array(record.weight_grad_norms)          # [step][layer]: |dL/dW_l| before each update
    moved = [np.linalg.norm(w.data - w0) / np.linalg.norm(w0) for w, w0 in zip(chain.weights, initial_weights)]
    first_update = [args.lr * g / np.linalg.norm(w0) for g, w0 in zip(grads[0], initial_weights)]
    final_outputs = chain.forward_with_outputs(x)[1]
    return {"activation": activation, "sigma_w": sigma_w, "record": record, "grads": grads, "moved": moved,
            "measured_ratio": report.layers[0].grad_norm / report.layers[-1].grad_norm,
            "predicted_ratio": theory.grad_norm_ratios(gains)[0], "first_update": first_update,
            "finite": bool(np.all(np.isfinite(grads)) and np.all(np.isfinite(record.loss))),
            "saturated": float(np.mean([np.abs(h.data) > 0.99 for h in final_outputs])),
            "stalled": record.loss[-1] > STALL_FRACTION * constant_loss}


def print_training(run):
    record, grads, moved = run["record"], run["grads"], run["moved"]
    if record.halted:
        print(f"training halted: {record.halted.message}")
    steps = sorted({0, record.steps // 4, record.steps // 2, record.steps - 1})
    layers = sorted({1, 2, args.depth // 2, args.depth - 1, args.depth})
    print("|dL/dW_l| during training, and how far each layer's weights moved, |W_end - W_0| / |W_0|")
    print(f"{'layer':>5}" + "".join(f"  {'step ' + str(s):>10}" for s in steps) + f"  {'moved':>10}")
    for layer in layers:
        print(f"{layer:>5}" + "".join(f"  {grads[s, layer - 1]:>10.3e}" for s in steps)
              + f"  {moved[layer - 1]:>10.3e}")
    print(f"{'1 / L':>5}" + "".join(f"  {grads[s, 0] / grads[s, -1]:>10.3e}" for s in steps)
          + f"  {moved[0] / moved[-1]:>10.3e}")
    print(f"\nloss: step 0 {record.loss[0]:.4f}, step {steps[1]} {record.loss[steps[1]]:.4f}, "
          f"step {steps[2]} {record.loss[steps[2]]:.4f}, last {record.loss[-1]:.4f}")
    print(f"best constant prediction (the target's mean): {constant_loss:.4f}")
    if run["stalled"]:
        print(f"stalled: the last loss is {record.loss[-1] / constant_loss:.2f} x the best constant prediction's,"
              f" not {1 - STALL_FRACTION:.0%} below it: the chain has not learned to use x")
    else:
        print(f"not stalled: the last loss is {record.loss[-1] / constant_loss:.2f} x the best constant "
              "prediction's: the chain uses x")


def print_ratio_story(run):
    """Why the layer-1 / layer-L ratio moved: both of its factors, start to end."""
    grads = run["grads"]
    first, last = grads[-1, 0] / grads[0, 0], grads[-1, -1] / grads[0, -1]
    change = first / last
    L = args.depth
    print(f"\nthe ratio |dL/dW_1| / |dL/dW_{L}| went from {grads[0, 0] / grads[0, -1]:.2e} to "
          f"{grads[-1, 0] / grads[-1, -1]:.2e} (x{change:.3g}): |dL/dW_{L}| changed x{last:.3g}, "
          f"|dL/dW_1| x{first:.3g}.")
    if change > 1 and first < 1:
        print(f"It rises only because the top layer's gradient fell faster than layer 1's, which kept falling: "
              f"layer 1 never got a larger gradient.")
    elif change > 1:
        print("It rises because layer 1's gradient grew.")


rng_vanishing, rng_exploding = rng, np.random.default_rng(args.seed + 1)
vanishing = experiment(args.activation, args.sigma_w, rng_vanishing)
print(f"{args.activation} chain, {args.depth} layers of width {args.width}, sigma_w = {args.sigma_w:g}, "
      f"sigma_b = {args.sigma_b:g}; teacher task y = tanh(x A)")
print(f"step 0: |dL/dh_1| / |dL/dh_L| measured {vanishing['measured_ratio']:.3e}, "
      f"predicted {vanishing['predicted_ratio']:.3e} (theory.backward_gains)\n")
print_training(vanishing)
print_ratio_story(vanishing)

print("\n|dL/dW_l| at the last step, log scale:")
bars, (low, high) = plot.log_bars(list(vanishing["grads"][-1]), 40)
print(f"{'':>9}{plot.log_axis(low, high, 40)}")
for layer in sorted({1, 2, args.depth // 2, args.depth - 1, args.depth}):
    print(f"layer {layer:>2} {bars[layer - 1]}")

exploding = None
if args.exploding_sigma_w:
    exploding = experiment("tanh", args.exploding_sigma_w, rng_exploding)
    sigma_w = args.exploding_sigma_w
    print(f"\nThe opposite: a tanh chain, sigma_w = {sigma_w:g} (chi_1 = {theory.tanh_chi1(sigma_w, args.sigma_b):.3g}"
          f" per layer), the same task and SGD.")
    print(f"step 0: |dL/dh_1| / |dL/dh_L| measured {exploding['measured_ratio']:.3e}, "
          f"predicted {exploding['predicted_ratio']:.3e}; every gradient "
          f"{'finite' if exploding['finite'] else 'NOT finite'}, largest |grad| "
          f"{max(exploding['record'].grad_norm):.3g}\n")
    print_training(exploding)
    update, grads = exploding["first_update"], exploding["grads"]
    overshoots = update[0] > 1                           # step 0 moves W_1 by more than its own size
    vanished = grads[-1, 0] / grads[-1, -1] < 1e-2       # and at the end layer 1's gradient is gone
    print(f"\nstep 0's update lr |dL/dW_l| is {update[0]:.3g} x |W_1| at layer 1 and {update[-1]:.3g} x "
          f"|W_{args.depth}| at layer {args.depth}" + (": the step overshoots." if overshoots else "."))
    print(f"At the end {exploding['saturated']:.0%} of all units sit at |h| > 0.99 (tanh' < 0.02) and |dL/dW_1| is "
          f"{grads[-1, 0]:.3g} (step 0: {grads[0, 0]:.3g}), {grads[-1, 0] / grads[-1, -1]:.3g} x |dL/dW_{args.depth}|"
          + (": the explosion turned into vanishing." if vanished else "."))
    if exploding["finite"] and exploding["stalled"] and exploding["measured_ratio"] > 1:
        print("Exploding but finite gradients did not learn either" + (
            ": each step is too large where the gradient is large." if overshoots else f" in {args.steps} steps."))

if args.plot:
    record = vanishing["record"]
    panels = [{"title": "|dL/dW_l| during training (log10)", "xlabel": "training step",
               "ylabel": "layer l - 1", "heatmap": vanishing["grads"].T},
              {"title": "loss", "xlabel": "training step", "ylabel": "mean squared error",
               "lines": [{"label": f"{args.activation}, sigma_w = {args.sigma_w:g}", "x": list(range(record.steps)),
                          "y": record.loss},
                         {"label": "best constant prediction", "x": [0, record.steps - 1],
                          "y": [constant_loss, constant_loss], "style": "k--"}]}]
    if exploding is not None:
        panels[1]["lines"].append({"label": f"tanh, sigma_w = {args.exploding_sigma_w:g}",
                                   "x": list(range(exploding["record"].steps)), "y": exploding["record"].loss})
    try:
        plot.save_figure(args.plot, panels)
        print(f"\nwrote {args.plot}")
    except ImportError as error:
        print(f"\n{error}")
