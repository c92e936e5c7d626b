"""Learning dynamics of a deep linear chain: Saxe, McClelland & Ganguli 2014 ("Exact solutions to
the nonlinear dynamics of learning in deep linear neural networks").

Setting (this project's convention): h_L = x W_1^T ... W_L^T, no biases, width n, P inputs whitened
so that X^T X / P = I, targets Y = X M^T with M = U diag(s) V^T, loss = mean((h_L - Y)^2) over all
P n entries. Then dLoss/dW_tot = (2 / n) (W_tot - M) for W_tot = W_L ... W_1.

Balanced, decoupled initial conditions: W_1 = a R_1 V^T, W_l = a R_l R_{l-1}^T, W_L = a U R_{L-1}^T
with orthogonal R_l (each layer is a times an orthogonal matrix; only the first and last are
aligned with the task). Gradient descent keeps this form: mode alpha has the same strength a_alpha
in every layer, and its end-to-end strength u_alpha = u_alpha^T W_tot v_alpha = a_alpha^L obeys,
per step of learning rate lr and with tau = n / (2 lr) steps,
    a <- a + a^(L-1) (s - a^L) / tau                     (gradient descent, exactly)
    tau du/dt = L u^(2 - 2/L) (s - u)                     (its continuous-time limit, Saxe eq. for N_l = L + 1)
"""
import math

import numpy as np

# Gauss-Legendre nodes for learning_time's integral in the logit variable, per unit-length panel
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)


def time_constant(lr, width):
    """tau = n / (2 lr), in steps: the time unit of the mode dynamics for the loss above."""
    if lr <= 0 or width < 1:
        raise ValueError(f"time_constant: need lr > 0 and width >= 1, got lr={lr}, width={width}")
    return width / (2.0 * lr)


def largest_stable_lr(s, depth, width):
    """n / (L s^(2 - 2/L)): gradient descent on the balanced chain converges to a mode of strength s
    only below this learning rate. Linearising a <- a + a^(L-1) (s - a^L) / tau at a* = s^(1/L)
    gives the factor 1 - L s^(2 - 2/L) / tau, which must stay above -1 (this project's derivation;
    the 1/L is why Saxe et al. compare depths at a learning rate that falls with depth). Exact.
    """
    return width / (depth * s ** (2.0 - 2.0 / depth))


def check_mode(s, u0, depth):
    if not (s > 0 and 0 < u0 < s) or depth < 1:
        raise ValueError(f"learning dynamics: need s > 0, 0 < u0 < s and depth >= 1, got s={s}, u0={u0}, depth={depth}")


def learning_time(s, u0, uf, depth, tau):
    """The time (in the units of tau) for a mode's strength to grow from u0 to uf < s.

    t = (tau / L) * integral_{u0}^{uf} du / (u^(2 - 2/L) (s - u)). With x = ln(u / (s - u)),
    du = u (s - u) dx / s and the integrand becomes u^(2/L - 1) / s, smooth in x: Gauss-Legendre on
    unit panels, exact to ~1e-13 relative. Closed forms: L = 1, tau ln((s - u0) / (s - uf));
    L = 2, (tau / 2s) ln(uf (s - u0) / (u0 (s - uf))) (Saxe et al. 2014). Exact for gradient flow.
    """
    check_mode(s, u0, depth)
    if not u0 <= uf < s:
        raise ValueError(f"learning_time: need u0 <= uf < s, got u0={u0}, uf={uf}, s={s}")
    start, stop = math.log(u0 / (s - u0)), math.log(uf / (s - uf))
    panels = max(1, math.ceil(stop - start))
    edges = np.linspace(start, stop, panels + 1)
    half = 0.5 * (edges[1:] - edges[:-1])
    x = (edges[:-1] + half)[:, None] + half[:, None] * _NODES
    u = s / (1.0 + np.exp(-x))
    integral = float(np.sum(half[:, None] * _WEIGHTS * u ** (2.0 / depth - 1.0))) / s
    return tau / depth * integral


def deep_limit_learning_time(s, u0, uf, tau_per_layer):
    """lim L -> infinity of learning_time with tau = L tau_per_layer (a learning rate lr_0 / L).

    u^(2 - 2/L) -> u^2, and 1 / (u^2 (s - u)) = 1 / (s u^2) + 1 / (s^2 u) + 1 / (s^2 (s - u)) gives
    tau_0 [(1/u0 - 1/uf) / s + ln(uf (s - u0) / (u0 (s - uf))) / s^2]: finite, so with u0 held fixed
    (an orthogonal, near-isometric start) a chain of any depth learns in bounded time, while with a
    per-layer scale a fixed (u0 = a^L) the 1/u0 term grows exponentially with depth (Saxe et al. 2014).
    """
    check_mode(s, u0, 1)
    return tau_per_layer * ((1.0 / u0 - 1.0 / uf) / s + math.log(uf * (s - u0) / (u0 * (s - uf))) / s ** 2)


def mode_strength(t, s, u0, depth, tau):
    """u(t), gradient flow from u(0) = u0; t a number or an array (same units as tau).

    L = 1: s - (s - u0) e^(-t/tau). L = 2: s e^(2st/tau) / (e^(2st/tau) - 1 + s/u0), Saxe et al.'s
    sigmoid. L >= 3: learning_time inverted by bisection (it increases with uf). Exact for the flow.
    """
    check_mode(s, u0, depth)
    t = np.asarray(t, dtype=np.float64)
    if depth == 1:
        return s - (s - u0) * np.exp(-t / tau)
    if depth == 2:
        return s / (1.0 + (s / u0 - 1.0) * np.exp(-2.0 * s * t / tau))
    out = np.empty(t.shape)
    for index, time in np.ndenumerate(t):
        low, high = u0, s
        for _ in range(60):       # 2^-60 of s: below rounding
            middle = 0.5 * (low + high)
            if middle >= s or learning_time(s, u0, middle, depth, tau) > time:
                high = middle
            else:
                low = middle
        out[index] = 0.5 * (low + high)
    return out


def gradient_descent_modes(s, u0, depth, tau, steps):
    """u_alpha after 0..steps steps of gradient descent, shape (steps + 1, number of modes).

    Iterates a <- a + a^(L-1) (s - a^L) / tau from a = u0^(1/L), the exact per-step update of
    the balanced decoupled chain (module docstring): equal to the engine's training to rounding.
    """
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    for value in s:
        check_mode(value, u0, depth)
    a = np.full(s.shape, u0 ** (1.0 / depth))
    history = [a ** depth]
    for _ in range(steps):
        a = a + a ** (depth - 1) * (s - a ** depth) / tau
        history.append(a ** depth)
    return np.array(history)


def first_step_reaching(strengths, level):
    """The first step at which a sequence of strengths is >= level (None if it never is)."""
    reached = np.nonzero(np.asarray(strengths) >= level)[0]
    return int(reached[0]) if reached.size else None
