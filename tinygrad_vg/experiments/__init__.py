"""What the experiments share, one room below the scripts that run them: the deep chain and its task
(chains), what theory predicts for a chain's settings (chain_theory), the measures read off a run
(measures) and the optimisers the `train` command names (optimizers). Nothing here prints or parses
flags; the commands (tinygrad_vg.commands) and the lessons (tinygrad_vg.examples) do."""
