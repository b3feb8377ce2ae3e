"""The MMVA-style pairs of `imemnet_c_tools.pairs` through a PyTorch DataLoader (2 workers), against
a hand-written torch Dataset that opens the same files with PIL and soundfile: decoded pairs per
second, and the memory of the main process and its workers over the epoch. Part of
`python -m benchmarks.bench --realistic`, which runs it in a fresh process per run.

Both decode a pair the same way: the picture to 224x224 RGB, the clip to one channel at its own
sampling rate, batched by 16. The page cache is warmed with every file first, so that neither
pays for the disk the other then finds cached.
"""

import os
import time

import numpy

from benchmarks import sections

SIDE, BATCH, WORKERS = 224, 16, 2


def picture_array(picture):
    return numpy.array(picture.convert("RGB").resize((SIDE, SIDE)), numpy.uint8)


def mono(samples):
    """(channels, samples) or (samples,) as one channel: datasets may already have mixed it down."""
    samples = numpy.asarray(samples, numpy.float32)
    return samples.mean(axis=0) if samples.ndim == 2 else samples


def decoded(pair):
    """This loader's path: datasets decodes the pair in the worker, then it becomes arrays."""
    return {"image": picture_array(pair["image"]), "audio": mono(pair["audio"]["array"]), "score": pair["score"]}


class HandWritten:
    """What a researcher writes by hand: a map-style Dataset over (picture, clip, score) files."""

    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        import PIL.Image
        import soundfile

        picture_path, clip_path, score = self.files[index]
        with PIL.Image.open(picture_path) as picture:
            image = picture_array(picture)
        samples, _ = soundfile.read(clip_path, dtype="float32", always_2d=True)
        return {"image": image, "audio": mono(samples.T), "score": score}


def pairs_throughput(data_dir, cache):
    """Runs in the measured process: one epoch of pairs through each DataLoader."""
    import torch

    from imemnet_c_tools.pairs import va_pairs

    start = time.time()
    pairs = va_pairs(data_dir, None, cache_dir=cache)  # prepared: extracts the media it uses, once
    planned = time.time()
    files = [(p["image"]["path"], p["audio"]["path"], p["score"]) for p in pairs.decode(False)]
    for path in {path for picture, clip, _ in files for path in (picture, clip)}:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    loaders = {
        "loader": pairs.map(decoded, remove_columns=["image_id", "clip_id", "caption"]).select_columns(
            ["image", "audio", "score"]
        ),
        "handwritten": HandWritten(files),
    }
    results = {"start": start, "first": planned, "end": planned, "examples": len(files), "plan_s": planned - start}
    for name, dataset in loaders.items():
        loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS)
        results[name] = _epoch(loader, len(files))
    return results


def _epoch(loader, total):
    """Pairs per second over one epoch, and the memory of this process and its workers at a tenth
    of the epoch and at its largest after that (MB)."""
    count, early, late = 0, None, 0.0
    start = time.time()
    for batch in loader:
        count += len(batch["score"])
        if early is None and count >= total / 10:
            early = _tree_rss_mb()
        elif early is not None:
            late = max(late, _tree_rss_mb())
    seconds = time.time() - start
    return {"pairs_per_s": count / seconds, "pairs": count, "rss_early_mb": early, "rss_late_mb": max(late, early)}


def _tree_rss_mb():
    """The resident memory of this process and its children (the DataLoader's workers)."""
    me, total = os.getpid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if int(pid) == me or parent == me:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


# Issue 14: the preprocessed-item cache at the realistic size (`python -m benchmarks.pairbench cache`)

CLIP_RATE, CLIP_SECONDS = 16000, 10


def cache_image(picture):
    """The cache's picture: 224x224 RGB uint8."""
    return {"pixels": picture_array(picture)}


def cache_audio(samples, sampling_rate):
    """The cache's clip: mono 16 kHz int16 of a fixed length (10 s, cut or padded with silence)."""
    length = CLIP_RATE * CLIP_SECONDS
    samples = numpy.asarray(samples, numpy.float32)[:length]
    fixed = numpy.zeros(length, numpy.int16)
    fixed[: len(samples)] = numpy.clip(samples * 32767, -32768, 32767).astype(numpy.int16)
    return {"samples": fixed}


def _warm(paths):
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 22):
                pass


def _files_under(folder):
    return [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files]


def cache_epochs(data_dir, cache):
    """Runs in a fresh process with a fresh cache folder: builds the preprocessed cache (cold), then
    one decoded epoch of `va_pairs` and of the hand-written Dataset, then one epoch from the cache,
    each through DataLoader(num_workers=2, batch_size=16), with the page cache warm for each."""
    import torch

    import imemnet_c
    from imemnet_c_tools.pairs import preprocess, va_pairs

    _warm(_files_under(data_dir))
    result = {}
    start = time.time()
    for config in ("image", "music"):  # what preprocess() loads first, timed apart from its map
        imemnet_c.load(config, data_dir, split="train", cache_dir=cache)
    prepared = time.time()
    built = preprocess(
        data_dir, image=cache_image, audio=cache_audio, sampling_rate=CLIP_RATE, num_proc=WORKERS, cache_dir=cache
    )
    result["build_s"] = time.time() - start
    result["build_prepare_s"] = prepared - start
    result["build_map_s"] = time.time() - prepared
    arrow = {f["filename"] for d in (built.images, built.clips) for f in d.cache_files}
    result["cache_mb"] = sum(os.path.getsize(f) for f in arrow) / 1e6
    result["cache_files"] = len(arrow)

    pairs = va_pairs(data_dir, None, cache_dir=cache)
    files = [(p["image"]["path"], p["audio"]["path"], p["score"]) for p in pairs.decode(False)]
    _warm({path for picture, clip, _ in files for path in (picture, clip)})
    decoded_pairs = pairs.map(decoded, remove_columns=["image_id", "clip_id", "caption"]).select_columns(
        ["image", "audio", "score"]
    )
    for name, dataset in (("decoded", decoded_pairs), ("handwritten", HandWritten(files))):
        loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS)
        result[name] = _timed_epoch(loader)

    _warm(arrow)
    cached = va_pairs(data_dir, None, cache_dir=cache, items=built)
    loader = torch.utils.data.DataLoader(cached, batch_size=BATCH, num_workers=WORKERS)
    result["cached"] = _timed_epoch(loader, memory=True)
    result["pairs"] = len(files)
    return result


def _timed_epoch(loader, memory=False):
    """One epoch: pairs, seconds, pairs/s; with `memory`, the largest RSS and PSS (MB) of this process
    and of its workers together, sampled every 8 batches after the first."""
    count, batches, rss, pss = 0, 0, 0.0, 0.0
    start = time.time()
    for batch in loader:
        count += len(batch["score"])
        batches += 1
        if memory and batches % 8 == 1:
            sampled = _tree_memory_mb()
            rss, pss = max(rss, sampled["rss"]), max(pss, sampled["pss"])
    seconds = time.time() - start
    result = {"pairs": count, "seconds": seconds, "pairs_per_s": count / seconds}
    if memory:
        result.update(rss_mb=rss, pss_mb=pss)
    return result


def _tree_memory_mb():
    """RSS and PSS (from /proc/<pid>/smaps_rollup) of this process and its children, in MB."""
    me, totals = os.getpid(), {"rss": 0, "pss": 0, "processes": 0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if int(pid) != me and parent != me:
                continue
            with open(f"/proc/{pid}/smaps_rollup") as f:
                fields = {line.split(":")[0]: int(line.split()[1]) for line in f if line.endswith("kB\n")}
            totals["rss"] += fields["Rss"] / 1024
            totals["pss"] += fields["Pss"] / 1024
            totals["processes"] += 1
        except (OSError, KeyError, ValueError):
            continue
    return totals


def measure_in_fresh_process(module, function, arguments, work):
    """`module.function(*arguments)` in a new interpreter (offline, HF_HOME under work): its JSON
    result (functions that report memory measure it themselves)."""
    import json
    import subprocess
    import sys

    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = {
        **os.environ,
        "HF_HOME": os.path.join(work, "hf-home"),
        "PYTHONPATH": project,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    code = (
        "import json, sys, datasets, importlib; datasets.logging.set_verbosity_warning(); "
        f"r = getattr(importlib.import_module({module!r}), {function!r})(*json.loads(sys.argv[1])); "
        "print('RESULT ' + json.dumps(r), flush=True)"
    )
    process = subprocess.run(
        [sys.executable, "-c", code, json.dumps(arguments)], capture_output=True, cwd=project, env=environment
    )
    if process.returncode:
        raise RuntimeError(f"{function}{tuple(arguments)} failed:\n{process.stderr.decode(errors='replace')[-3000:]}")
    line = next(x for x in process.stdout.decode().splitlines()[::-1] if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def run_cache(work, clips, pictures, runs):
    """The cache measurement, `runs` times, each in a fresh process with a fresh cache folder."""
    import shutil
    import uuid

    from benchmarks import realdata

    data = os.path.join(work, "data")
    realdata.write(data, clips, pictures)
    trials = []
    for _ in range(runs):
        cache = os.path.join(work, "cache-" + uuid.uuid4().hex)
        try:
            trials.append(
                measure_in_fresh_process(
                    "benchmarks.pairbench", "cache_epochs", [os.path.join(data, "targz"), cache], work
                )
            )
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        print(f"cache run: {trials[-1]}", flush=True)
    return {"clips": clips, "pictures": pictures, "runs": runs, "trials": trials}


# The report (`python -m benchmarks.bench --pairs`, in each environment: each fills its version's rows)

PAIRS_SECTION, PAIRS_END = "## Training pairs at realistic size and at full count (issue 14)", "## How to rerun"


def main(args):
    import json
    import platform

    import datasets

    from benchmarks import fullcount

    os.makedirs(args.work, exist_ok=True)
    results = {"python": platform.python_version(), "cores": os.cpu_count()}
    if "cache" in args.pairs_parts:
        results["cache"] = run_cache(args.work, args.clips, args.pictures, args.runs)
    if "fullcount" in args.pairs_parts:
        results["fullcount"] = fullcount.run(args.work, args.runs, args.reference)
    path = os.path.join(args.work, f"pairs-datasets-{datasets.__version__}.json")
    if os.path.exists(path):  # a part not rerun keeps its earlier figures
        with open(path) as f:
            results = {**json.load(f), **results}
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    by_version = sections.results_by_version(args.work, "pairs-datasets-")
    sections.rewrite_section(args.out, PAIRS_SECTION, PAIRS_END, pairs_report(by_version))


def _row(by_version, versions, part, name, fmt, *keys):
    """A table row: `name`, then per version the median over `part`'s trials of the value at `keys`."""
    return [name, *(fmt.format(sections.median(by_version[v][part]["trials"], *keys)) for v in versions)]


def _met(value, target, at_most=True):
    return "met" if (value <= target if at_most else value >= target) else "missed"


def pairs_report(by_version):
    lines = [PAIRS_SECTION, ""]
    any_results = next(iter(by_version.values()))
    lines += [
        f"Python {any_results['python']}, {any_results['cores']} cores; medians of the runs, each in a fresh "
        "process. Rerun: "
        "`python -m benchmarks.bench --pairs --work /tmp/imemnet-c-pairs` in each environment "
        "(`make bench-realistic ARGS=--pairs` runs both; `--pairs-parts` with no part rewrites this section "
        "from the kept results).",
        "",
    ]
    cache_versions = [v for v, r in by_version.items() if "cache" in r]
    if cache_versions:
        first = by_version[cache_versions[0]]["cache"]
        pairs = first["trials"][0]["pairs"]
        lines += [
            "### The preprocessed-item cache at the realistic size",
            "",
            f"The targz data of `benchmarks.realdata` ({first['clips']} clips of 10 s 44.1 kHz stereo WAV in one "
            f"tar.gz, {first['pictures']} 640x480 JPEGs), `va_pairs(data_dir, None)`: {pairs:,} pairs (each picture "
            "and each clip anchors one). `preprocess(data_dir, image=224x224 RGB uint8, audio=mono 16 kHz int16 of "
            "10 s, sampling_rate=16000, num_proc=2)` with a fresh cache folder (the build includes preparing the "
            "`image` and `music` configs it reads; the map alone is shown apart). Epochs through "
            "`DataLoader(num_workers=2, batch_size=16)`, page cache warm for each side (`benchmarks/pairbench.py`, "
            "`cache_epochs`). Memory: the largest sum over the main process and its 2 workers while reading the "
            "cache, RSS and PSS (`/proc/<pid>/smaps_rollup`).",
            "",
        ]
        header = ["", *cache_versions]

        def row(name, fmt, *keys):
            return _row(by_version, cache_versions, "cache", name, fmt, *keys)

        rows = [
            ["runs", *(str(by_version[v]["cache"]["runs"]) for v in cache_versions)],
            row("cache build, cold (s)", "{:.1f}", "build_s"),
            row("  of which preparing the image and music configs (s)", "{:.1f}", "build_prepare_s"),
            row("  of which the map (s)", "{:.1f}", "build_map_s"),
            row("one decoded epoch of va_pairs through the DataLoader (s)", "{:.1f}", "decoded", "seconds"),
            row("decoded va_pairs (pairs/s)", "{:.1f}", "decoded", "pairs_per_s"),
            row("hand-written PIL + soundfile Dataset (pairs/s)", "{:.1f}", "handwritten", "pairs_per_s"),
            row("va_pairs(items=cache) (pairs/s)", "{:.0f}", "cached", "pairs_per_s"),
            row("epoch from the cache (s)", "{:.2f}", "cached", "seconds"),
            row("cache on disk: the map's Arrow files (MB)", "{:.0f}", "cache_mb"),
            row("memory reading the cache, main + 2 workers: RSS (MB)", "{:.0f}", "cached", "rss_mb"),
            row("memory reading the cache, main + 2 workers: PSS (MB)", "{:.0f}", "cached", "pss_mb"),
        ]
        lines += [*sections.table(header, rows), ""]
        target_rows = []
        for v in cache_versions:
            trials = by_version[v]["cache"]["trials"]
            prepare, epoch = sections.median(trials, "build_prepare_s"), sections.median(trials, "decoded", "seconds")
            preprocessing = sections.median(trials, "build_map_s") / epoch
            first = (prepare + sections.median(trials, "build_map_s")) / (prepare + epoch)
            speed = sections.median(trials, "cached", "pairs_per_s") / sections.median(
                trials, "handwritten", "pairs_per_s"
            )
            target_rows += [
                [
                    v,
                    "preprocessing (the map) / one decoded epoch",
                    f"{preprocessing:.2f}",
                    "<= 1.2",
                    _met(preprocessing, 1.2),
                ],
                [v, "prepare + map / prepare + one decoded epoch", f"{first:.2f}", "<= 1.2", _met(first, 1.2)],
                [v, "cache epoch pairs/s / hand-written pairs/s", f"{speed:.1f}", ">= 10", _met(speed, 10, False)],
            ]
        lines += [
            *sections.table(["datasets", "target", "ratio (medians)", "wanted", ""], target_rows),
            "",
            "Both sides need the prepare (the clips extracted from the tar.gz, the configs' Arrow files) before "
            "their first epoch, so it is counted on both or on neither (the cache build with its prepare, against "
            "a decoded epoch after the prepare: the first and fourth rows above).",
            "",
        ]
    full_versions = [v for v, r in by_version.items() if "fullcount" in r]
    if full_versions:
        pairs = by_version[full_versions[0]]["fullcount"]["trials"][0]["warm"]["pairs"]
        lines += [
            "### Planning and undecoded iteration at full count",
            "",
            "A data_dir with the real counts and tiny media in the real layouts (`benchmarks/fullcount.py`): the "
            "real `image_va.csv` (24,758 rows), `val_matching.txt` and `test_matching.txt`; a `music_va.csv` of "
            "25,944 clips, each song with segments 9 to 21 and every clip the matching files name; 105,000 "
            "train pairs; 8x8 JPEGs (IAPS folder, NAPS zip, EMOTIC zip) and 0.01 s WAV clips in one tar.gz. "
            f"`va_pairs(data_dir, 'train', seed=0, epoch=e)`: {pairs:,} pairs an epoch. *Cold*: a new process "
            "with a fresh cache folder (listings made); *warm*: a new process on the cache it left. The second "
            "epoch is `epoch=1` in the same process, to its first pair. Iteration: epoch 1's pairs one by one "
            "with `.decode(False)`. Peak RSS of the process.",
            "",
        ]

        def frow(name, fmt, *keys):
            return _row(by_version, full_versions, "fullcount", name, fmt, *keys)

        rows = [
            ["runs", *(str(by_version[v]["fullcount"]["runs"]) for v in full_versions)],
            frow("first call, cold (s)", "{:.2f}", "cold", "epoch0_call_s"),
            frow("first call, warm cache, new process (s)", "{:.2f}", "warm", "epoch0_call_s"),
            frow("second epoch, same process, to its first pair (s)", "{:.3f}", "warm", "epoch1_first_pair_s"),
            frow("balance=2: first call, warm cache, new process (s)", "{:.2f}", "balanced", "epoch0_call_s"),
            frow("balance=2: second epoch, to its first pair (s)", "{:.3f}", "balanced", "epoch1_first_pair_s"),
            frow("undecoded iteration (ms a pair)", "{:.3f}", "warm", "iterate_ms_per_pair"),
            frow("peak RSS, cold process (MB)", "{:.0f}", "cold", "peak_rss_mb"),
            frow("peak RSS, warm process with iteration (MB)", "{:.0f}", "warm", "peak_rss_mb"),
            frow("peak RSS, balance=2 process (MB)", "{:.0f}", "balanced", "peak_rss_mb"),
        ]
        lines += [*sections.table(["", *full_versions], rows), ""]
        target_rows = []
        for v in full_versions:
            trials = by_version[v]["fullcount"]["trials"]
            for name, keys, wanted in (
                ("second epoch (s)", ("warm", "epoch1_first_pair_s"), 0.5),
                ("balance=2 second epoch (s)", ("balanced", "epoch1_first_pair_s"), 3.0),
                ("undecoded iteration (ms a pair)", ("warm", "iterate_ms_per_pair"), 0.2),
            ):
                value = sections.median(trials, *keys)
                target_rows.append(
                    [v, name, f"{value:.3f}", f"<= {wanted}", f"{value / wanted:.2f}", _met(value, wanted)]
                )
        lines += [*sections.table(["datasets", "target", "median", "wanted", "ratio to target", ""], target_rows), ""]
    return "\n".join(lines)
