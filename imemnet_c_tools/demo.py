"""Loads every config, prepared and streaming, through imemnet_c.load, and prints what it got, by
default from the bundled synthetic sample.

    imemnet-c demo [--data-dir DIR]
"""

import datasets

import imemnet_c
from imemnet_c_tools.output import rounded
from imemnet_c_tools.sample import SAMPLE


def describe(example):
    """One line per field: media as their decoded shape, numbers rounded, the rest as they are."""
    lines = []
    for name, value in example.items():
        if name == "image":
            value = f"<{value.width}x{value.height} {value.mode} picture>"
        elif name == "audio":
            value = f"<{len(value['array'])} samples at {value['sampling_rate']} Hz>"  # a dict, or an AudioDecoder
        lines.append(f"    {name}: {rounded(value)!r}")
    return "\n".join(lines)


def demo(data_dir):
    """Returns 1 if audio could not be decoded here (music and paired then say how to get it), else 0."""
    audio_problem = imemnet_c.audio_backend_problem()
    for config in ("image", "music", "paired"):
        if audio_problem and imemnet_c.AUDIO in imemnet_c.ImemnetC.builder_configs[config].modalities:
            print(f"{config}: not loaded. {audio_problem}")
            continue
        prepared = imemnet_c.load(config, data_dir)
        streamed = imemnet_c.load(config, data_dir, streaming=True)
        for split, dataset in prepared.items():
            streamed_count = sum(1 for _ in streamed[split])
            print(f"{config}/{split}: {dataset.num_rows} examples prepared, {streamed_count} streamed")
        print(f"  first example of {config}/{next(iter(prepared))}:\n{describe(next(iter(prepared.values()))[0])}")
    return 1 if audio_problem else 0


def arguments(parser):
    parser.add_argument("--data-dir", help="your downloads (default: the bundled synthetic sample)")


def run(args):
    datasets.disable_progress_bars()
    return demo(args.data_dir or SAMPLE)


if __name__ == "__main__":
    from imemnet_c_tools.command import alias

    alias()
