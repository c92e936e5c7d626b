"""The commands of `tinygrad-vg`: each a script (see tinygrad_vg/script.py) that the CLI parses flags for
and hands to the views. The tour is the sequence of lessons q1-q4 from tinygrad_vg.examples."""
