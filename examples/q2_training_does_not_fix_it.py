"""Question 2: deep layers get reasonable gradients, so won't training fix the shallow ones by itself?

Short answer: no. Each SGD step moves a layer by lr times its own gradient, and the shallow
layers' gradients stay ~1e-12 of the deep layers' at every step, because the reason they are small
(each sigmoid layer scales the backward signal by about sigma_w sigma'(z) <= 1/4) is still there
after the deep layers have learned. The deep layers do learn what they can without the shallow
ones: the mean of the target. So the loss plateaus near the loss of the best constant prediction,
the layer-1 weights move ~1e-12 of their size, and the signal from x never gets through.

Theory (theory.backward_gains, mean-field, exact as width -> infinity) predicts the step-0 ratio
|dL/dh_1| / |dL/dh_L|; training has no closed form, so the rest is measured.

Run:  python examples/q2_training_does_not_fix_it.py --depth 20 --steps 150 [--plot q2.png]
"""
import argparse

import numpy as np

from tinygrad_vg import chain_report, plot, theory, training
from tinygrad_vg.nn import DeepChain, mse_loss

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--depth", type=int, default=20, help="number of layers L (default 20)")
parser.add_argument("--width", type=int, default=16, help="units per layer (default 16)")
parser.add_argument("--activation", choices=["sigmoid", "tanh"], default="sigmoid", help="(default sigmoid)")
parser.add_argument("--sigma-w", type=float, default=1.0, help="W ~ N(0, sigma_w^2 / width) (default 1)")
parser.add_argument("--sigma-b", type=float, default=0.0, help="b ~ N(0, sigma_b^2) (default 0)")
parser.add_argument("--steps", type=int, default=150, help="SGD steps (default 150)")
parser.add_argument("--lr", type=float, default=1.0, help="learning rate (default 1.0)")
parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
parser.add_argument("--plot", metavar="FILE.png", help="also draw a layer x step heatmap of |dL/dW_l|")
args = parser.parse_args()
if args.depth < 2 or args.width < 1 or args.steps < 2:
    parser.error("need --depth >= 2, --width >= 1 and --steps >= 2")

# A task the chain can only solve by using x: a random "teacher" y = tanh(x A).
rng = np.random.default_rng(args.seed)
x = rng.standard_normal((32, args.width))
x /= np.sqrt(np.mean(x ** 2))
y = np.tanh(x @ rng.standard_normal((args.width, args.width)) / np.sqrt(args.width))
constant_loss = np.mean((y - y.mean(axis=0)) ** 2)   # the best any x-independent output can do

chain = DeepChain(args.depth, args.width, activation=args.activation, init="normal",
                  sigma_w=args.sigma_w, sigma_b=args.sigma_b, rng=rng)
initial_weights = [w.data.copy() for w in chain.weights]

output, layer_outputs = chain.forward_with_outputs(x)
loss = mse_loss(output, y)
loss.backward()
report = chain_report(layer_outputs, loss, spectra_max_size=0)
measured_ratio = report.layers[0].grad_norm / report.layers[-1].grad_norm
gains = theory.backward_gains(args.sigma_w, args.sigma_b, args.depth, 1.0, args.activation)
print(f"{args.activation} chain, {args.depth} layers of width {args.width}, sigma_w = {args.sigma_w:g}, "
      f"sigma_b = {args.sigma_b:g}; teacher task y = tanh(x A)")
print(f"step 0: |dL/dh_1| / |dL/dh_L| measured {measured_ratio:.3e}, "
      f"predicted {theory.grad_norm_ratios(gains)[0]:.3e} (theory.backward_gains)\n")

record = training.train(chain, x, y, args.steps, lr=args.lr)
if record.halted:
    print(f"training halted: {record.halted.message}")
grads = np.array(record.weight_grad_norms)          # [step][layer]: |dL/dW_l| before each update
moved = [np.linalg.norm(w.data - w0) / np.linalg.norm(w0) for w, w0 in zip(chain.weights, initial_weights)]

steps = sorted({0, record.steps // 4, record.steps // 2, record.steps - 1})
layers = sorted({1, 2, args.depth // 2, args.depth - 1, args.depth})
print("|dL/dW_l| during training, and how far each layer's weights moved, |W_end - W_0| / |W_0|")
print(f"{'layer':>5}" + "".join(f"  {'step ' + str(s):>10}" for s in steps) + f"  {'moved':>10}")
for layer in layers:
    print(f"{layer:>5}" + "".join(f"  {grads[s, layer - 1]:>10.3e}" for s in steps) + f"  {moved[layer - 1]:>10.3e}")
print(f"{'1 / L':>5}" + "".join(f"  {grads[s, 0] / grads[s, -1]:>10.3e}" for s in steps)
      + f"  {moved[0] / moved[-1]:>10.3e}")

print(f"\nloss: step 0 {record.loss[0]:.4f}, step {steps[1]} {record.loss[steps[1]]:.4f}, "
      f"step {steps[2]} {record.loss[steps[2]]:.4f}, last {record.loss[-1]:.4f}")
print(f"best constant prediction (the target's mean): {constant_loss:.4f} -- the plateau the chain stalls on")

print("\n|dL/dW_l| at the last step, log scale:")
bars, (low, high) = plot.log_bars(list(grads[-1]), 40)
print(f"{'':>9}{plot.log_axis(low, high, 40)}")
for layer in layers:
    print(f"layer {layer:>2} {bars[layer - 1]}")

if args.plot:
    panels = [{"title": "|dL/dW_l| during training (log10)", "xlabel": "training step",
               "ylabel": "layer l - 1", "heatmap": grads.T},
              {"title": "loss", "xlabel": "training step", "ylabel": "mean squared error",
               "lines": [{"label": "training loss", "x": list(range(record.steps)), "y": record.loss},
                         {"label": "best constant prediction", "x": [0, record.steps - 1],
                          "y": [constant_loss, constant_loss], "style": "k--"}]}]
    try:
        plot.save_figure(args.plot, panels)
        print(f"\nwrote {args.plot}")
    except ImportError as error:
        print(f"\n{error}")
