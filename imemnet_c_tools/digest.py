"""A digest of what every config gives, prepared and streaming, comparable across `datasets`
versions: media reduced to what decoding gave (pixels; audio as 16-bit samples).

    python -m imemnet_c_tools.digest [--data-dir DIR] [--cache-dir DIR]

prints JSON `{config/split/mode: sha256}`, by default of the bundled sample; the test suite
compares it between environments.
"""

import argparse
import hashlib
import json

import datasets

import imemnet_c
from imemnet_c_tools.sample import SAMPLE


def content(dataset):
    """Every example of a split with media reduced to what decoding gave, sorted: comparable
    between prepared and streamed datasets, whose media paths and order may differ."""
    return sorted(
        (tuple(sorted((name, decoded(value)) for name, value in example.items())) for example in dataset), key=repr
    )


def decoded(value):
    if hasattr(value, "tobytes"):  # a PIL image
        return ("image", value.size, value.mode, hashlib.sha256(value.tobytes()).hexdigest())
    if is_audio(value):  # back to 16-bit samples: datasets 3.6 and 5.x decode with different libraries
        samples = (value["array"] * 32768).round().astype("int16")
        return ("audio", value["sampling_rate"], hashlib.sha256(samples.tobytes()).hexdigest())
    return value


def is_audio(value):
    """A decoded Audio value: a dict on datasets 3.6, a torchcodec AudioDecoder on 4 and newer."""
    return (isinstance(value, dict) and "array" in value) or type(value).__name__ == "AudioDecoder"


def digest(data_dir, cache_dir=None):
    result = {}
    for config in imemnet_c.ImemnetC.BUILDER_CONFIGS:
        for streaming in (False, True):
            loaded = imemnet_c.load(config.name, data_dir, streaming=streaming, cache_dir=cache_dir)
            for split, dataset in loaded.items():
                result[f"{config.name}/{split}/{'streaming' if streaming else 'prepared'}"] = hashlib.sha256(
                    repr(content(dataset)).encode()
                ).hexdigest()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=SAMPLE, help="(default: the bundled sample)")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    print(json.dumps(digest(args.data_dir, args.cache_dir), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
