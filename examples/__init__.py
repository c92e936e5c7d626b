"""The examples: one question each, answered by a script you can read top to bottom and run
(`python examples/q1_identity_chain.py --help`). Installed as tinygrad_vg.examples, so that the
tour of the `tinygrad-vg` command runs these very scripts."""
