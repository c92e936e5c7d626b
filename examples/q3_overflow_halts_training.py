"""Question 3: if z = Wx overflows, why can't the backward pass still fix the weights?

Short answer: backward needs the forward values. Once an activation is inf, the loss is inf, and
every gradient that passes through it is inf or inf * 0 = nan: no entry of dL/dW is usable, and one
SGD step turns every weight into nan. Even just before overflow the gradient carries k^(2L-1),
so the first update throws the weights out of range and the next forward overflows.

This script trains W = k I chains of several depths in float32 with the library's training loop,
which halts at the first non-finite value and names the step, phase, layer and op. Theory
(theory.identity_chain_first_nonfinite) predicts the phase, layer and kind exactly, from the same
float32 arithmetic; theory.overflow_depth_estimates explains the depths with logarithms.

Run:  python examples/q3_overflow_halts_training.py --k 8 [--depths 10 20 21 42 43]
"""
import argparse

import numpy as np

from tinygrad_vg import theory, training
from tinygrad_vg.nn import DeepChain, mse_loss
from tinygrad_vg.optim import SGD

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--k", type=float, default=8.0, help="scale of W = k I (default 8)")
parser.add_argument("--depths", type=int, nargs="+", help="chain depths to train (default: around the estimates)")
parser.add_argument("--width", type=int, default=8, help="units per layer (default 8)")
parser.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="(default float32)")
parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
parser.add_argument("--steps", type=int, default=3, help="training steps per chain (default 3)")
parser.add_argument("--seed", type=int, default=0, help="seed of the input and target")
args = parser.parse_args()
if args.k <= 1 or args.width < 1 or args.steps < 1:
    parser.error("need --k > 1 (a chain with k <= 1 cannot overflow), --width >= 1 and --steps >= 1")

dtype = np.dtype(args.dtype)
rng = np.random.default_rng(args.seed)
x = rng.standard_normal((4, args.width)).astype(dtype)
target = rng.standard_normal((4, args.width)).astype(dtype)

estimates = theory.overflow_depth_estimates(args.k, x, dtype, bias=True)
print(f"W = {args.k:g} I chains in {dtype}, largest finite value {np.finfo(dtype).max:.3e}")
print(f"theory (from logs): the loss overflows from depth {estimates.loss}, "
      f"the gradients from depth {estimates.gradient}, the activations at layer {estimates.activation}\n")
depths = args.depths or sorted({max(1, estimates.loss // 2), estimates.loss - 1, estimates.loss,
                                estimates.activation - 1, estimates.activation})


def describe_prediction(prediction):
    if prediction is None:
        return "step 0 finite"
    if prediction.layer is None:
        return f"forward, the loss, {prediction.kind}"
    return f"{prediction.phase}, layers.{prediction.layer - 1}, {prediction.kind}"


print(f"{'depth':>5}  {'predicted at step 0':<28} {'measured halt: step, phase, module, op, kind':<52} agree")
records = {}
for depth in depths:
    chain = DeepChain(depth, args.width, activation="linear", init="identity", scale=args.k, dtype=dtype)
    record = training.train(chain, x, target, args.steps, lr=args.lr)
    records[depth] = record
    prediction = theory.identity_chain_first_nonfinite(args.k, depth, x, target, dtype, bias=True)
    halt = record.halted
    if halt is None:
        measured, agree = f"no halt in {args.steps} steps", prediction is None
    else:
        measured = f"step {halt.step}, {halt.phase}, {halt.module or 'the loss'}, {halt.op}, {halt.kind}"
        if prediction is None:
            agree = halt.step > 0
        else:  # the engine runs the loss as forward ops outside any module
            where = None if prediction.layer is None else f"layers.{prediction.layer - 1} (Linear)"
            phase = "forward" if prediction.phase == "loss" else prediction.phase
            agree = (halt.step, halt.phase, halt.module, halt.kind) == (0, phase, where, prediction.kind)
    print(f"{depth:>5}  {describe_prediction(prediction):<28} {measured:<52} {'yes' if agree else 'NO'}")

# Where step 0 is finite, the gradient is: look at how big it is.
shallow = min(depths)
record = records[shallow]
if record.steps:
    x64, target64 = x.astype(np.float64), target.astype(np.float64)
    exact = theory.identity_chain(args.k, shallow, x64, target64)
    measured_grad = record.weight_grad_norms[0][0]
    print(f"\ndepth {shallow}, step 0: loss {record.loss[0]:.4e} (theory {exact.loss:.4e})")
    print(f"  |dL/dW_1| measured {measured_grad:.4e}, theory k^(L-1) |G^T x| = {exact.weight_grad_norms[0]:.4e}")
    print(f"  the SGD step lr |dL/dW_1| = {args.lr * measured_grad:.4e} against |W_1| = k sqrt(width) = "
          f"{args.k * np.sqrt(args.width):.4e}:\n  the update, not the data, now sets the weights")

# Without the halt: run one pass past the overflow and look at what backward hands the optimiser.
deep = max(depths)
chain = DeepChain(deep, args.width, activation="linear", init="identity", scale=args.k, dtype=dtype)
with np.errstate(over="ignore", invalid="ignore"):
    loss = mse_loss(chain(x), target)
    loss.backward()
    SGD(chain.parameters(), args.lr).step()
first_grad = chain.weights[0].grad
print(f"\ndepth {deep} without the halt: loss = {float(loss.data)}")
print(f"  dL/dW_1 has {np.isfinite(first_grad).sum()} finite entries of {first_grad.size} "
      f"({np.isnan(first_grad).sum()} nan, {np.isinf(first_grad).sum()} inf)")
print(f"  after one SGD step, W_1 has {np.isnan(chain.weights[0].data).sum()} nan entries of {first_grad.size}:"
      " nothing left to fix")
