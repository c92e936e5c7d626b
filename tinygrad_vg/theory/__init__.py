"""What theory predicts for the deep chains of the lab (pure numpy, no engine import).

Convention (CONVENTIONS.md): h_0 = x of shape (batch, width); for layers l = 1..L,
z_l = h_{l-1} @ W_l.T + b_l and h_l = phi(z_l), with W ~ N(0, sigma_w^2 / fan_in) and
b ~ N(0, sigma_b^2); the loss is mean((h_L - target)^2).  "grad norm of layer l" always means
||dLoss/dh_l||, the gradient with respect to that layer's output.

Per-layer arrays returned here are indexed by layer: position l - 1 holds layer l (l = 1..L).

Every function says whether it is "exact" (the W = k I chain, the overflow simulation,
linear/ReLU second moments in expectation) or "statistical" (mean-field, at what width), and
where its statement comes from.  One subject per module; all of them are re-exported here, so
`theory.tanh_chi1` and `theory.mean_field.tanh_chi1` are the same function:

  gaussian        E[f(z)] for z ~ N(0, q): the activations' second moments, by quadrature
  mean_field      the length map, the gradient gain chi_1, the edge of chaos, init variances
  correlation     two inputs' correlation map, its fixed point c*, chi_c and the depth scale xi_c
  residual        residual chains: the gain 1 + alpha^2 sigma_w^2 per block, alpha = 1/sqrt(L)
  finite_width    He's ReLU law at finite width, Hanin's fluctuations, Glorot's per-layer variances
  identity_chain  the W = k I chain in closed form, and where it overflows
  spectra         spectral radius and largest singular value
  eigen           W^s through W = V diag(lambda) V^-1, and non-normal transients
  rnn             recurrent chains: bounds and estimates of the gradient through time
  isometry        the end-to-end Jacobian's spectrum: orthogonal, Gaussian, tanh at criticality
  learning_dynamics  Saxe et al.'s exact learning of a deep linear chain, and its time against depth
  remedies        Adam's first step, BatchNorm's gradient growth at initialisation
"""
from .gaussian import (phi, phi_prime, gaussian_expectation, pair_expectation, second_moment,
                       derivative_second_moment, ACTIVATIONS)
from .mean_field import (length_map, gradient_gain, preactivation_second_moments, backward_gains,
                         grad_norm_ratios, weight_variance, uniform_bound, tanh_fixed_point,
                         tanh_chi1, tanh_critical_sigma_w, gradient_depth_scale)
from .correlation import (correlation_map, correlation_slope, pair_moments, relu_pair_moments,
                          tanh_correlation_fixed_point, tanh_chi_c, tanh_depth_scales)
from .residual import residual_gain, residual_second_moments, residual_backward_gains, residual_gain_limit
from .finite_width import (digamma, trigamma, active_units_pmf, ReluLayerLaw, relu_layer_law, LogNormMoments,
                           relu_log_norm_moments, hanin_beta, hanin_variance_approximation, relu_rescaling,
                           standard_uniform_variance, LinearChainVariances, linear_chain_variances)
from .identity_chain import (IdentityChain, identity_chain, SGDStep, identity_chain_sgd_step,
                             overflow_layer, NonFinite, identity_chain_first_nonfinite,
                             OverflowDepths, overflow_depth_estimates)
from .spectra import spectral_radius, largest_singular_value
from .eigen import (Eigenbasis, eigenbasis, eigendecomposition_gradients, Transient, transient, KreissBounds,
                    kreiss_bounds)
from .rnn import (rnn_gradient_bound, linear_rnn_gradient_norms, saturated_rnn_gradient_ratios, TanhRNNRate,
                  tanh_rnn_mean_field_rate)
from .isometry import (fuss_catalan, fuss_catalan_edge, GaussianProductSpectrum, gaussian_product_spectrum,
                       JacobianSpectrum, jacobian_spectrum, WEIGHT_S1)
from .learning_dynamics import (time_constant, largest_stable_lr, learning_time, deep_limit_learning_time,
                                mode_strength, gradient_descent_modes, first_step_reaching)
from .remedies import (adam_first_step, BatchNormGrowth, batchnorm_gradient_growth,
                       batchnorm_gradient_growth_monte_carlo)
