"""A load in a process of its own, for the tests of killed and concurrent runs.

    python tests/stepped_load.py CONFIG DATA_DIR CACHE [--streaming] [--step PATH [--matching TEXT] [--halves]]
        [--pause-at N --delay SECONDS | --barrier FOLDER --parties N] [--rows-per-shard N]

Each call of the step (a function by its dotted path, e.g. `tarfile.TarFile.__iter__`; with
`--matching`, only a call whose arguments' text holds TEXT) prints `step`; its `--pause-at`th call then pauses `--delay` seconds (the time to kill it there), or its
first call waits until `--parties` processes have reached `--barrier` (a folder where each leaves a
file), so that they are mid-step together. With
`--halves` the step is `shutil.copyfileobj`, copying half, printing `step`, pausing, then the rest:
a kill then leaves a half-written file. At the end, `split NAME DIGEST` per split (`digest_of`)."""

import argparse
import functools
import hashlib
import importlib
import io
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import datasets  # noqa: E402

import imemnet_c  # noqa: E402
from imemnet_c_tools.digest import content  # noqa: E402

BARRIER_TIMEOUT = 120  # seconds: a party that never comes fails the run instead of hanging it


def digest_of(dataset):
    """A digest of what a split gives, media decoded: equal digests, equal content."""
    return hashlib.sha256(repr(content(dataset)).encode()).hexdigest()


def owner_and_name(path):
    """(the module or class holding it, its name) of a function's dotted path."""
    parts = path.split(".")
    for end in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:end]))
            break
        except ImportError:
            continue
    for part in parts[end:-1]:
        owner = getattr(owner, part)
    return owner, parts[-1]


def pause_for(args):
    calls = []

    def pause():
        calls.append(True)
        if args.barrier is None:
            if len(calls) == args.pause_at:
                time.sleep(args.delay)
        elif len(calls) == 1:
            open(os.path.join(args.barrier, str(os.getpid())), "w").close()
            deadline = time.monotonic() + BARRIER_TIMEOUT
            while len(os.listdir(args.barrier)) < args.parties:
                if time.monotonic() > deadline:
                    sys.exit(f"the other parties never reached the barrier {args.barrier}")
                time.sleep(0.01)

    return pause


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("data_dir")
    parser.add_argument("cache")
    parser.add_argument("--streaming", action="store_true")
    parser.add_argument("--step")
    parser.add_argument("--matching", default="")
    parser.add_argument("--halves", action="store_true")
    parser.add_argument("--pause-at", type=int, default=1)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--barrier")
    parser.add_argument("--parties", type=int, default=2)
    parser.add_argument("--rows-per-shard", type=int, help="more, smaller tables: a kill can land between two")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    pause = pause_for(args)
    if args.halves:
        copy = shutil.copyfileobj

        def copy_in_halves(source, target, length=0):
            data = source.read()
            target.write(data[: len(data) // 2])
            target.flush()
            print("step", flush=True)
            pause()
            copy(io.BytesIO(data[len(data) // 2 :]), target)

        shutil.copyfileobj = copy_in_halves
    elif args.step:
        owner, name = owner_and_name(args.step)
        original = getattr(owner, name)

        @functools.wraps(original)
        def step(*call_args, **call_kwargs):
            if args.matching in repr((call_args, call_kwargs)):
                print("step", flush=True)
                pause()
            return original(*call_args, **call_kwargs)

        setattr(owner, name, step)
    options = {"rows_per_shard": args.rows_per_shard} if args.rows_per_shard else {}
    builder = imemnet_c.ImemnetC(config_name=args.config, data_dir=args.data_dir, cache_dir=args.cache, **options)
    if not args.streaming:
        builder.download_and_prepare()  # the builder of this module, patched (load_dataset would run a copy)
    for split in builder.config.splits:
        dataset = builder.as_streaming_dataset(split=split) if args.streaming else builder.as_dataset(split=split)
        print("split", split, digest_of(dataset), flush=True)


if __name__ == "__main__":
    main()
