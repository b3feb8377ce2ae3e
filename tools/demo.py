"""Loads every config of the bundled synthetic sample, prepared and streaming, and prints what it got.

python -m tools.demo [--data-dir data/sample]
"""

import argparse
import os

import datasets

import imemnet_c

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(imemnet_c.__file__)), "data", "sample")


def describe(example):
    """One line per field: media as their decoded shape, the rest as values."""
    lines = []
    for name, value in example.items():
        if name == "image":
            value = f"<{value.width}x{value.height} {value.mode} picture>"
        elif name == "audio":
            value = f"<{len(value['array'])} samples at {value['sampling_rate']} Hz>"  # a dict, or an AudioDecoder
        lines.append(f"    {name}: {value!r}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=SAMPLE)
    data_dir = parser.parse_args().data_dir
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    for config in ("image", "music", "paired"):
        prepared = imemnet_c.load(config, data_dir)
        streamed = imemnet_c.load(config, data_dir, streaming=True)
        for split, dataset in prepared.items():
            streamed_count = sum(1 for _ in streamed[split])
            print(f"{config}/{split}: {dataset.num_rows} examples prepared, {streamed_count} streamed")
        print(f"  first example of {config}/{next(iter(prepared))}:\n{describe(next(iter(prepared.values()))[0])}")


if __name__ == "__main__":
    main()
