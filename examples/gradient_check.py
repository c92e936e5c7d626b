"""Gradient checking: how do I know backward is right, even when the gradient is 1e-30?

Short answer: compare it with central differences (f(x + e) - f(x - e)) / 2e, in float64, entry by
entry, with a tolerance RELATIVE to the size of the Jacobian (tinygrad_vg.gradcheck). A wrong
derivative then fails at every scale. A fixed absolute tolerance (|numeric - analytic| < 1e-5)
cannot tell right from wrong once gradients are tiny, which is exactly where vanishing-gradient
work happens: it passes a 1e-30 gradient that is 6% wrong.

In float32 finite differences are too coarse for the default tolerance: gradcheck refuses float32
inputs unless it is given atol or rtol, and a step float32 can resolve.

Run:  python examples/gradient_check.py [--depth 30 --shrink 0.1] [--plot gradcheck.png] [--html gradcheck.html]
"""
import sys

import numpy as np

from tinygrad_vg import gradcheck, ops
from tinygrad_vg.argtypes import positive_float, positive_int
from tinygrad_vg.script import experiment, main
from tinygrad_vg.tensor import apply

NAIVE_TOLERANCE = 1e-5   # the fixed absolute tolerance that cannot tell right from wrong at 1e-30


def arguments(parser):
    parser.add_argument("--depth", type=positive_int, default=30, help="layers of the vanishing chain (default 30)")
    parser.add_argument("--shrink", type=positive_float, default=0.1,
                        help="each layer is tanh(shrink * h): the gradient is about shrink^depth (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs")


class TanhForgotTheSquare(ops.Tanh):
    """A classic bug: d tanh(x)/dx written as 1 - tanh(x) instead of 1 - tanh(x)^2."""

    def vjp(self, g, i):
        return g * (1 - self.y)


def wrong_tanh(t):
    return apply(TanhForgotTheSquare(), t)   # the engine's own apply, with the buggy op


def correct_tanh(t):
    return t.tanh()


def checked(report):
    """A GradcheckReport as plain data: the verdict, the worst entry and its values, the report's text."""
    return {"passed": bool(report), "numeric": report.numeric, "analytic": report.analytic, "error": report.error,
            "tolerance": report.tolerance, "scale": report.scale,
            "output": report.output, "input": report.input,
            "index": None if report.index is None else [list(part) for part in report.index],   # mode "full"
            "naive_passed": bool(abs(report.numeric - report.analytic) < NAIVE_TOLERANCE), "text": str(report)}


@experiment
def run(depth=30, shrink=0.1, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(4), rng.standard_normal(4)

    def small(tanh):                     # f(x, w) = tanh(x * w) * x
        return lambda x, w: tanh(x * w) * x

    def vanishing_chain(first_tanh, depth):     # h_1 = first_tanh(shrink h), then h_l = tanh(shrink h_(l-1))
        def chain(h):
            h = first_tanh(h * shrink)
            for _ in range(depth - 1):
                h = (h * shrink).tanh()
            return h.sum()
        return chain

    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    try:
        gradcheck(small(wrong_tanh), [x32, w32])
        refusal = None
    except TypeError as error:
        refusal = str(error)
    return {"depth": depth, "shrink": shrink,
            "small": checked(gradcheck(small(correct_tanh), [x, w])),
            "small_buggy": checked(gradcheck(small(wrong_tanh), [x, w])),
            "chain": {name: checked(gradcheck(vanishing_chain(tanh, depth), [x]))
                      for name, tanh in (("correct backward", correct_tanh), ("buggy first tanh", wrong_tanh))},
            # the same two checks at every depth up to `depth`: the bug's error shrinks with the gradient
            "by_depth": [{"depth": d, **{name: checked(gradcheck(vanishing_chain(tanh, d), [x]))
                                         for name, tanh in (("correct", correct_tanh), ("buggy", wrong_tanh))}}
                         for d in range(1, depth + 1)],
            "float32_refusal": refusal,
            "float32": {name: checked(gradcheck(small(tanh), [x32, w32], eps=1e-3, rtol=1e-2))
                        for name, tanh in (("correct backward", correct_tanh), ("buggy tanh", wrong_tanh))}}


def verdict(passed):
    return "passed" if passed else "FAILED"


def show(result):
    buggy = result["small_buggy"]
    lines = ["1. A small function, f(x, w) = tanh(x * w) * x, every Jacobian entry compared:",
             "   " + result["small"]["text"],
             "\n2. The same function with the buggy tanh derivative:",
             "   " + buggy["text"],
             f"   the report names the entry: output {tuple(buggy['index'][0])}, input {buggy['input']} "
             f"({'x' if buggy['input'] == 0 else 'w'}) element {tuple(buggy['index'][1])}",
             f"\n3. A chain of {result['depth']} layers tanh({result['shrink']:g} h): the gradient is "
             f"~{result['shrink'] ** result['depth']:.0e}",
             f"{'':<24} {'numeric':>12} {'analytic':>12} {'gradcheck':>10} {'|diff| < 1e-5':>14}"]
    for name, c in result["chain"].items():
        lines.append(f"{name:<24} {c['numeric']:>12.4e} {c['analytic']:>12.4e} "
                     f"{verdict(c['passed']):>10} {verdict(c['naive_passed']):>14}")
    lines += ["(worst entry of each check shown; gradcheck's tolerance scales with the Jacobian, the naive one does not)",
              f"   {result['chain']['buggy first tanh']['text']}",
              "\n4. float32 inputs. Rounding (1e-7) over the default step of 1e-6 hides errors of 10%, so gradcheck",
              "   refuses them unless given a tolerance, and then wants a step float32 resolves:"]
    if result["float32_refusal"]:
        lines.append("   " + result["float32_refusal"])
    lines += [f"   {name}, eps=1e-3, rtol=1e-2: {c['text']}" for name, c in result["float32"].items()]
    return "\n".join(lines)


def figure(result):
    def row(name, c):
        return [name, c["numeric"], c["analytic"], verdict(c["passed"]), verdict(c["naive_passed"])]

    header = ["check (worst entry)", "numeric", "analytic", "gradcheck", "|diff| < 1e-5"]
    depths = [row["depth"] for row in result["by_depth"]]
    errors = {"title": f"tanh({result['shrink']:g} h) chains: the buggy derivative's error shrinks with the gradient",
              "xlabel": "layers", "ylabel": "|numeric - analytic| (worst entry)", "lines": [
                  {"label": "buggy first tanh", "x": depths, "y": [row["buggy"]["error"] for row in result["by_depth"]],
                   "style": "C3o"},
                  {"label": "correct backward", "x": depths,
                   "y": [row["correct"]["error"] for row in result["by_depth"]], "style": "C0o"},
                  {"label": "gradcheck's tolerance (relative)", "x": depths,
                   "y": [row["buggy"]["tolerance"] for row in result["by_depth"]], "style": "k-"},
                  {"label": f"fixed tolerance {NAIVE_TOLERANCE:g}", "x": [depths[0], depths[-1]],
                   "y": [NAIVE_TOLERANCE] * 2, "style": "k--"}]}
    return [errors, {"title": f"a {result['depth']}-layer vanishing chain: gradcheck's relative tolerance against a "
                      "fixed absolute one",
             "table": {"header": header, "rows": [row(name, c) for name, c in result["chain"].items()]}},
            {"title": "the small function f(x, w) = tanh(x * w) * x, in float64 and in float32",
             "table": {"header": header, "rows": [row("float64, correct", result["small"]),
                                                  row("float64, buggy tanh", result["small_buggy"])]
                       + [row(f"float32 (eps 1e-3, rtol 1e-2), {name}", c) for name, c in result["float32"].items()]}}]


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
