"""What theory says about two remedies: Adam's first step, and BatchNorm's gradient at initialisation.

Pure numpy, no engine import; each function says whether it is exact or statistical, and where its
statement comes from.
"""
import functools
import math
from typing import NamedTuple

import numpy as np

from .gaussian import phi, phi_prime


def adam_first_step(gradient, lr=1e-3, eps=1e-8):
    """The change Adam's first step makes to a parameter, elementwise: -lr g / (|g| + eps).

    Exact, whatever the betas: m_1 = (1 - b1) g and v_1 = (1 - b2) g^2 (from zero), and the bias
    corrections divide them by (1 - b1) and (1 - b2), so m_hat = g and v_hat = g^2. Each element
    moves by about lr where |g| >> eps, whatever the size of its gradient (the vanishing layer
    moves as far as the top one), and by only lr |g| / eps where |g| << eps: a gradient far below
    eps stays as suppressed as under SGD with lr / eps.
    """
    g = np.asarray(gradient, dtype=np.float64)
    return -lr * g / (np.abs(g) + eps)


class BatchNormGrowth(NamedTuple):
    """per_layer: the factor by which |dL/dh| grows per layer going down (sqrt of squared);
    squared: that of E|dL/dh|^2; method: "exact" or "monte carlo (N samples)"."""
    per_layer: float
    squared: float
    method: str


def batchnorm_gradient_growth(batch, activation="linear", samples=100_000, iterations=30, seed=0):
    """How fast the gradient grows with depth in h_l = phi(BN(W_l h_(l-1) + b_l)) at initialisation.

    Statistical: the mean-field limit of infinite width, in which each unit's pre-activations over
    the batch are a Gaussian vector and the backward pass is averaged independently of the forward
    one (Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz, "A Mean Field Theory of Batch
    Normalization", ICLR 2019: the gradient explodes with depth for every nonlinearity, at a rate
    no weight scale changes). BN (gamma = 1, beta = 0, eps -> 0) sends a unit's batch vector z to
    y = sqrt(B) G z / |G z|, G = I - 11^T / B the centring, so sigma_w and the biases cancel out:
    the rate depends on phi and the batch size B only. Its Jacobian is
    (sqrt(B) / |G z|) (I - u u^T) G with u = G z / |G z|.

    For phi linear the rate is exact in that limit: at the fixed point G z / |G z| is uniform on
    the sphere of the (B - 1)-dimensional centred space, E[1 / |G z|^2] = (B - 1) / (B (B - 3))
    (the mean of 1 / chi^2 with B - 1 degrees of freedom), and E[(I - u u^T)] = (B - 2) / (B - 1)
    there, so E|dL/dh|^2 grows by (B - 2) / (B - 3) per layer (needs B >= 4). For relu, tanh and
    sigmoid no closed form is known here; the same two maps are computed by Monte Carlo over
    `samples` batch vectors: the forward second-moment map iterated to its fixed point, then the
    backward map's largest eigenvalue by power iteration. For relu it tends to pi / (pi - 1)
    ~ 1.47 as B grows (1.78 at B = 8, 1.49 at B = 64); the statistical error is about
    1 / sqrt(samples) of the rate.
    """
    if batch < 4:
        raise ValueError(f"batchnorm_gradient_growth: needs a batch of at least 4, got {batch}")
    if activation == "linear":
        squared = (batch - 2) / (batch - 3)
        return BatchNormGrowth(math.sqrt(squared), squared, "exact")
    return batchnorm_gradient_growth_monte_carlo(batch, activation, samples, iterations, seed)


def batchnorm_gradient_growth_monte_carlo(batch, activation, samples=100_000, iterations=30, seed=0):
    """batchnorm_gradient_growth's two mean-field maps by Monte Carlo, for any activation (for
    linear too, where it can be checked against the exact rate)."""
    if activation not in ACTIVATION_AND_SLOPE:
        raise ValueError(f"batchnorm_gradient_growth: activation must be one of "
                         f"{', '.join(ACTIVATION_AND_SLOPE)}, got {activation!r}")
    phi, slope = ACTIVATION_AND_SLOPE[activation]
    rng = np.random.default_rng(seed)
    centring = np.eye(batch) - 1.0 / batch
    noise = rng.standard_normal((samples, batch))
    covariance = np.eye(batch)
    for _ in range(iterations):                      # forward: the fixed point of h's second moments
        values, vectors = np.linalg.eigh(covariance)
        centred = noise @ (vectors * np.sqrt(np.clip(values, 0, None))).T @ centring
        length = np.linalg.norm(centred, axis=1)
        y = math.sqrt(batch) * centred / length[:, None]
        covariance = phi(y).T @ phi(y) / samples
    u, d, scale = centred / length[:, None], slope(y), batch / length ** 2
    moment, squared = centring / (batch - 1), 1.0   # backward: E|g|^2 = trace of its second moment
    for _ in range(iterations):
        moment = backward_map(moment, u, d, scale, centring)
        squared = np.trace(moment)
        moment = moment / squared
    return BatchNormGrowth(math.sqrt(squared), float(squared), f"monte carlo ({samples} samples)")


def backward_map(moment, u, d, scale, centring):
    """E[J^T D P D J] over the samples, for P = `moment`, D = diag(phi'(y)) and J BN's Jacobian.
    With Q = D P D and q = Q u: (I - u u^T) Q (I - u u^T) = Q - u q^T - q u^T + (u.q) u u^T, so
    each term is a mean of outer products, and nothing of size samples x B x B is formed."""
    q = d * ((d * u) @ moment)
    weighted = scale[:, None] * u
    cross = weighted.T @ q
    inner = (weighted * np.einsum("nb,nb->n", u, q)[:, None]).T @ u
    scaled_slope = np.sqrt(scale)[:, None] * d
    mean = ((scaled_slope.T @ scaled_slope) * moment - cross - cross.T + inner) / len(u)
    return centring @ mean @ centring


ACTIVATION_AND_SLOPE = {   # phi and phi'; tanh's and sigmoid's are gaussian.py's stable forms
    "linear": (lambda y: y, np.ones_like),
    "relu": (lambda y: np.maximum(y, 0.0), lambda y: (y > 0).astype(np.float64)),
    **{name: (functools.partial(phi, activation=name), functools.partial(phi_prime, activation=name))
       for name in ("tanh", "sigmoid")},
}
