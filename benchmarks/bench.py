"""Benchmarks the loader against what a researcher would use instead, on synthetic media in the real
layouts (an EMOTIC-style zip of JPEGs, a tar of 16-bit WAV clips, and both as extracted folders),
and writes the medians into BENCHMARKS.md. From the repository's root (`make bench`):

    python -m benchmarks.bench [--sizes 1000 4000 16000] [--runs 3] [--work /tmp/imemnet-c-bench]
    python -m benchmarks.bench --realistic [--clips 800] [--pictures 1000]   (benchmarks/realbench.py)
    python -m benchmarks.bench --pairs [--pairs-parts cache fullcount]   (benchmarks/pairbench.py, fullcount.py)
    python -m benchmarks.bench --full-count [--counts 1000 4000 0]   (benchmarks/fullbench.py; 0: the full count)

Each measurement runs in a fresh process (peak RSS is that process's and its children's), with a
fresh cache, side by side on the same files: the raw-read floor (zipfile/tarfile, plain reads),
`imagefolder`/`audiofolder` with a metadata.csv, and this loader prepared and streaming.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tarfile
import time
import uuid
import wave
import zipfile

from benchmarks import fullbench, pairbench, realbench
from benchmarks.ids import clip_ids, picture_ids
from benchmarks.sections import folder_size, table
from imemnet_c_tools.command import HelpFormatter

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAIRS_PER_CLIP = 5
DECODED_CAP = 3000  # streaming with decoding: examples per second over the first ones


# The data


def noise_jpeg(seed, side=128):
    """About 12 KB: noise that JPEG cannot squeeze much, like a photograph."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(seed).randbytes(side * side * 3)).save(
        buffer, "JPEG", quality=80
    )
    return buffer.getvalue()


def tone_wav(seed, seconds=3.0, rate=16000):
    """A 16-bit mono clip of a few seconds (about 96 KB)."""
    rng = random.Random(seed)
    samples = [
        int(8000 * ((n * (300 + seed * 7)) % rate / rate - 0.5) + rng.randint(-500, 500))
        for n in range(int(seconds * rate))
    ]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


def make_data(root, size):
    """root/archives (annotations, images.zip, clips.tar) and root/folders (annotations, images/,
    clips/, each with the metadata.csv imagefolder and audiofolder read): the same media twice."""
    if os.path.exists(os.path.join(root, "done")):
        return
    from imemnet_c_tools import sample

    shutil.rmtree(root, ignore_errors=True)
    images, clips = picture_ids(size), clip_ids(size)
    pictures = [noise_jpeg(seed) for seed in range(64)]
    tones = [tone_wav(seed) for seed in range(32)]
    rng = random.Random(size)
    rows = {i: (round(rng.random(), 6), round(rng.random(), 6)) for i in images + clips}
    pairs = [(clip, rng.choice(images), round(rng.random(), 6)) for clip in clips for _ in range(PAIRS_PER_CLIP)]
    rng.shuffle(pairs)
    for layout in ("archives", "folders"):
        sample.write_annotations(
            os.path.join(root, layout),
            images=[(i, *rows[i]) for i in images],
            clips=[(c, *rows[c], f"A synthetic clip number {n}, calm and slow.") for n, c in enumerate(clips)],
            pairs={"train": pairs, "val": pairs[:100], "test": pairs[100:200]},
        )
    with zipfile.ZipFile(os.path.join(root, "archives", "images.zip"), "w", zipfile.ZIP_STORED) as archive:
        for n, image_id in enumerate(images):
            archive.writestr(f"emotic/mscoco/images/{image_id}.jpg", pictures[n % len(pictures)])
    with tarfile.open(os.path.join(root, "archives", "clips.tar"), "w") as archive:
        for n, clip_id in enumerate(clips):
            info = tarfile.TarInfo(f"clips/{clip_id}.wav")
            info.size = len(tones[n % len(tones)])
            archive.addfile(info, io.BytesIO(tones[n % len(tones)]))
    for modality, ids, media, extension in (("images", images, pictures, "jpg"), ("clips", clips, tones, "wav")):
        folder = os.path.join(root, "folders", modality)
        os.makedirs(os.path.join(folder, "files"))
        with open(os.path.join(folder, "metadata.csv"), "w") as metadata:
            metadata.write("file_name,id,valence,arousal\n")
            for n, media_id in enumerate(ids):
                with open(os.path.join(folder, "files", f"{media_id}.{extension}"), "wb") as f:
                    f.write(media[n % len(media)])
                metadata.write(f"files/{media_id}.{extension},{media_id},{rows[media_id][0]},{rows[media_id][1]}\n")
    open(os.path.join(root, "done"), "w").close()


# The measurements: each runs in its own process and returns (examples, details)


def floor_archive(data, modality, _cache):
    path = os.path.join(data, "archives", {"images": "images.zip", "clips": "clips.tar"}[modality])
    count = 0
    if modality == "images":
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                count += bool(archive.read(info))
    else:
        with tarfile.open(path, "r|") as archive:
            for info in archive:
                count += bool(archive.extractfile(info).read())
    return count, {}


def floor_extract(data, modality, cache):
    """Extracting the archive with the standard library alone: what a prepared cache must at least do."""
    path = os.path.join(data, "archives", {"images": "images.zip", "clips": "clips.tar"}[modality])
    with zipfile.ZipFile(path) if modality == "images" else tarfile.open(path) as archive:
        archive.extractall(cache)
    return sum(len(files) for _, _, files in os.walk(cache)), {}


def floor_folder(data, modality, _cache):
    count = 0
    for folder, _, files in os.walk(os.path.join(data, "folders", modality, "files")):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                count += bool(f.read())
    return count, {}


def folder_builder(data, modality, cache):
    import datasets

    builder = {"images": "imagefolder", "clips": "audiofolder"}[modality]
    dataset = datasets.load_dataset(
        builder, data_dir=os.path.join(data, "folders", modality), split="train", cache_dir=cache
    )
    return dataset.num_rows, {"arrow_bytes": _arrow_bytes(dataset)}


def ours_prepared(data, config, cache, layout="archives", num_proc=None):
    import imemnet_c

    splits = imemnet_c.load(config, os.path.join(data, layout), cache_dir=cache, num_proc=num_proc)
    dataset = splits["train"]
    return dataset.num_rows, {"arrow_bytes": _arrow_bytes(dataset)}


def ours_streaming(data, config, cache, decode, batch_size=None):
    import imemnet_c

    dataset = imemnet_c.load(config, os.path.join(data, "archives"), split="train", streaming=True, cache_dir=cache)
    dataset = dataset.decode(decode)
    if batch_size:
        return sum(len(batch[next(iter(batch))]) for batch in dataset.iter(batch_size=batch_size)), {}
    count = 0
    for example in dataset:
        count += 1
        if decode:
            for value in example.values():
                if hasattr(value, "load"):
                    value.load()
                elif hasattr(value, "__getitem__") and not isinstance(value, str):
                    value["array"]
            if count == DECODED_CAP:
                break
    return count, {}


def _arrow_bytes(dataset):
    return sum(os.path.getsize(f["filename"]) for f in dataset.cache_files)


MEASUREMENTS = {
    # name: (function, arguments after data and cache, the examples it handles)
    "floor: read images.zip": (floor_archive, ["images"]),
    "floor: read clips.tar": (floor_archive, ["clips"]),
    "floor: read image folder": (floor_folder, ["images"]),
    "floor: read clip folder": (floor_folder, ["clips"]),
    "floor: extract images.zip (zipfile)": (floor_extract, ["images"]),
    "floor: extract clips.tar (tarfile)": (floor_extract, ["clips"]),
    "imagefolder + metadata.csv": (folder_builder, ["images"]),
    "audiofolder + metadata.csv": (folder_builder, ["clips"]),
    "image prepared from zip": (ours_prepared, ["image"]),
    "image prepared from folder": (ours_prepared, ["image", "folders"]),
    "music prepared from tar": (ours_prepared, ["music"]),
    "music prepared from folder": (ours_prepared, ["music", "folders"]),
    "music prepared from folder, num_proc=2": (ours_prepared, ["music", "folders", 2]),
    "music prepared from tar, num_proc=2": (ours_prepared, ["music", "archives", 2]),
    "paired prepared (5 pairs per clip)": (ours_prepared, ["paired"]),
    "image streamed, not decoded": (ours_streaming, ["image", False]),
    "music streamed, not decoded": (ours_streaming, ["music", False]),
    "paired streamed, not decoded": (ours_streaming, ["paired", False]),
    "image streamed, not decoded, batches of 256": (ours_streaming, ["image", False, 256]),
    "music streamed, not decoded, batches of 256": (ours_streaming, ["music", False, 256]),
    "paired streamed, not decoded, batches of 256": (ours_streaming, ["paired", False, 256]),
    "image streamed, decoded (first 3,000 examples)": (ours_streaming, ["image", True]),
    "music streamed, decoded (first 3,000 examples)": (ours_streaming, ["music", True]),
    "paired streamed, decoded (first 3,000 examples)": (ours_streaming, ["paired", True]),
}


TIME_TARGETS = [  # (target, wanted, measurement, peer): the measurement's seconds over the peer's
    (
        "prepared `image` vs `imagefolder` (same folder)",
        "≤ 1.0",
        "image prepared from folder",
        "imagefolder + metadata.csv",
    ),
    (
        "prepared `music` vs `audiofolder` (same folder)",
        "≤ 1.0",
        "music prepared from folder",
        "audiofolder + metadata.csv",
    ),
    (
        "prepared `image` from folder vs reading the folder",
        "≤ 2.0",
        "image prepared from folder",
        "floor: read image folder",
    ),
    (
        "prepared `music` from folder vs reading the folder",
        "≤ 2.0",
        "music prepared from folder",
        "floor: read clip folder",
    ),
    ("prepared `image` from zip vs reading the zip", "≤ 2.0", "image prepared from zip", "floor: read images.zip"),
    ("prepared `music` from tar vs reading the tar", "≤ 2.0", "music prepared from tar", "floor: read clips.tar"),
    (
        "prepared `image` from zip vs extracting it (zipfile)",
        "context",
        "image prepared from zip",
        "floor: extract images.zip (zipfile)",
    ),
    (
        "prepared `music` from tar vs extracting it (tarfile)",
        "context",
        "music prepared from tar",
        "floor: extract clips.tar (tarfile)",
    ),
    (
        "`image` streamed one by one, not decoded, vs reading the zip",
        "≤ 1.5",
        "image streamed, not decoded",
        "floor: read images.zip",
    ),
    (
        "`music` streamed one by one, not decoded, vs reading the tar",
        "≤ 1.5",
        "music streamed, not decoded",
        "floor: read clips.tar",
    ),
    (
        "`image` streamed in batches, not decoded, vs reading the zip",
        "≤ 1.5",
        "image streamed, not decoded, batches of 256",
        "floor: read images.zip",
    ),
    (
        "`music` streamed in batches, not decoded, vs reading the tar",
        "≤ 1.5",
        "music streamed, not decoded, batches of 256",
        "floor: read clips.tar",
    ),
    (
        "`num_proc=2` speed-up, `music` prepared from folder",
        "≥ 1.4",
        "music prepared from folder",
        "music prepared from folder, num_proc=2",
    ),
    (
        "`num_proc=2` speed-up, `music` prepared from tar",
        "≥ 1.4",
        "music prepared from tar",
        "music prepared from tar, num_proc=2",
    ),
]
RATE_TARGETS = [  # (target, wanted, measurement, peer): the measurement's examples per second over the peer's
    (
        "`paired` vs `music` streamed, examples/s, not decoded",
        "≥ 0.5",
        "paired streamed, not decoded",
        "music streamed, not decoded",
    ),
    (
        "`paired` vs `music` streamed, examples/s, decoded",
        "≥ 0.5",
        "paired streamed, decoded (first 3,000 examples)",
        "music streamed, decoded (first 3,000 examples)",
    ),
]


def measure_here(name, data, cache):
    """Runs one measurement in this process and prints its result as JSON."""
    datasets = realbench.preload()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    function, arguments = MEASUREMENTS[name]
    start = time.perf_counter()
    count, details = function(data, arguments[0], cache, *arguments[1:])
    print(json.dumps({"seconds": time.perf_counter() - start, "examples": count, **details}))


def measure(name, data, work):
    """One fresh process, one fresh cache: seconds, examples, peak RSS (MB) of the process tree, cache sizes."""
    cache = os.path.join(work, "cache-" + uuid.uuid4().hex)
    command = [sys.executable, "-m", "benchmarks.bench", "--measure", name, "--data", data, "--cache", cache]
    env = {**os.environ, "HF_HOME": os.path.join(work, "hf-home"), "PYTHONPATH": PROJECT}
    with open(cache + ".out", "w+") as out, open(cache + ".err", "w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=PROJECT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise RuntimeError(f"{name} failed:\n{err.read()[-3000:]}")
        result = json.loads(out.read().strip().splitlines()[-1])
    result.update(
        rss_mb=usage.ru_maxrss / 1024,
        cache_mb=folder_size(cache) / 1e6,
        extracted_mb=folder_size(os.path.join(cache, "imemnet_c_archives")) / 1e6,  # listings and extracted members
    )
    shutil.rmtree(cache, ignore_errors=True)
    os.remove(cache + ".out")
    os.remove(cache + ".err")
    return result


# The report


def measure_all(sizes, runs, work, names):
    results = {}
    for size in sizes:
        data = os.path.join(work, f"data-{size}")
        print(f"== {size} examples per modality: making data", flush=True)
        make_data(data, size)
        for name in names:
            trials = [measure(name, data, work) for _ in range(runs)]
            summary = {
                key: statistics.median(t[key] for t in trials)
                for key in ("seconds", "rss_mb", "cache_mb", "extracted_mb")
            }
            summary.update(
                examples=trials[0]["examples"],
                arrow_mb=statistics.median(t.get("arrow_bytes", 0) for t in trials) / 1e6,
            )
            rss = summary["rss_mb"]
            results.setdefault(size, {})[name] = summary
            print(
                f"{size:>6} {name:<42} {summary['seconds']:8.2f} s  {summary['examples']:>7} ex  {rss:7.0f} MB",
                flush=True,
            )
    return results


def report(results, runs, command):
    import datasets

    sizes = sorted(results)
    largest = results[sizes[-1]]

    def seconds(size, name):
        return results[size][name]["seconds"]

    def ratio(size, name, peer):
        return (
            seconds(size, name) / seconds(size, peer)
            if name in results[size] and peer in results[size]
            else float("nan")
        )

    def rate(size, name):
        return results[size][name]["examples"] / seconds(size, name)

    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores, "
        f"{_memory_gb():.0f} GB, Python {platform.python_version()}, datasets {datasets.__version__}. "
        f"Medians of {runs} runs, each in a fresh process with a fresh cache; peak RSS is the process tree's. "
        "Synthetic media in the real layouts: 128x128 noise JPEGs of about 12 KB in a zip (stored), 3-second 16-bit WAV clips "
        f"(96 KB) in a tar, the same files as extracted folders; {PAIRS_PER_CLIP} pairs per clip. "
        "The page cache is warm for every contender alike. Times exclude Python's start and module imports "
        "(datasets, this loader, torch and torchcodec where installed), which a training job pays once.",
        "",
        "## Time (seconds) and peak memory",
        "",
        *table(
            ["measurement", *(f"{size:,}: s" for size in sizes), *(f"{size:,}: MB" for size in sizes)],
            [
                [
                    name,
                    *(f"{seconds(size, name):.2f}" for size in sizes),
                    *(f"{results[size][name]['rss_mb']:.0f}" for size in sizes),
                ]
                for name in largest
            ],
        ),
    ]
    big = sizes[-1]
    paired_rows = results[big]["paired prepared (5 pairs per clip)"]["examples"]
    pair = "paired prepared (5 pairs per clip)"
    targets = [(what, wanted, [ratio(s, name, peer) for s in sizes]) for what, wanted, name, peer in TIME_TARGETS]
    targets += [
        (what, wanted, [rate(s, name) / rate(s, peer) for s in sizes]) for what, wanted, name, peer in RATE_TARGETS
    ]
    ours_rss = [max(r["rss_mb"] for n, r in results[s].items() if _ours(n)) for s in sizes]
    targets += [
        (
            "peak RSS, largest of all measurements (MB)",
            "≤ 1000",
            [max(r["rss_mb"] for r in results[s].values()) for s in sizes],
        ),
        (
            "peak RSS of the loader's measurements vs the smallest size",
            "≤ 1.2",
            [rss / ours_rss[0] for rss in ours_rss],
        ),
        (
            "`paired` prepared Arrow cache, bytes per pair",
            "< 1024",
            [results[s][pair]["arrow_mb"] * 1e6 / results[s][pair]["examples"] for s in sizes],
        ),
    ]
    lines += [
        "",
        "## Targets (ratios at each size)",
        "",
        *table(
            ["target", "wanted", *(f"{size:,}" for size in sizes)],
            [[name, wanted, *(f"{v:.2f}" for v in values)] for name, wanted, values in targets],
        ),
        "",
        "## Cache on disk at the largest size (MB)",
        "",
        *table(
            ["measurement", "Arrow cache", "extracted archives"],
            [
                [name, f"{r['arrow_mb']:.1f}", f"{r['extracted_mb']:.1f}"]
                for name, r in largest.items()
                if r["cache_mb"] and _ours(name)
            ],
        ),
    ]
    lines += ["", f"`paired` at {big:,} clips: {paired_rows:,} pairs.", ""]
    return "\n".join(lines)


def _ours(name):
    return not name.startswith(("floor", "imagefolder", "audiofolder"))


def _memory_gb():
    with contextlib.suppress(OSError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return 0.0


def arguments(parser):
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000], help="examples per modality")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (medians are reported)")
    parser.add_argument("--work", default="/tmp/imemnet-c-bench", help="where the data and caches go")
    parser.add_argument("--out", default="BENCHMARKS.md", help="the report to rewrite (its other sections are kept)")
    parser.add_argument(
        "--only", nargs="+", choices=list(MEASUREMENTS), metavar="NAME", help="a subset of the measurements, by name"
    )
    parser.add_argument("--realistic", action="store_true", help="real sizes instead (benchmarks/realbench.py)")
    parser.add_argument("--clips", type=int, default=800, help="with --realistic: 10 s stereo clips")
    parser.add_argument("--pictures", type=int, default=1000, help="with --realistic: 640x480 JPEGs")
    parser.add_argument(
        "--pairs",
        action="store_true",
        help="instead: issue 14's training pairs, the preprocessed cache at --clips/--pictures and planning at "
        "full count (benchmarks/pairbench.py, benchmarks/fullcount.py); works with --realistic",
    )
    parser.add_argument(
        "--pairs-parts", nargs="*", choices=["cache", "fullcount"], default=["cache", "fullcount"], help="with --pairs"
    )
    parser.add_argument(
        "--full-count",
        action="store_true",
        help="instead: every command at 1K, 4K and the full count, tiny media (benchmarks/fullbench.py)",
    )
    parser.add_argument(
        "--counts",
        type=int,
        nargs="*",
        default=[1000, 4000, 0],
        help="with --full-count: items per modality, 0 the full count; none rewrites the section from kept results",
    )
    parser.add_argument(
        "--reference",
        default="../shared/reference",
        help="with --pairs or --full-count: the real annotation files, read in place",
    )
    parser.add_argument("--realistic-measure", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=__doc__, formatter_class=HelpFormatter
    )
    arguments(parser)
    args = parser.parse_args(argv)
    if args.measure:
        return measure_here(args.measure, args.data, args.cache)
    if args.realistic_measure:
        return realbench.measure_here(args.realistic_measure)
    args.command_line = " ".join([parser.prog, *argv])  # the report says how it was written
    if args.pairs:
        return pairbench.main(args)
    if args.full_count:
        return fullbench.main(args)
    if args.realistic:
        return realbench.main(args)
    os.makedirs(args.work, exist_ok=True)
    results = measure_all(args.sizes, args.runs, args.work, args.only or list(MEASUREMENTS))
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    if not args.only:
        kept = ""  # the realistic section and the hand-written findings, kept across reruns
        if os.path.exists(args.out):
            with open(args.out) as f:
                text = f.read()
            start = next((text.index(f"\n{h}") for h in (realbench.SECTION, realbench.END) if f"\n{h}" in text), None)
            kept = text[start + 1 :] if start is not None else ""
        with open(args.out, "w") as f:
            f.write(report(results, args.runs, args.command_line) + ("\n" + kept if kept else ""))
        print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
