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

Run:  python examples/q7_batchnorm_and_adam.py --depth 40 --steps 60 [--plot q7.png]
"""
import argparse

import numpy as np

from tinygrad_vg import optim, plot, theory, training
from tinygrad_vg.nn import DeepChain, mse_loss

STALL_FRACTION = 0.9     # stalled: the last loss is above 0.9 x the best constant prediction's

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--depth", type=int, default=40, help="number of layers L (default 40)")
parser.add_argument("--width", type=int, default=48, help="units per layer (default 48)")
parser.add_argument("--batch", type=int, default=32, help="rows of the input, also BatchNorm's batch (default 32)")
parser.add_argument("--steps", type=int, default=60, help="training steps per variant (default 60)")
parser.add_argument("--sigma-w", type=float, default=0.5, help="W ~ N(0, sigma_w^2 / width) (default 0.5)")
parser.add_argument("--lr", type=float, default=0.1, help="SGD's learning rate (default 0.1)")
parser.add_argument("--adam-lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3)")
parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
parser.add_argument("--plot", metavar="FILE.png", help="also draw |dL/dh_l| at step 0 and the loss curves")
args = parser.parse_args()
if args.depth < 2 or args.width < 1 or args.steps < 1 or args.batch < 4:
    parser.error("need --depth >= 2, --width >= 1, --steps >= 1 and --batch >= 4")

L, n = args.depth, args.width


def sgd(params):
    return optim.SGD(params, lr=args.lr)


def momentum(params):
    return optim.SGD(params, lr=args.lr, momentum=0.9)


def adam(eps):
    return lambda params: optim.Adam(params, lr=args.adam_lr, eps=eps)


variants = [  # name, DeepChain options, optimiser
    ("SGD", {}, sgd),
    ("SGD + momentum 0.9", {}, momentum),
    ("Adam, eps 1e-8", {}, adam(1e-8)),
    ("Adam, eps 1e-20", {}, adam(1e-20)),
    ("SGD + BatchNorm", {"norm": "batch"}, sgd),
    ("Adam + BatchNorm", {"norm": "batch"}, adam(1e-8)),
    ("SGD + LayerNorm", {"norm": "layer"}, sgd),
    ("SGD + skip connection", {"residual": True}, sgd),
]


def predicted_ratio(options):
    """|dL/dh_1| / |dL/dh_L| at initialisation, from theory; None where there is no formula here."""
    if options.get("norm") == "batch":
        return theory.batchnorm_gradient_growth(args.batch, "tanh").per_layer ** (L - 1)
    if options:
        return None
    return theory.grad_norm_ratios(theory.backward_gains(args.sigma_w, 0.0, L, 1.0, "tanh"))[0]


# The task (as in q2 and q6): a random teacher y = tanh(x A); a constant output reaches `constant_loss`.
rng = np.random.default_rng(args.seed)
x = rng.standard_normal((args.batch, n))
y = np.tanh(x @ rng.standard_normal((n, n)) / np.sqrt(n))
constant_loss = float(np.mean((y - y.mean(axis=0)) ** 2))

results = {}
for name, options, make_optimizer in variants:
    chain = DeepChain(L, n, activation="tanh", init="normal", sigma_w=args.sigma_w, rng=args.seed, **options)
    first, last = chain.layers[0].weight, chain.layers[-1].weight
    start = first.data.copy(), last.data.copy()
    output, layer_outputs = chain.forward_with_outputs(x)
    mse_loss(output, y).backward()
    grad_norms = [np.linalg.norm(h.grad) for h in layer_outputs]
    largest_first_grad = np.abs(first.grad).max()
    optimizer = make_optimizer(chain.parameters())
    if isinstance(optimizer, optim.Adam):
        group = optimizer.param_groups[0]
        predicted_move = np.linalg.norm(theory.adam_first_step(first.grad, group["lr"], group["eps"]))
    else:                              # SGD's first step, momentum's too (its buffer starts as g)
        predicted_move = args.lr * np.linalg.norm(first.grad)
    moves = []                         # |W_1 - W_1(0)| / |W_1(0)| and the same for W_L after each step
    record = training.train(chain, x, y, args.steps, optimizer=optimizer, on_step=lambda step, record: moves.append(
        [np.linalg.norm(first.data - start[0]) / np.linalg.norm(start[0]),
         np.linalg.norm(last.data - start[1]) / np.linalg.norm(start[1])]))
    moves = np.array(moves)
    results[name] = {
        "grad_norms": grad_norms, "ratio": grad_norms[0] / grad_norms[-1], "predicted_ratio": predicted_ratio(options),
        "first_move": moves[0, 0] * np.linalg.norm(start[0]), "predicted_first_move": predicted_move,
        "largest_first_grad": largest_first_grad, "moves": moves, "record": record, "halted": record.halted is not None,
        "stalled": record.halted is not None or record.loss[-1] > STALL_FRACTION * constant_loss}

print(f"tanh chain, {L} layers of width {n}, sigma_w {args.sigma_w:g}, batch {args.batch}; teacher task y = tanh(x A); "
      f"{args.steps} steps (SGD lr {args.lr:g}, Adam lr {args.adam_lr:g})")
print(f"(a constant output scores {constant_loss:.4f}; a run stalled when it ends above {STALL_FRACTION:g} of that)\n")
print(f"{'variant':<22} {'|dL/dh_1|/|dL/dh_L|':>19} {'predicted':>10} {'1st |dW_1|':>10} {'predicted':>10} "
      f"{'W_1 moved':>10} {'W_L moved':>10} {'loss 0':>8} {f'loss {args.steps}':>9}")
for name, r in results.items():
    predicted = "-" if r["predicted_ratio"] is None else format(r["predicted_ratio"], ".2e")
    last_loss = f"halted {r['record'].halted.step}" if r["halted"] else f"{r['record'].loss[-1]:.4f}"
    print(f"{name:<22} {r['ratio']:>19.2e} {predicted:>10} {r['first_move']:>10.2e} {r['predicted_first_move']:>10.2e} "
          f"{r['moves'][-1, 0]:>10.2e} {r['moves'][-1, 1]:>10.2e} {r['record'].loss[0]:>8.4f} {last_loss:>9}")
print("\n|dL/dh| ratio and its prediction at step 0 (mean-field; '-': no formula here); 1st |dW_1|: the first "
      "update of W_1,\nbeside theory's (Adam's exact, SGD's lr |g|); W moved: |W - W(0)| / |W(0)| after the last step.")


def ending(name):
    """How the run ended: its last loss as a fraction of the best constant prediction's, and whether
    that is a stall (above STALL_FRACTION of it) or training."""
    r = results[name]
    if r["halted"]:
        return f"halted at step {r['record'].halted.step}"
    fraction = r["record"].loss[-1] / constant_loss
    return f"{'stalled' if r['stalled'] else 'trained'} at {fraction:.2f} of the constant's loss"


def direction(ratio):
    return "grows" if ratio > 1 else "shrinks"


sgd_run, adam_run, tiny_eps = results["SGD"], results["Adam, eps 1e-8"], results["Adam, eps 1e-20"]
batch_run, layer_run, skip_run = results["SGD + BatchNorm"], results["SGD + LayerNorm"], results["SGD + skip connection"]
growth = theory.batchnorm_gradient_growth(args.batch, "tanh").per_layer
print("\nANSWER")
print(f"- Momentum changes every layer's steps alike: the ratio stays {results['SGD + momentum 0.9']['ratio']:.1e}, "
      f"W_1 moved {results['SGD + momentum 0.9']['moves'][-1, 0]:.1e} of itself; {ending('SGD + momentum 0.9')} "
      f"(SGD: {ending('SGD')}).")
below = "below" if adam_run["largest_first_grad"] < 1e-8 else "not below"
print(f"- Adam moves layer 1 ({adam_run['moves'][-1, 0]:.1e} of itself after {args.steps} steps, SGD "
      f"{sgd_run['moves'][-1, 0]:.1e}), as far as its eps lets it: dL/dW_1's largest element at step 0, "
      f"{adam_run['largest_first_grad']:.1e}, is {below} eps = 1e-8, and W_1's first move is "
      f"{adam_run['first_move']:.1e} (lr g / (|g| + eps) elementwise); with eps = 1e-20 it is "
      f"{tiny_eps['first_move']:.1e}. With eps 1e-8: {ending('Adam, eps 1e-8')}; with eps 1e-20: "
      f"{ending('Adam, eps 1e-20')}. Moving layer 1 is not enough while the forward signal from x is lost too.")
print(f"- BatchNorm: the gradient {direction(batch_run['ratio'])} on the way down, |dL/dh_1| / |dL/dh_L| = "
      f"{batch_run['ratio']:.1e} (mean-field: {batch_run['predicted_ratio']:.1e}, {growth:.3f} per layer at batch "
      f"{args.batch}, whatever sigma_w). With SGD, W_1's first step is {batch_run['moves'][0, 0]:.2f} of its size; "
      f"{ending('SGD + BatchNorm')}. With Adam, whose steps do not grow with the gradient: {ending('Adam + BatchNorm')}.")
print(f"- LayerNorm: |dL/dh_1| / |dL/dh_L| = {layer_run['ratio']:.1e}; {ending('SGD + LayerNorm')}.")
print(f"- The skip connection: |dL/dh_1| / |dL/dh_L| = {skip_run['ratio']:.1e}; {ending('SGD + skip connection')}.")

if args.plot:
    layers = list(range(1, L + 1))
    panels = [{"title": "|dL/dh_l| at step 0", "xlabel": "layer l", "ylabel": "|dL/dh_l|",
               "lines": [{"label": name, "x": layers, "y": r["grad_norms"], "style": "o-"} for name, r in results.items()]},
              {"title": "training loss", "xlabel": "step", "ylabel": "mean squared error",
               "lines": [{"label": name, "x": list(range(len(r["record"].loss))), "y": r["record"].loss}
                         for name, r in results.items()]}]
    try:
        plot.save_figure(args.plot, panels, title=f"one tanh chain of {L} layers: optimisers and norms")
        print(f"\nwrote {args.plot}")
    except ImportError as error:
        print(f"\n{error}")
