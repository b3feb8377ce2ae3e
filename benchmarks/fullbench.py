"""Every command at IMEMNet-C's real counts (issue 15): seconds per item and peak memory as the count
grows, at 1K, 4K and the full count, on tiny media in the real layouts.

    python -m benchmarks.bench --full-count [--counts 1000 4000 0] [--runs 3] [--work /tmp/imemnet-c-full]

Count 0 is the full count: the real `image_va.csv` (24,758 rows), `val_matching.txt` and
`test_matching.txt` read from `--reference` (never copied into the project), 25,944 clips and
105,000 train pairs (benchmarks/fullcount.py). A smaller count N takes N images and N clips at
random (the sources in their real proportions) and draws pairs in the real proportions (4.05 train,
0.34 validation and 1.01 test pairs per clip; the held-out pairs over 27% of the songs and 20% of
the images, the train pairs over the rest). Pictures are 8x8 JPEGs (IAPS as a loose folder, NAPS
and EMOTIC in zips), clips 0.01 s WAVs in one tar.gz. Each command runs in a fresh process; the
seconds exclude the interpreter's start and imports; peak RSS is that process's.
"""

import csv
import os
import random
import resource
import shutil
import time
import uuid

import imemnet_c
from benchmarks import fullcount, sections

FULL = 0
SECTION, END = "## Every command at full count (issue 15)", "## How to rerun"


def write(root, count, reference):
    """The data_dir of `count` items under root (the full count's, subsampled; made once)."""
    full = os.path.join(os.path.dirname(root), "fullcount")
    fullcount.write(full, reference)
    if count == FULL:
        return full
    if os.path.exists(os.path.join(root, "done")):
        return root
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    rng = random.Random(count)
    with open(os.path.join(full, "image_va.csv"), encoding="utf-8", newline="") as f:
        images = {row["img"]: row for row in csv.DictReader(f)}
    with open(os.path.join(full, "music_va.csv"), encoding="utf-8", newline="") as f:
        clips = {row["clip"]: row for row in csv.DictReader(f)}
    image_ids = sorted(rng.sample(sorted(images), count))
    clip_ids = sorted(rng.sample(sorted(clips), count))
    with open(os.path.join(root, "image_va.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["img", "valence", "arousal"])
        writer.writerows([i, images[i]["valence"], images[i]["arousal"]] for i in image_ids)
    with open(os.path.join(root, "music_va.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["clip", "valence", "arousal", "caption"])
        writer.writerows([c, clips[c]["valence"], clips[c]["arousal"], clips[c]["caption"]] for c in clip_ids)
    # As in the full count: validation and test pairs over 27% of the songs' clips and 20% of the images.
    songs = sorted({imemnet_c.song_of(clip) for clip in clip_ids})
    held_songs = set(rng.sample(songs, round(0.27 * len(songs))))
    held_clips = [c for c in clip_ids if imemnet_c.song_of(c) in held_songs]
    held_images = rng.sample(image_ids, round(0.2 * count))
    train_clips = [c for c in clip_ids if imemnet_c.song_of(c) not in held_songs]
    train_images = sorted(set(image_ids) - set(held_images))
    for name, per_clip, pair_clips, pair_images in (
        ("train", 4.05, train_clips, train_images),
        ("val", 0.34, held_clips, held_images),
        ("test", 1.01, held_clips, held_images),
    ):
        with open(os.path.join(root, f"{name}_matching.txt"), "w", encoding="utf-8") as f:
            for _ in range(round(per_clip * count)):
                f.write(f"{rng.choice(pair_clips)} {rng.choice(pair_images)} {round(rng.uniform(0.01, 1), 6)}\n")
    fullcount.write_media(root, image_ids, clip_ids)
    open(os.path.join(root, "done"), "w").close()
    return root


# What runs in the measured process: each returns its seconds, items and peak RSS.


def _result(start, items):
    return {
        "seconds": time.time() - start,
        "items": items,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def check(data_dir, cache):
    """`imemnet-c check` of every config; items: the media files it looks for."""
    from imemnet_c_tools import check

    start = time.time()
    report = check.check(data_dir, cache_dir=cache)
    return _result(start, sum(source["expected"] for source in report["sources"].values()))


def prepare(config, data_dir, cache):
    """A prepared load of `config` (a warm one when its cache is there); items: its examples."""
    import imemnet_c

    start = time.time()
    splits = imemnet_c.load(config, data_dir, cache_dir=cache, missing_media="skip")
    return _result(start, sum(split.num_rows for split in splits.values()))


def stream(config, data_dir, cache, batch_size):
    """Every train example of `config` streamed, undecoded: one by one, or in batches."""
    import imemnet_c

    start = time.time()
    dataset = imemnet_c.load(config, data_dir, split="train", streaming=True, cache_dir=cache, missing_media="skip")
    dataset = dataset.decode(False) if "annotations" not in config else dataset
    if batch_size:
        items = sum(len(batch["clip_id"]) for batch in dataset.iter(batch_size=batch_size))
    else:
        items = sum(1 for _ in dataset)
    return _result(start, items)


def read_media(data_dir, cache):
    """The floor of a streamed `paired` pass: every train pair's clip and picture bytes, read in the
    streamed order through the loader's own readers (the plan made first, not counted)."""
    import imemnet_c

    plan = imemnet_c.make_plan("paired", data_dir, cache_dir=cache, missing_media="skip")
    shards = plan.media.shards(plan.located("train"), plan.config.rows_per_shard)
    start, items = time.time(), 0
    members = plan.media.reader()
    for shard in shards:
        for _, where in shard.rows:
            for location in where.values():
                plan.media.file(location, members)
            items += 1
    return _result(start, items)


def plan_pairs(data_dir, cache):
    """`va_pairs` of the train split planned in a fresh process on a warm cache, to its first pair;
    items: the epoch's pairs (counted after the clock stops)."""
    from imemnet_c_tools.pairs import va_pairs

    start = time.time()
    pairs = va_pairs(data_dir, "train", seed=0, epoch=0, cache_dir=cache, missing_media="skip")
    next(iter(pairs.decode(False)))
    result = _result(start, 0)
    result["items"] = sum(1 for _ in pairs.decode(False))
    return result


# (name, function, arguments after data_dir and cache): in this order, on one cache per run.
COMMANDS = [
    ("check, cold", "check", []),
    ("check, warm", "check", []),
    ("prepare image", "prepare", ["image"]),
    ("prepare music", "prepare", ["music"]),
    ("prepare paired", "prepare", ["paired"]),
    ("load paired, warm", "prepare", ["paired"]),
    ("stream paired, one by one", "stream", ["paired", 0]),
    ("stream paired_annotations, one by one", "stream", ["paired_annotations", 0]),
    ("stream paired, batches of 1,000", "stream", ["paired", 1000]),
    ("stream paired_annotations, batches of 1,000", "stream", ["paired_annotations", 1000]),
    ("read the media bytes of the streamed pairs", "read_media", []),
    ("va_pairs planned, warm cache", "plan_pairs", []),
]


def _call(function, data_dir, cache, arguments):
    name_first = function in ("prepare", "stream")
    return [*arguments[:1], data_dir, cache, *arguments[1:]] if name_first else [data_dir, cache, *arguments]


def run(work, counts, runs, reference):
    from benchmarks.pairbench import measure_in_fresh_process

    results = {}
    for count in counts:
        data_dir = write(os.path.join(work, f"count-{count}"), count, reference)
        trials = []
        for _ in range(runs):
            cache = os.path.join(work, "cache-" + uuid.uuid4().hex)
            try:
                trial = {}
                for name, function, arguments in COMMANDS:
                    trial[name] = measure_in_fresh_process(
                        "benchmarks.fullbench", function, _call(function, data_dir, cache, arguments), work
                    )
            finally:
                shutil.rmtree(cache, ignore_errors=True)
            trials.append(trial)
            print(f"count {count or 'full'}: {trial}", flush=True)
        results[str(count)] = trials
    return results


# The report (`python -m benchmarks.bench --full-count`, in each environment: each fills its columns)


def report(by_version, command_line):
    lines = [
        SECTION,
        "",
        "Tiny media in the real layouts at 1K, 4K and the full count (24,758 image rows, 25,944 clips, "
        "105,000 train pairs plus the real validation and test files); medians of the runs, each command "
        "in a fresh process on the cache the ones before it left. Seconds per item exclude the interpreter's "
        f"start and imports; peak RSS is the process's. Rerun: `{command_line}` in each environment "
        "(`make bench-full` runs both).",
        "",
    ]
    for version, results in sorted(by_version.items()):
        counts = list(results["counts"])
        lines += [
            f"### datasets {version}",
            "",
            "| command | items at full count | "
            + " | ".join(f"ms per item at {'full' if c == '0' else c}" for c in counts)
            + " | full / 1K (target ≤ 1.2) | peak RSS at full (MB; target ≤ 1,500) |",
            "| --- | ---: | " + " | ".join("---:" for _ in counts) + " | ---: | ---: |",
        ]
        for name, _, _ in COMMANDS:
            per_item = {
                c: 1000
                * sections.median(results["counts"][c], name, "seconds")
                / sections.median(results["counts"][c], name, "items")
                for c in counts
            }
            full, small = per_item.get("0"), per_item.get("1000")
            ratio = f"{full / small:.2f}" if full and small else "n/a"
            peak = sections.median(results["counts"]["0"], name, "peak_rss_mb") if "0" in counts else float("nan")
            items = sections.median(results["counts"]["0"], name, "items") if "0" in counts else 0
            lines.append(
                f"| {name} | {items:,.0f} | "
                + " | ".join(f"{per_item[c]:.3f}" for c in counts)
                + f" | {ratio} | {peak:,.0f} |"
            )
        if "0" in counts:
            full = results["counts"]["0"]
            secs = {name: sections.median(full, name, "seconds") for name, _, _ in COMMANDS}
            for mode in ("one by one", "batches of 1,000"):
                paired, annotations = secs[f"stream paired, {mode}"], secs[f"stream paired_annotations, {mode}"]
                media = secs["read the media bytes of the streamed pairs"]
                lines.append(
                    f"\nStreamed `paired`, {mode}, at full count: {paired:.1f} s, {paired / annotations:.2f}x "
                    f"`paired_annotations` ({annotations:.1f} s; target ≤ 2); beyond that pass, "
                    f"{paired - annotations:.1f} s against {media:.1f} s of reading the media bytes alone "
                    f"({(paired - annotations) / media:.2f}x; target ≤ 1.2 where the 2x is missed)."
                )
        lines.append("")
    return "\n".join(lines)


def main(args):
    import json
    import platform

    import datasets

    os.makedirs(args.work, exist_ok=True)
    path = os.path.join(args.work, f"full-datasets-{datasets.__version__}.json")
    if args.counts:
        results = {
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            "counts": run(args.work, args.counts, args.runs, args.reference),
        }
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
    by_version = sections.results_by_version(args.work, "full-datasets-")
    sections.rewrite_section(args.out, SECTION, END, report(by_version, "python -m benchmarks.bench --full-count"))
