"""Repeated multiplication by W through its eigendecomposition, and what the eigenvalues miss.

Backward through a linear RNN h_t = h_{t-1} W^T + x_t U^T, the gradient is multiplied by W^T at
every step: dL/dh_{T-s} = (W^T)^s c with c = dL/dh_T.  If W = V diag(lambda) V^-1, then
(W^T)^s = V^-T diag(lambda^s) V^T: in the coordinates V^T g each entry scales by its own lambda_i^s,
and ||g|| grows or decays like rho^s, rho = max |lambda_i| (Goodfellow et al. section 8.2.5).
That is the whole story only when V is orthogonal (W normal).  Otherwise the eigenvalues fix the
rate as s -> infinity but not the size on the way: ||W^s||_2 can rise far above 1 while every
|lambda_i| < 1 (Trefethen & Embree 2005, "Spectra and Pseudospectra", ch. 14-16).  Singular
values bound it: ||W^s||_2 <= sigma_max(W)^s (Pascanu et al. 2013), and ||W^s||_2 itself is the
largest singular value of W^s, the most any cotangent can grow over s steps; and the resolvent
predicts the peak without a single power (the Kreiss matrix theorem, kreiss_bounds).
"""
from collections import namedtuple

import numpy as np

from .rnn import linear_rnn_gradient_norms
from .spectra import largest_singular_value, spectral_radius

Eigenbasis = namedtuple("Eigenbasis", "values vectors inverse condition_number")


def eigenbasis(weight):
    """W = V diag(values) V^-1: the eigenvalues, V (unit columns), V^-1 and kappa(V) = ||V||_2 ||V^-1||_2.

    kappa(V) = 1 exactly when W is normal (V unitary); it grows as the eigenvectors become
    parallel, and is infinite for a defective W (no basis of eigenvectors, e.g. a Jordan block).
    Exact up to the rounding of numpy.linalg.eig, whose error in V^-1 grows like kappa(V) times
    the machine epsilon.  Raises ValueError for a defective W (kappa(V) >= 1 / epsilon).
    """
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
        raise ValueError(f"eigenbasis: the weight must be a square matrix, got shape {weight.shape}")
    values, vectors = np.linalg.eig(weight)
    condition = np.linalg.cond(vectors)
    if not condition < 1 / np.finfo(np.float64).eps:
        raise ValueError(f"eigenbasis: this {weight.shape} weight is defective (its eigenvectors are "
                         f"parallel, kappa(V) = {condition:.3g}): it has no eigendecomposition")
    return Eigenbasis(values, vectors, np.linalg.inv(vectors), float(condition))


def eigendecomposition_gradients(weight, cotangent, steps):
    """(W^T)^s c = V^-T diag(lambda^s) V^T c for s = 0..steps: dL/dh_{T-s} of the linear RNN.

    cotangent holds c = dL/dh_T as rows (shape (..., n), the engine's layout), so the result, of
    shape (steps + 1, ..., n), is c V diag(lambda^s) V^-1 = c W^s, the transpose of the column
    form.  Exact for a diagonalisable W up to rounding (about kappa(V) epsilon relative, see
    eigenbasis); a real W with complex eigenvalues gives a real result (its imaginary part is
    rounding and is dropped).  Goodfellow et al. section 8.2.5.
    """
    basis = eigenbasis(weight)
    coordinates = np.asarray(cotangent, dtype=np.float64) @ basis.vectors      # c V: scale by lambda^s
    powers = basis.values[None, :] ** np.arange(steps + 1)[:, None]             # (steps + 1, n)
    shape = (steps + 1,) + (1,) * (coordinates.ndim - 1) + (len(basis.values),)
    return ((coordinates[None] * powers.reshape(shape)) @ basis.inverse).real


Transient = namedtuple("Transient", "norms peak_step peak eigenvalue_powers singular_value_bound "
                                    "eigenbasis_bound")


def transient(weight, steps):
    """||W^s||_2 for s = 0..steps, its peak, and the eigenvalue and singular-value curves beside it.

    norms[s] = ||W^s||_2 by repeated multiplication (exact up to rounding): the largest factor by
    which s steps back can grow any dL/dh_T, attained by the top left singular vector of W^s.
    peak_step, peak: where and how high it peaks (step 0 and 1 if it never rises above 1).
    Beside it, for every s:
      eigenvalue_powers     rho^s <= ||W^s||_2, with equality at every s when W is normal; the
                            norm follows it as s -> infinity (Gelfand), and no faster, but it can
                            lie above it by orders of magnitude for a while when W is not normal
      singular_value_bound  sigma_max(W)^s >= ||W^s||_2 (submultiplicativity, Pascanu et al. 2013):
                            sigma_max < 1 forbids any rise, so a rise needs sigma_max > 1
      eigenbasis_bound      kappa(V) rho^s >= ||W^s||_2 for diagonalisable W (W^s = V Lambda^s V^-1):
                            nearly parallel eigenvectors (large kappa) allow a large transient
                            (inf for a defective W)
    All exact.  Trefethen & Embree 2005 (ch. 14-16) on transients of non-normal matrices.
    """
    weight = np.asarray(weight, dtype=np.float64)
    norms = linear_rnn_gradient_norms(weight, steps)
    try:
        condition = eigenbasis(weight).condition_number
    except ValueError:
        condition = np.inf
    s = np.arange(steps + 1)
    rho_powers = spectral_radius(weight) ** s
    with np.errstate(over="ignore"):                      # a bound past the float range is inf
        singular_value_bound = largest_singular_value(weight) ** s
    # inf for a defective W at every s, also where rho^s has underflowed to 0
    eigenbasis_bound = np.full(steps + 1, np.inf) if np.isinf(condition) else condition * rho_powers
    peak_step = int(np.argmax(norms))
    return Transient(norms, peak_step, float(norms[peak_step]), rho_powers, singular_value_bound, eigenbasis_bound)


KreissBounds = namedtuple("KreissBounds", "lower upper")


def kreiss_bounds(weight, radii=None, angles=64):
    """K <= max_s ||W^s||_2 <= e n K, from the resolvent alone: the Kreiss constant
    K = sup over |z| > 1 of (|z| - 1) ||(z I - W)^-1||_2, for an n x n W with rho(W) < 1.

    Lower: (z I - W)^-1 = sum_s W^s / z^(s+1), so (|z| - 1) ||(z I - W)^-1|| <= max_s ||W^s|| at
    every |z| > 1: a resolvent that is large just outside the unit circle (a pseudospectrum that
    reaches out of the disk although every eigenvalue is inside) forces a transient.  Upper: the
    Kreiss matrix theorem with LeVeque & Trefethen's and Spijker's constant e n (Trefethen & Embree
    2005, ch. 18).  K is maximised over the grid |z| = radii (default 1 + 10^[-4, 1], 100 values)
    times `angles` angles, so `lower` is a rigorous lower bound (every grid point is one) that
    approaches K from below; `upper` = e n lower is then the theorem's bound only as far as the
    grid reaches K.  inf, inf when rho(W) >= 1 (the resolvent is unbounded outside the disk).
    """
    weight = np.asarray(weight, dtype=np.float64)
    if spectral_radius(weight) >= 1:
        return KreissBounds(np.inf, np.inf)
    radii = 1 + np.logspace(-4, 1, 100) if radii is None else np.asarray(radii, dtype=np.float64)
    z = (radii[:, None] * np.exp(2j * np.pi * np.arange(angles) / angles)[None, :]).ravel()
    resolvent_inputs = z[:, None, None] * np.eye(len(weight)) - weight                 # (points, n, n)
    smallest = np.linalg.svd(resolvent_inputs, compute_uv=False)[:, -1]             # 1 / ||(z I - W)^-1||
    constant = float(np.max((np.abs(z) - 1) / smallest))
    return KreissBounds(constant, np.e * len(weight) * constant)
