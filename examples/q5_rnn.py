"""Question 5: why are RNNs hit hardest?

Short answer: an RNN applies the SAME recurrent matrix W at every time step, so the gradient
reaching h_t from a loss at step T has been multiplied by W^T diag(tanh') T - t times:
||dL/dh_t|| is about rho(W)^(T-t) ||dL/dh_T||, with rho the spectral radius (Goodfellow et al.
section 8.2.5). A feed-forward chain can give each layer its own, well-chosen matrix; an RNN
has one matrix, sequences hundreds of steps long, and training moves that one matrix's
eigenvalues across 1 for every step at once. Long-range terms of dL/dW vanish beside short ones,
so long dependencies are not learned (Bengio et al. 1994, Pascanu et al. 2013).

Theory: for W = r Q (Q orthogonal) and a nearly linear tanh (small inputs), ||dL/dh_t|| /
||dL/dh_T|| = r^(T-t) up to the tanh' factors (each <= 1). For any W it is at most
(sigma_max(W))^(T-t) (theory.rnn_gradient_bound, exact as a bound but loose: a Gaussian W has
sigma_max ~ 2 rho) and follows ||W^s||_2 (theory.linear_rnn_gradient_norms) when tanh is nearly linear.

Saturation: each step back also multiplies by diag(tanh'(a_t)), and tanh' < 1 wherever tanh is
not linear. For W = r Q a gradient spread evenly over the units keeps rms(tanh'(a_t)) of its norm
at that factor and all of it at W^T, so ||dL/dh_t|| / ||dL/dh_T|| ~ r^(T-t) prod_(s>t) rms tanh'(a_s):
measured by the script at --input-scale 1 (T = 60, r = 0.9, 1, 1.1), within a factor 1.6 over ratios
of 5e-11 to 4e-7 that r^(T-t) misses by 1e7 to 1e9. It is an estimate (it assumes the spread), not
a bound.

Run:  python examples/q5_rnn.py --steps 60 --radius 0.9 1.0 1.1 [--plot q5.png]
"""
import argparse

import numpy as np

from tinygrad_vg import Tensor, plot, theory
from tinygrad_vg.nn import RNN, init, mse_loss

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--steps", type=int, default=60, help="sequence length T (default 60)")
parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
parser.add_argument("--radius", type=float, nargs="+", default=[0.9, 1.0, 1.1],
                    help="spectral radii r of W = r Q, Q orthogonal (default 0.9 1.0 1.1)")
parser.add_argument("--gaussian-scale", type=float, default=1.0,
                    help="s of the Gaussian W ~ N(0, s^2/hidden) of the second table (default 1.0)")
parser.add_argument("--input-scale", type=float, default=1e-5,
                    help="size of the inputs; small keeps tanh nearly linear (default 1e-5; try 0.01 "
                         "to see saturation pull r > 1 below r^(T-t))")
parser.add_argument("--every", type=int, default=10, help="print every n-th step back (default 10)")
parser.add_argument("--seed", type=int, default=0, help="seed of the weights and data")
parser.add_argument("--plot", metavar="FILE.png", help="also draw ||dL/dh_t|| against T - t")
args = parser.parse_args()
if args.steps < 2 or args.hidden < 1 or args.every < 1:
    parser.error("need --steps >= 2, --hidden >= 1 and --every >= 1")

rng = np.random.default_rng(args.seed)
inputs = args.input_scale * rng.standard_normal((args.steps, 4, args.hidden))
target = rng.standard_normal((4, args.hidden))


def gradient_through_time(set_recurrent_weight):
    """(||dL/dh_t|| / ||dL/dh_T||, its estimate from saturation, W) for s = T - t = 0..T-1, the loss on
    the last state only."""
    rnn = RNN(args.hidden, args.hidden, rng=args.seed)
    set_recurrent_weight(rnn.weight_hh)
    init.constant_(rnn.bias, 0.0)
    _, last_state = rnn(Tensor(inputs))
    mse_loss(last_state, target).backward()
    # hidden_states = [h_0, ..., h_T]; h_t.grad = dL/dh_t, back through T - t copies of W
    norms = np.array([np.linalg.norm(h.grad) for h in rnn.hidden_states[1:]])[::-1]
    # tanh'(a_t) = 1 - h_t^2 for t = 2..T: s steps back the gradient has passed a_T, ..., a_(T-s+1)
    rms_derivative = [np.sqrt(np.mean((1 - h.data ** 2) ** 2)) for h in rnn.hidden_states[2:]]
    radius = theory.spectral_radius(rnn.weight_hh.data)
    return norms / norms[0], theory.saturated_rnn_gradient_ratios(radius, rms_derivative), rnn.weight_hh.data


shown = sorted(set(range(0, args.steps, args.every)) | {args.steps - 1})
orthogonal = {r: gradient_through_time(lambda w: init.orthogonal_(w, gain=r, rng=args.seed))
              for r in args.radius}
print(f"tanh RNN, {args.hidden} hidden units, T = {args.steps}, loss on h_T; W = r Q with Q orthogonal,")
print("so every eigenvalue and singular value of W has modulus r.\n")
print("||dL/dh_t|| / ||dL/dh_T||: measured by backward through time, predicted r^(T-t), and r^(T-t) times the")
print("product of rms tanh'(a_s) over the steps it passed (the saturation it met)")
print(f"{'T-t':>4}" + "".join(f"  {'r=' + format(r, 'g') + ' measured':>16} {'r^(T-t)':>10} {'x tanh':>10}"
                              for r in args.radius))
for s in shown:
    print(f"{s:>4}" + "".join(f"  {orthogonal[r][0][s]:>16.4e} {r ** s:>10.4e} {orthogonal[r][1][s]:>10.4e}"
                              for r in args.radius))
least = min(orthogonal[r][1][-1] / r ** (args.steps - 1) for r in args.radius)
print(f"over the {args.steps - 1} steps back the rms tanh' factors multiply to {least:.4g} at least: "
      + ("tanh is nearly linear here." if least > 0.99 else "saturation, not W, takes that much of the gradient."))

ratios, _, weight = gradient_through_time(
    lambda w: init.normal_(w, 0.0, args.gaussian_scale / np.sqrt(args.hidden), rng=args.seed))
rho, sigma_max = theory.spectral_radius(weight), theory.largest_singular_value(weight)
linear = theory.linear_rnn_gradient_norms(weight, args.steps - 1)
bound = theory.rnn_gradient_bound(weight, args.steps - 1, derivative_bound=1.0)
print(f"\nGaussian W ~ N(0, {args.gaussian_scale:g}^2/{args.hidden}): spectral radius rho = {rho:.4f}, "
      f"largest singular value sigma_max = {sigma_max:.4f}")
print(f"{'T-t':>4}  {'measured':>10}  {'||W^s||_2':>10}  {'rho^s':>10}  {'bound sigma_max^s':>17}")
for s in shown:
    print(f"{s:>4}  {ratios[s]:>10.4e}  {linear[s]:>10.4e}  {rho ** s:>10.4e}  {bound[s]:>17.4e}")
growth = np.exp(np.polyfit(np.arange(args.steps // 2, args.steps), np.log(ratios[args.steps // 2:]), 1)[0])
print(f"measured growth per step over the second half: {growth:.4f}; rho = {rho:.4f}; sigma_max = {sigma_max:.4f}")
print("The measured ratio never exceeds the bound, and it grows or decays at the rate of rho, not of sigma_max:")
print("the single matrix's largest eigenvalue decides every long-range gradient.")

if args.plot:
    back = list(range(args.steps))
    lines = []
    for n, (r, (measured, _, _)) in enumerate(orthogonal.items()):
        lines.append({"label": f"W = {r:g} Q measured", "x": back, "y": measured, "style": f"C{n}o"})
        lines.append({"label": f"{r:g}^(T-t)", "x": back, "y": [r ** s for s in back], "style": f"C{n}-"})
    lines.append({"label": "Gaussian W measured", "x": back, "y": ratios, "style": "k."})
    lines.append({"label": "rho^(T-t)", "x": back, "y": [rho ** s for s in back], "style": "k-"})
    lines.append({"label": "sigma_max^(T-t) bound", "x": back, "y": bound, "style": "k--"})
    try:
        plot.save_figure(args.plot, [{"title": "gradient through time", "xlabel": "T - t (steps back)",
                                      "ylabel": "||dL/dh_t|| / ||dL/dh_T||", "lines": lines}])
        print(f"\nwrote {args.plot}")
    except ImportError as error:
        print(f"\n{error}")
