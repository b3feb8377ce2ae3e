"""The tools beside the loader: the `imemnet-c` command (cli), its check, demo, export and bench,
and the sample, figure and benchmark-data writers."""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def shipped(relative):
    """A file of the repository the tools use (the card, its figure, the sample): the copy a wheel
    carries inside this package, or in a clone the repository's own."""
    inside = os.path.join(_HERE, "shipped", relative)
    return inside if os.path.exists(inside) else os.path.join(os.path.dirname(_HERE), relative)
