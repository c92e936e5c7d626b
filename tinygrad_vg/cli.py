"""`tinygrad-vg` / `python -m tinygrad_vg`: deep-chain experiments from the command line."""
import argparse

import numpy as np

from .tensor import Tensor


def scaled_identity_chain(scale, depth, width=4):
    """x_l = x_{l-1} @ (scale * I): return the per-layer norms of the activations and of d loss/d x_l."""
    x = Tensor(np.ones((1, width)))
    weights = [Tensor(scale * np.eye(width), requires_grad=True) for _ in range(depth)]
    outputs = []
    for w in weights:
        x = x @ w.T
        outputs.append(x)
    (x * x).sum().backward()
    return [np.linalg.norm(h.data) for h in outputs], [np.linalg.norm(h.grad) for h in outputs]


def demo(depth):
    """Weights a bit larger or smaller than the identity: the gradient at layer 1 is scale^depth-ish."""
    print(f"A linear chain of {depth} layers, W = scale * I, loss = sum(x_L^2).\n")
    print(f"{'scale':>6} {'|x_1|':>10} {'|x_L|':>10} {'|dL/dx_1|':>10} {'|dL/dx_L|':>10}  predicted |dL/dx_1|")
    for scale in (0.9, 1.0, 1.1):
        forward, backward = scaled_identity_chain(scale, depth)
        # loss = |x_L|^2 with x_L = scale^(L-l) x_l  =>  |dL/dx_l| = 2 scale^(L-l) |x_L|
        predicted = 2 * scale ** (depth - 1) * forward[-1]
        print(f"{scale:>6} {forward[0]:>10.3g} {forward[-1]:>10.3g} {backward[0]:>10.3g} "
              f"{backward[-1]:>10.3g}  {predicted:.3g}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tinygrad-vg", description=__doc__)
    parser.add_argument("--depth", type=int, default=50, help="number of layers (default 50)")
    args = parser.parse_args(argv)
    if args.depth < 1:
        parser.error("--depth must be at least 1")
    demo(args.depth)


if __name__ == "__main__":
    main()
