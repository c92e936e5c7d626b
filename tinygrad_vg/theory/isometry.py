"""Dynamical isometry: the spectrum of the end-to-end Jacobian J = dh_L/dh_0 of a deep chain.

For z_l = W_l h_{l-1} + b_l, h_l = phi(z_l), the chain rule gives J = D_L W_L ... D_1 W_1 with
D_l = diag(phi'(z_l)). "Isometry" means every singular value of J is 1: a gradient of any direction
passes through unchanged. A gain of 1 per layer (mean squared singular value 1) is weaker: the
squared singular values, the eigenvalues lambda of J J^T, can have mean 1 and spread ever wider.
Here are their moments, from Pennington, Schoenholz & Ganguli 2017 ("Resurrecting the sigmoid in
deep learning through dynamical isometry") and the Fuss-Catalan law of products of Gaussian matrices.
"""
import math
from dataclasses import dataclass

from .gaussian import gaussian_expectation, phi_prime
from .mean_field import tanh_fixed_point

# S_{W^T W}(z) = sigma_w^-2 (1 + s_1 z + ...): s_1 = -(normalised variance of W^T W's spectrum).
# Orthogonal W: every eigenvalue of W^T W is sigma_w^2, no spread. Gaussian W (variance
# sigma_w^2 / N, N -> infinity): Marchenko-Pastur with mean sigma_w^2 and variance sigma_w^4.
WEIGHT_S1 = {"orthogonal": 0.0, "gaussian": -1.0}


def fuss_catalan(depth, k):
    """E[lambda^k] = binom((L+1) k, k) / (L k + 1), lambda an eigenvalue of J J^T for J = W_L ... W_1.

    The W_l are independent N x N with i.i.d. entries of variance 1 / N (sigma_w = 1); the squared
    singular values of the product follow the Fuss-Catalan law of order L (Penson & Zyczkowski
    2011; Pennington et al. 2017, linear Gaussian case): mean 1, E[lambda^2] = L + 1, so variance L.
    Exact as N -> infinity (an integer); at finite N see gaussian_product_spectrum.
    """
    if depth < 0 or k < 0:
        raise ValueError(f"fuss_catalan: depth and k must be >= 0, got depth={depth}, k={k}")
    return math.comb((depth + 1) * k, k) // (depth * k + 1)


def fuss_catalan_edge(depth):
    """(L+1)^(L+1) / L^L: the largest eigenvalue of J J^T in the Fuss-Catalan law of order L >= 1.

    The support is [0, (L+1)^(L+1) / L^L] (Penson & Zyczkowski 2011): 4 for one Gaussian matrix
    (Marchenko-Pastur), growing like e (L + 1), so the largest singular value grows like sqrt(e L)
    while the mean squared one stays 1. Exact as N -> infinity.
    """
    if depth < 1:
        raise ValueError(f"fuss_catalan_edge: depth must be >= 1, got {depth}")
    return (depth + 1) * (1 + 1 / depth) ** depth


@dataclass(frozen=True)
class GaussianProductSpectrum:
    mean: float                 # E[tr(J J^T) / N]
    second_moment: float        # E[tr((J J^T)^2) / N]
    mean_square: float          # E[(tr(J J^T) / N)^2]

    @property
    def variance(self):
        """E[the variance of the N eigenvalues of J J^T] = E[tr(M^2)/N - (tr(M)/N)^2]."""
        return self.second_moment - self.mean_square


def gaussian_product_spectrum(depth, width, sigma_w=1.0):
    """The first two moments of J J^T's eigenvalues, J = W_L ... W_1, at finite width N, in expectation.

    W_l independent N x N with i.i.d. N(0, sigma_w^2 / N) entries, M_l = J_l J_l^T = W_l M_{l-1} W_l^T.
    Wick's theorem over the four entries of W_l in each trace gives, for any fixed symmetric M,
        E tr((W M W^T)^2) = (tr M)^2 / N + (1 + 1/N) tr(M^2)        (times sigma_w^4)
        E (tr W M W^T)^2  = (tr M)^2 + (2/N) tr(M^2)                (times sigma_w^4),
    a closed linear recursion in x = E (tr M)^2 / N^2 and y = E tr(M^2) / N from x = y = 1 at M_0 = I.
    Exact in expectation at any width (this project's derivation); as N -> infinity y -> L + 1 and
    x -> 1, the Fuss-Catalan values (fuss_catalan). One draw scatters around it: the variance is
    carried by the few largest eigenvalues, so its spread across draws is large (measure it).
    """
    if depth < 0 or width < 1:
        raise ValueError(f"gaussian_product_spectrum: need depth >= 0 and width >= 1, got {depth}, {width}")
    x, y = 1.0, 1.0
    for _ in range(depth):
        x, y = x + 2.0 * y / width ** 2, x + (1.0 + 1.0 / width) * y
    scale = sigma_w ** (2 * depth)
    return GaussianProductSpectrum(mean=scale, second_moment=scale ** 2 * y, mean_square=scale ** 2 * x)


@dataclass(frozen=True)
class JacobianSpectrum:
    mean: float          # E[lambda] = (sigma_w^2 mu_1)^L
    variance: float      # Var[lambda] = mean^2 L (mu_2 / mu_1^2 - 1 - s_1)
    q_star: float        # the fixed point the chain runs at (0 for linear)
    mu1: float           # E[phi'(z)^2], z ~ N(0, q*)
    mu2: float           # E[phi'(z)^4]
    s1: float            # the weights' S-transform coefficient (WEIGHT_S1)


def jacobian_spectrum(depth, sigma_w, sigma_b=0.0, activation="tanh", weights="orthogonal"):
    """Mean and variance of the eigenvalues lambda of J J^T for a chain at its fixed point q*.

    With mu_k = E[phi'(z)^(2k)], z ~ N(0, q*), free probability (S-transforms of the L independent
    D_l^2 and W_l^T W_l multiply) gives the first two moments exactly at infinite width:
        E[lambda] = (sigma_w^2 mu_1)^L,   Var[lambda] / E[lambda]^2 = L (mu_2 / mu_1^2 - 1 - s_1)
    with s_1 = 0 for orthogonal and -1 for Gaussian weights (Pennington, Schoenholz & Ganguli
    2017, eqs. for m_1 and sigma^2_{JJ^T}). At criticality (sigma_w^2 mu_1 = chi_1 = 1) the mean is
    1 and only the variance grows with depth: by L (mu_2/mu_1^2 - 1) for orthogonal weights, small
    when q* is small, and by L more for Gaussian ones. Linear chains: mu_k = 1, variance
    sigma_w^(4L) L for Gaussian weights (fuss_catalan) and 0 for orthogonal ones (exactly, at any
    width). tanh: statistical, exact as width -> infinity with the input already at q*.
    """
    if weights not in WEIGHT_S1:
        raise ValueError(f"jacobian_spectrum: weights must be one of {sorted(WEIGHT_S1)}, got {weights!r}")
    if activation == "linear":
        q_star, mu1, mu2 = 0.0, 1.0, 1.0
    elif activation == "tanh":
        q_star = tanh_fixed_point(sigma_w, sigma_b)
        mu1 = gaussian_expectation(lambda u: phi_prime(u, "tanh") ** 2, q_star)
        mu2 = gaussian_expectation(lambda u: phi_prime(u, "tanh") ** 4, q_star)
    else:
        raise ValueError(f"jacobian_spectrum: activation must be 'linear' or 'tanh', got {activation!r}")
    s1 = WEIGHT_S1[weights]
    mean = (sigma_w ** 2 * mu1) ** depth
    return JacobianSpectrum(mean=mean, variance=mean ** 2 * depth * (mu2 / mu1 ** 2 - 1.0 - s1),
                            q_star=q_star, mu1=mu1, mu2=mu2, s1=s1)
