"""The tools beside the loader: the `imemnet-c` command (cli, with what its commands share in
command), its check, demo and export, the MMVA pairs, and the sample, figure and digest writers.
The benchmarks live outside the package, in the repository's `benchmarks/`."""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def shipped(relative):
    """A file of the repository the tools use (the card, its figure, the sample): the copy a wheel
    carries inside this package, or in a clone the repository's own."""
    inside = os.path.join(_HERE, "shipped", relative)
    return inside if os.path.exists(inside) else os.path.join(os.path.dirname(_HERE), relative)
