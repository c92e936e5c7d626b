"""Gradient checking: how do I know backward is right, even when the gradient is 1e-30?

Short answer: compare it with central differences (f(x + e) - f(x - e)) / 2e, in float64, entry by
entry, with a tolerance RELATIVE to the size of the Jacobian (tinygrad_vg.gradcheck). A wrong
derivative then fails at every scale. A fixed absolute tolerance (|numeric - analytic| < 1e-5)
cannot tell right from wrong once gradients are tiny, which is exactly where vanishing-gradient
work happens: it passes a 1e-30 gradient that is 6% wrong.

In float32 finite differences are too coarse for the default tolerance: gradcheck refuses float32
inputs unless it is given atol or rtol, and a step float32 can resolve.

Run:  python examples/gradient_check.py [--depth 30 --shrink 0.1]
"""
import argparse

import numpy as np

from tinygrad_vg import gradcheck, ops
from tinygrad_vg.tensor import apply

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--depth", type=int, default=30, help="layers of the vanishing chain (default 30)")
parser.add_argument("--shrink", type=float, default=0.1,
                    help="each layer is tanh(shrink * h): the gradient is about shrink^depth (default 0.1)")
parser.add_argument("--seed", type=int, default=0, help="seed of the inputs")
args = parser.parse_args()
if args.depth < 1 or not 0 < args.shrink:
    parser.error("need --depth >= 1 and --shrink > 0")


class TanhForgotTheSquare(ops.Tanh):
    """A classic bug: d tanh(x)/dx written as 1 - tanh(x) instead of 1 - tanh(x)^2."""

    def vjp(self, g, i):
        return g * (1 - self.y)


def wrong_tanh(t):
    return apply(TanhForgotTheSquare(), t)   # the engine's own apply, with the buggy op


rng = np.random.default_rng(args.seed)
x, w = rng.standard_normal(4), rng.standard_normal(4)

print("1. A small function, f(x, w) = tanh(x * w) * x, every Jacobian entry compared:")
print("  ", gradcheck(lambda x, w: (x * w).tanh() * x, [x, w]))

print("\n2. The same function with the buggy tanh derivative:")
report = gradcheck(lambda x, w: wrong_tanh(x * w) * x, [x, w])
print("  ", report)
print(f"   the report names the entry: output {report.index[0]}, input {report.input} "
      f"({'x' if report.input == 0 else 'w'}) element {report.index[1]}")


def vanishing_chain(h, first_tanh):
    """h_1 = first_tanh(shrink h), then h_l = tanh(shrink h_(l-1)): d h_L / d h is ~shrink^depth."""
    h = first_tanh(h * args.shrink)
    for _ in range(args.depth - 1):
        h = (h * args.shrink).tanh()
    return h.sum()


print(f"\n3. A chain of {args.depth} layers tanh({args.shrink:g} h): the gradient is ~{args.shrink ** args.depth:.0e}")
print(f"{'':<24} {'numeric':>12} {'analytic':>12} {'gradcheck':>10} {'|diff| < 1e-5':>14}")
for name, first_tanh in [("correct backward", lambda t: t.tanh()), ("buggy first tanh", wrong_tanh)]:
    report = gradcheck(lambda h: vanishing_chain(h, first_tanh), [x])
    naive = abs(report.numeric - report.analytic) < 1e-5
    print(f"{name:<24} {report.numeric:>12.4e} {report.analytic:>12.4e} "
          f"{'passed' if report else 'FAILED':>10} {'passed' if naive else 'FAILED':>14}")
print("(worst entry of each check shown; gradcheck's tolerance scales with the Jacobian, the naive one does not)")
print(f"   {report}")

print("\n4. float32 inputs. Rounding (1e-7) over the default step of 1e-6 hides errors of 10%, so gradcheck")
print("   refuses them unless given a tolerance, and then wants a step float32 resolves:")
x32, w32 = x.astype(np.float32), w.astype(np.float32)
try:
    gradcheck(lambda x, w: wrong_tanh(x * w) * x, [x32, w32])
except TypeError as error:
    print("  ", error)
for name, tanh in [("correct backward", lambda t: t.tanh()), ("buggy tanh", wrong_tanh)]:
    print(f"   {name}, eps=1e-3, rtol=1e-2:", gradcheck(lambda x, w: tanh(x * w) * x, [x32, w32], eps=1e-3, rtol=1e-2))
