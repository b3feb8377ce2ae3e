"""Training pairs (`imemnet_c_tools.pairs`): what runs in the measured process, and the report's
section (which says what each figure is). `training_epochs` (the preprocessed-item cache and
DataLoader epochs against a hand-written Dataset) runs in the realistic benchmark, `plan_epochs`
(planning an epoch, undecoded iteration) in the full-count one."""

import os
import time

import numpy
import pyarrow

from benchmarks.report import measured, median, ran, table, targets

TITLE = "Training pairs"
RERUN = "make bench-realistic; make bench-full"
SIDE, BATCH, WORKERS = 224, 16, 2
CLIP_RATE, CLIP_SECONDS = 16000, 10


def picture_array(picture):
    """The cache's picture, and both DataLoaders': 224x224 RGB uint8."""
    return numpy.array(picture.convert("RGB").resize((SIDE, SIDE)), numpy.uint8)


def mono(samples):
    """(channels, samples) or (samples,) as one channel: datasets may already have mixed it down."""
    samples = numpy.asarray(samples, numpy.float32)
    return samples.mean(axis=0) if samples.ndim == 2 else samples


def decoded(pair):
    """This loader's path: datasets decodes the pair in the worker, then it becomes arrays."""
    return {"image": picture_array(pair["image"]), "audio": mono(pair["audio"]["array"]), "score": pair["score"]}


class HandWritten(list):
    """What a researcher writes by hand: a map-style Dataset over (picture, clip, score) files."""

    def __getitem__(self, index):
        import PIL.Image
        import soundfile

        picture_path, clip_path, score = super().__getitem__(index)
        with PIL.Image.open(picture_path) as picture:
            image = picture_array(picture)
        samples, _ = soundfile.read(clip_path, dtype="float32", always_2d=True)
        return {"image": image, "audio": mono(samples.T), "score": score}


def cache_image(picture):
    return {"pixels": picture_array(picture)}


def cache_audio(samples, sampling_rate):
    """The cache's clip: mono 16 kHz int16 of a fixed length (10 s, cut or padded with silence)."""
    length = CLIP_RATE * CLIP_SECONDS
    samples = numpy.asarray(samples, numpy.float32)[:length]
    fixed = numpy.zeros(length, numpy.int16)
    fixed[: len(samples)] = numpy.clip(samples * 32767, -32768, 32767).astype(numpy.int16)
    return {"samples": fixed}


def _read_all(paths):
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 22):
                pass


def training_epochs(data_dir, cache):
    import torch

    import imemnet_c
    from imemnet_c_tools.pairs import preprocess, va_pairs

    _read_all(os.path.join(d, f) for d, _, files in os.walk(data_dir) for f in files)
    start = time.time()
    for config in ("image", "music"):  # what preprocess() loads first, timed apart from its map
        imemnet_c.load(config, data_dir, split="train", cache_dir=cache)
    prepared = time.time()
    built = preprocess(
        data_dir, image=cache_image, audio=cache_audio, sampling_rate=CLIP_RATE, num_proc=WORKERS, cache_dir=cache
    )
    result = {
        "build_s": time.time() - start,
        "build_prepare_s": prepared - start,
        "build_map_s": time.time() - prepared,
    }
    arrow = {f["filename"] for d in (built.images, built.clips) for f in d.cache_files}
    result["cache_mb"] = sum(os.path.getsize(f) for f in arrow) / 1e6

    pairs = va_pairs(data_dir, None, cache_dir=cache)
    undecoded = list(pairs.decode(False))
    files = [(p["image"]["path"], p["audio"]["path"], p["score"]) for p in undecoded]
    result["pairs"] = len(files)
    _read_all({path for picture, clip, _ in files for path in (picture, clip)})
    decoding = pairs.map(decoded, remove_columns=["image_id", "clip_id", "caption"])
    cached = va_pairs(data_dir, None, cache_dir=cache, items=built)
    loaders = {
        "decoded": decoding.select_columns(["image", "audio", "score"]),
        "handwritten": HandWritten(files),
        "cached": cached,
    }
    for name, dataset in loaders.items():
        if name == "cached":
            _read_all(arrow)
        loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS)
        result[name] = _epoch(loader, len(files))
    in_process = torch.utils.data.DataLoader(cached, batch_size=BATCH, num_workers=0)
    result["cached_in_process"] = _epoch(in_process, len(files))  # the epoch without the workers' transport
    result["cache_floor"] = gathered_epoch(built, [(p["image_id"], p["clip_id"], p["score"]) for p in undecoded])
    return result


def gathered_epoch(built, order):
    """The floor of an epoch from the cache: in one process, the arrays of each batch of `order`
    ((image id, clip id, score) in the epoch's order) taken from the memory-mapped Arrow files, as
    numpy arrays of the cache's dtypes and shapes."""
    image_rows, clip_rows = {}, {}
    for rows, dataset, key in ((image_rows, built.images, "image_id"), (clip_rows, built.clips, "clip_id")):
        for row, item in enumerate(dataset[key]):
            rows.setdefault(item, row)  # the first row of an id, as va_pairs takes it
    images, clips = built.images.with_format("arrow"), built.clips.with_format("arrow")
    start = time.time()
    for first in range(0, len(order), BATCH):
        batch = order[first : first + BATCH]
        pixels = _stacked(images[[image_rows[image] for image, _, _ in batch]]["pixels"], (SIDE, SIDE, 3))
        samples = _stacked(clips[[clip_rows[clip] for _, clip, _ in batch]]["samples"], (CLIP_RATE * CLIP_SECONDS,))
        scores = numpy.array([score for _, _, score in batch], numpy.float32)
        assert pixels.dtype == numpy.uint8 and samples.dtype == numpy.int16 and len(scores) == len(batch)
    seconds = time.time() - start
    return {"seconds": seconds, "pairs_per_s": len(order) / seconds}


def _stacked(column, shape):
    """An Arrow column of fixed-shape arrays as one numpy array of their values (no copy)."""
    values = column.combine_chunks()
    values = values.storage if isinstance(values.type, pyarrow.ExtensionType) else values
    while hasattr(values, "flatten"):
        values = values.flatten()
    return values.to_numpy().reshape(len(column), *shape)


def _epoch(loader, total):
    """One epoch: pairs/s, and the memory of this process and its workers (MB): RSS at a tenth of the
    epoch, the largest RSS and PSS after it (sampled every 8 batches)."""
    count, batches, early, rss, pss = 0, 0, None, 0.0, 0.0
    start = time.time()
    for batch in loader:
        count += len(batch["score"])
        batches += 1
        if (early is None and count >= total / 10) or (early is not None and batches % 8 == 0):
            sampled = _tree_memory_mb()
            early = sampled["rss"] if early is None else early
            rss, pss = max(rss, sampled["rss"]), max(pss, sampled["pss"])
    seconds = time.time() - start
    return {"seconds": seconds, "pairs_per_s": count / seconds, "rss_early_mb": early, "rss_mb": rss, "pss_mb": pss}


def _tree_memory_mb():
    """RSS and PSS (from /proc/<pid>/smaps_rollup) of this process and its children, in MB."""
    me, totals = os.getpid(), {"rss": 0.0, "pss": 0.0}
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
        except (OSError, KeyError, ValueError):
            continue
    return totals


def plan_epochs(balance, data_dir, cache):
    """Epoch 0's call and first pair, then epoch 1's in the same process, then epoch 1's pairs one by
    one, undecoded. Timed (`start` to `end`): epoch 0 to its first pair; `items`: the epoch's pairs."""
    from imemnet_c_tools.pairs import va_pairs

    result = {"start": time.time()}
    for epoch in (0, 1):
        start = time.time()
        pairs = va_pairs(data_dir, "train", seed=0, epoch=epoch, balance=balance, cache_dir=cache, missing_media="skip")
        called = time.time()
        first = next(iter(pairs.decode(False)))
        result[f"epoch{epoch}_call_s"] = called - start
        result[f"epoch{epoch}_first_pair_s"] = time.time() - start
        result.setdefault("end", time.time())
    assert first["image_id"] and first["clip_id"]
    start = time.time()
    count = sum(1 for _ in pairs.decode(False))
    result["iterate_ms_per_pair"] = (time.time() - start) * 1000 / count
    return {**result, "items": count}


# The report

PLANS = {"cold": "va_pairs, cold", "warm": "va_pairs, warm cache", "balanced": "va_pairs balance=2, warm cache"}
# fmt: off
TARGETS = [  # (target, wanted, its value from the realistic trials or the full count's)
    ("preprocessing (the map) / one decoded epoch", "≤ 1.2", "realistic", lambda t: median(t, "build_map_s") / median(t, "decoded", "seconds")),
    ("prepare + map / prepare + one decoded epoch", "≤ 1.2", "realistic", lambda t: (median(t, "build_prepare_s") + median(t, "build_map_s")) / (median(t, "build_prepare_s") + median(t, "decoded", "seconds"))),
    ("cache epoch pairs/s / hand-written pairs/s", "≥ 10", "realistic", lambda t: median(t, "cached", "pairs_per_s") / median(t, "handwritten", "pairs_per_s")),
    ("cache epoch pairs/s / floor pairs/s", "≥ 0.5", "realistic", lambda t: median(t, "cached", "pairs_per_s") / median(t, "cache_floor", "pairs_per_s")),
    ("second epoch, same process, to its first pair (s)", "≤ 0.5", "full", lambda t: median(t, PLANS["warm"], "epoch1_first_pair_s")),
    ("balance=2 second epoch, to its first pair (s)", "≤ 3.0", "full", lambda t: median(t, PLANS["balanced"], "epoch1_first_pair_s")),
    ("undecoded iteration (ms a pair)", "≤ 0.2", "full", lambda t: median(t, PLANS["warm"], "iterate_ms_per_pair")),
]
TRAINING_ROWS = [  # (row, format, keys in a realistic trial's training result)
    ("cache build, cold (s)", "{:.1f}", "build_s"),
    ("  of which preparing the image and music configs (s)", "{:.1f}", "build_prepare_s"),
    ("  of which the map (s)", "{:.1f}", "build_map_s"),
    ("one decoded epoch of va_pairs through the DataLoader (s)", "{:.1f}", "decoded", "seconds"),
    ("decoded va_pairs (pairs/s)", "{:.1f}", "decoded", "pairs_per_s"),
    ("hand-written PIL + soundfile Dataset (pairs/s)", "{:.1f}", "handwritten", "pairs_per_s"),
    ("va_pairs(items=cache) (pairs/s)", "{:.0f}", "cached", "pairs_per_s"),
    ("epoch from the cache (s)", "{:.2f}", "cached", "seconds"),
    ("va_pairs(items=cache), no workers: the batches made in the main process (pairs/s)", "{:.0f}", "cached_in_process", "pairs_per_s"),
    ("floor: the epoch's arrays gathered from the cache in one process (pairs/s)", "{:.0f}", "cache_floor", "pairs_per_s"),
    ("cache on disk: the map's Arrow files (MB)", "{:.0f}", "cache_mb"),
    ("decoded va_pairs, main + 2 workers: RSS at a tenth (MB)", "{:.0f}", "decoded", "rss_early_mb"),
    ("  largest after a tenth (MB)", "{:.0f}", "decoded", "rss_mb"),
    ("hand-written, main + 2 workers: RSS at a tenth (MB)", "{:.0f}", "handwritten", "rss_early_mb"),
    ("  largest after a tenth (MB)", "{:.0f}", "handwritten", "rss_mb"),
    ("memory reading the cache, main + 2 workers: RSS (MB)", "{:.0f}", "cached", "rss_mb"),
    ("memory reading the cache, main + 2 workers: PSS (MB)", "{:.0f}", "cached", "pss_mb"),
]
PLAN_ROWS = [  # (row, format, measurement, key)
    ("first call, cold (s)", "{:.2f}", "cold", "epoch0_call_s"),
    ("first call, warm cache, new process (s)", "{:.2f}", "warm", "epoch0_call_s"),
    ("second epoch, same process, to its first pair (s)", "{:.3f}", "warm", "epoch1_first_pair_s"),
    ("balance=2: first call, warm cache, new process (s)", "{:.2f}", "balanced", "epoch0_call_s"),
    ("balance=2: second epoch, to its first pair (s)", "{:.3f}", "balanced", "epoch1_first_pair_s"),
    ("undecoded iteration (ms a pair)", "{:.3f}", "warm", "iterate_ms_per_pair"),
    ("peak RSS, cold process (MB)", "{:.0f}", "cold", "rss_mb"),
    ("peak RSS, warm process (MB)", "{:.0f}", "warm", "rss_mb"),
    ("peak RSS, balance=2 process (MB)", "{:.0f}", "balanced", "rss_mb"),
]
# fmt: on


def _cell(form, trials, *keys):
    """A figure of the kept `trials`, blank where they predate its measurement."""
    value = measured(lambda t: median(t, *keys), trials)
    return "" if value is None else form.format(value)


def section(found):
    """The cache at the realistic size, and planning at full count, one column per datasets version."""
    realistic = {v: r["training"] for v, r in sorted(found.get("realistic", {}).items()) if r.get("training")}
    full = {v: r["counts"]["0"] for v, r in sorted(found.get("full", {}).items()) if "0" in r["counts"]}
    lines, runs = [], {"realistic": realistic, "full": full}
    if realistic:
        pairs = next(iter(realistic.values()))[0]["pairs"]
        lines += [
            "### The preprocessed-item cache and DataLoader epochs at the realistic size",
            "",
            ran({v: r for v, r in found["realistic"].items() if v in realistic}),
            f"On the realistic targz data, `va_pairs(data_dir, None)`: {pairs:,} pairs (each picture and each clip "
            "anchors one). `preprocess(data_dir, image=224x224 RGB uint8, audio=mono 16 kHz int16 of 10 s, "
            "sampling_rate=16000, num_proc=2)` with a fresh cache folder (the build includes preparing the "
            "`image` and `music` configs it reads; the map alone is shown apart). Epochs through "
            "`DataLoader(num_workers=2, batch_size=16)`, the page cache warm for each side, against a hand-written "
            "torch `Dataset` opening the same files with PIL and soundfile; both decode a picture to 224x224 RGB "
            "and a clip to one channel (at the clips' 44.1 kHz: neither resamples). The floor of an epoch from the cache: "
            "in one process, each batch's arrays taken from the memory-mapped Arrow files with pyarrow, in the epoch's "
            "order, as numpy arrays of the cache's dtypes and shapes. Memory: the main process and its 2 workers, "
            "from `/proc/<pid>/smaps_rollup`.",
            "",
            *table(
                ["", *realistic],
                [[n, *(_cell(f, t, *keys) for t in realistic.values())] for n, f, *keys in TRAINING_ROWS],
            ),
        ]
    if full:
        lines += [
            "### Planning and undecoded iteration at full count",
            "",
            ran({v: r for v, r in found["full"].items() if v in full}),
            "On the full-count data (below). `va_pairs(data_dir, 'train', seed=0, epoch=e)`, "
            f"{median(next(iter(full.values())), PLANS['warm'], 'items'):,.0f} pairs an epoch. "
            "*Cold*: a new process with a fresh cache folder (listings made); *warm*: a new process on the cache "
            "the full-count commands left. The second epoch is `epoch=1` in the same process, to its first pair. "
            "Iteration: epoch 1's pairs one by one with `.decode(False)`. Peak RSS of the process.",
            "",
            *table(
                ["", *full],
                [[n, *(f.format(median(t, PLANS[w], k)) for t in full.values())] for n, f, w, k in PLAN_ROWS],
            ),
        ]
    if not lines:
        return None
    versions = sorted(set(realistic) | set(full))
    rows = [
        (what, wanted, [measured(value, runs[source][v]) if v in runs[source] else None for v in versions])
        for what, wanted, source, value in TARGETS
    ]
    return lines + ["### Targets", "", *targets([f"datasets {v}" for v in versions], rows, digits=3)]
