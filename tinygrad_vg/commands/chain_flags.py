"""The flags that describe a deep chain, shared by `chain` and `train` (each with its own defaults)."""
from ..argtypes import finite_float, non_negative_float, positive_int, probability
from ..experiments.chains import DTYPES

ACTIVATIONS = ("linear", "tanh", "relu", "sigmoid")
INITS = ("identity", "normal", "xavier", "he", "orthogonal", "default")
NORMS = ("none", "layer", "batch")


def add_chain_arguments(parser, depth, width, batch, activation="tanh", init="normal", scale=1.0, sigma_w=1.5,
                        sigma_b=0.1):
    group = parser.add_argument_group("the chain: h_l = phi(h_(l-1) W_l^T + b_l), l = 1..L")
    group.add_argument("--depth", type=positive_int, default=depth, help=f"number of layers L (default {depth})")
    group.add_argument("--width", type=positive_int, default=width, help=f"units per layer (default {width})")
    group.add_argument("--batch", type=positive_int, default=batch, help=f"rows of the input (default {batch})")
    group.add_argument("--activation", choices=ACTIVATIONS, default=activation, help=f"phi (default {activation})")
    group.add_argument("--init", choices=INITS, default=init,
                       help="identity: W = scale I; normal: W ~ N(0, sigma_w^2/width), b ~ N(0, sigma_b^2); "
                            "xavier, he, orthogonal: the classic schemes times scale (biases 0); default: "
                            "PyTorch's Linear init, W, b ~ U(-1/sqrt(width), 1/sqrt(width)) "
                            f"(default {init})")
    group.add_argument("--scale", type=finite_float, default=scale,
                       help=f"k for identity, gain for xavier/he/orthogonal (default {scale:g})")
    group.add_argument("--sigma-w", type=non_negative_float, default=sigma_w,
                       help=f"weight scale for --init normal (default {sigma_w:g})")
    group.add_argument("--sigma-b", type=non_negative_float, default=sigma_b,
                       help=f"bias scale for --init normal (default {sigma_b:g})")
    group.add_argument("--residual", action="store_true", help="h_l = h_(l-1) + alpha phi(...)")
    group.add_argument("--alpha", type=finite_float, default=1.0, help="residual branch weight (default 1)")
    group.add_argument("--norm", choices=NORMS, default="none",
                       help="layer: LayerNorm, batch: BatchNorm1d (batch statistics: the chain is in training "
                            "mode), before each activation (default none)")
    group.add_argument("--dropout", type=probability, default=0.0, metavar="P",
                       help="inverted dropout after each activation, 0 <= P < 1 (default 0)")
    group.add_argument("--dtype", choices=tuple(DTYPES), default="float64", help="default float64")
    group.add_argument("--seed", type=int, default=0, help="seed of weights and data (default 0)")
