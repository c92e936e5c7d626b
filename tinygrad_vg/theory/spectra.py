"""The two numbers of a matrix that bound repeated multiplication by it."""
import numpy as np


def spectral_radius(matrix):
    """rho(W) = max |eigenvalue|: ||W^s||^(1/s) -> rho(W) as s -> infinity (Gelfand's formula)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix, dtype=np.float64)))))


def largest_singular_value(matrix):
    """sigma_max(W) = ||W||_2, the most any vector can be stretched by one step."""
    return float(np.linalg.norm(np.asarray(matrix, dtype=np.float64), 2))
