"""Every command at IMEMNet-C's real counts (`python -m benchmarks.bench --full-count`, `make bench-full`):
seconds per item and peak memory as the count grows, at 1K, 4K and the full count (0), on
`realdata.full_count`'s tiny media in the real layouts. Each command runs in a fresh process on the
cache the ones before it left (the first on a fresh one); `va_pairs, cold` on a fresh cache of its own."""

import os
import time

from benchmarks import harness, pairbench, realdata
from benchmarks.report import measured, median, ran, table

TITLE, MODE, RERUN = "Every command at full count", "full", "make bench-full"


# What runs in the measured process: each returns the items it handled.


def check(data_dir, cache):
    """`imemnet-c check` of every config, as a researcher runs it before a prepare; items: the media
    files it looks for, examples: those it found."""
    from imemnet_c_tools.check import check

    sources = check(data_dir, cache_dir=cache)["sources"].values()
    return {"items": sum(s["expected"] for s in sources), "examples": sum(s["found"] for s in sources)}


def prepare(config, data_dir, cache):
    """A prepared load of `config` (a warm one when its cache is there); items: its examples."""
    import imemnet_c

    splits = imemnet_c.load(config, data_dir, cache_dir=cache, missing_media="skip")
    return {"items": sum(split.num_rows for split in splits.values())}


def stream(config, batch_size, data_dir, cache):
    """Every train example of `config` streamed, undecoded: one by one, or in batches."""
    import imemnet_c

    dataset = imemnet_c.load(config, data_dir, split="train", streaming=True, cache_dir=cache, missing_media="skip")
    dataset = dataset.decode(False) if "annotations" not in config else dataset
    if batch_size:
        return {"items": sum(len(batch["clip_id"]) for batch in dataset.iter(batch_size=batch_size))}
    return {"items": sum(1 for _ in dataset)}


def read_media(data_dir, cache):
    """The floor of a streamed `paired` pass: every train pair's clip and picture bytes, read in the
    streamed order through the loader's own readers (timed after the plan is made; `plan_s`: making
    the plan, from the annotation files and the kept listings to the pairs located and ordered)."""
    import imemnet_c

    began = time.time()
    plan = imemnet_c.make_plan("paired", data_dir, cache_dir=cache, splits={"train"}, missing_media="skip")
    shards = plan.media.shards(plan.located("train"), plan.config.rows_per_shard)
    start, items = time.time(), 0
    members = plan.media.reader()
    for shard in shards:
        for _, where in shard:
            for location in where.values():
                plan.media.file(location, members)
            items += 1
    return {"start": start, "items": items, "plan_s": start - began}


def evaluate(data_dir, cache):
    """`imemnet-c evaluate` of the test split, given all three kinds of prediction (noisy VA and
    scores, random 64-d embeddings), written before the clock starts; items: the split's pairs."""
    import numpy

    from imemnet_c_tools import evaluate

    items, rng = evaluate.split_items("test", data_dir=data_dir, cache_dir=cache), numpy.random.default_rng(0)
    ids = {"image": items.image_ids, "clip": items.clip_ids}
    va = numpy.clip(
        numpy.concatenate([items.image_va, items.clip_va])
        + rng.normal(0, 0.1, (len(ids["image"]) + len(ids["clip"]), 2)),
        0,
        1,
    )
    scores = numpy.clip(items.pair_scores + rng.normal(0, 0.1, len(items.pairs)), 0, 1)
    paths = {name: os.path.join(cache, name) for name in ("va", "scores", "embeddings")}
    with open(paths["va"], "w", encoding="utf-8") as f:
        f.write("id,valence,arousal\n")
        f.writelines(f"{item},{v},{a}\n" for item, (v, a) in zip([*ids["image"], *ids["clip"]], va, strict=True))
    with open(paths["scores"], "w", encoding="utf-8") as f:
        f.write("clip_id,image_id,score\n")
        f.writelines(f"{ids['clip'][c]},{ids['image'][i]},{s}\n" for (c, i), s in zip(items.pairs, scores, strict=True))
    embeddings = {f"{kind}_embeddings": rng.normal(size=(len(kind_ids), 64)) for kind, kind_ids in ids.items()}
    numpy.savez(
        paths["embeddings"] + ".npz", **embeddings, **{f"{kind}_ids": numpy.array(i) for kind, i in ids.items()}
    )
    start = time.time()
    evaluate.evaluate(
        "test",
        va=paths["va"],
        scores=paths["scores"],
        embeddings=paths["embeddings"] + ".npz",
        data_dir=data_dir,
        cache_dir=cache,
    )
    return {"start": start, "items": len(items.pairs)}


# fmt: off
COMMANDS = [  # (name, module, function, arguments before data_dir and cache): in this order, on one cache per run
    ("check, cold", __name__, "check", []),
    ("check, warm", __name__, "check", []),
    ("prepare image", __name__, "prepare", ["image"]),
    ("prepare music", __name__, "prepare", ["music"]),
    ("prepare paired", __name__, "prepare", ["paired"]),
    ("load paired, warm", __name__, "prepare", ["paired"]),
    ("stream paired, one by one", __name__, "stream", ["paired", 0]),
    ("stream paired_annotations, one by one", __name__, "stream", ["paired_annotations", 0]),
    ("stream paired, batches of 1,000", __name__, "stream", ["paired", 1000]),
    ("stream paired_annotations, batches of 1,000", __name__, "stream", ["paired_annotations", 1000]),
    ("read the media bytes of the streamed pairs", __name__, "read_media", []),
    (pairbench.PLANS["warm"], "benchmarks.pairbench", "plan_epochs", [None]),
    (pairbench.PLANS["balanced"], "benchmarks.pairbench", "plan_epochs", [2]),
    ("evaluate the test split (VA, scores, embeddings)", __name__, "evaluate", []),
]
# fmt: on
COLD_PLAN = (pairbench.PLANS["cold"], "benchmarks.pairbench", "plan_epochs", [None])  # on a fresh cache


def run(args):
    """{"counts": {count: [trial: {command: its result}]}}."""
    results = {}
    for count in args.counts:
        started = time.time()
        data_dir = realdata.full_count(args.work, count, args.reference)
        print(f"count {count or 'full'}: data in {data_dir} ({time.time() - started:.0f} s)", flush=True)
        cold, commands = (
            harness.trials(
                [(module, function, [*arguments, data_dir]) for _, module, function, arguments in steps],
                args.work,
                args.runs,
            )
            for steps in ([COLD_PLAN], COMMANDS)
        )
        names = [COLD_PLAN[0], *(name for name, *_ in COMMANDS)]
        trials = [dict(zip(names, first + rest, strict=True)) for first, rest in zip(cold, commands, strict=True)]
        for name in names:
            print(f"count {count or 'full'}: {name}: {median(trials, name, 'seconds'):.2f} s", flush=True)
        results[str(count)] = trials
    return {"counts": results}


def section(found):
    if "full" not in found:
        return None
    lines = [
        ran(found["full"]),
        "Tiny media in the real layouts at 1K, 4K and the full count (24,758 image rows, 25,944 clips, 105,000 "
        "train pairs plus the real validation and test files). Seconds per item exclude the interpreter's start "
        "and imports; peak RSS is the process's.",
        "",
    ]
    for version, results in sorted(found["full"].items()):
        by_count, rows = results["counts"], []
        full = by_count.get("0")
        for name, *_ in [COLD_PLAN, *COMMANDS]:
            per_item = {c: 1000 * median(t, name, "seconds") / median(t, name, "items") for c, t in by_count.items()}
            ratio = f"{per_item['0'] / per_item['1000']:.2f}" if {"0", "1000"} <= set(per_item) else "n/a"
            items, peak = (f"{median(full, name, key):,.0f}" for key in ("items", "rss_mb")) if full else ("", "")
            rows.append([name, items, *(f"{value:.3f}" for value in per_item.values()), ratio, peak])
        header = ["command", "items at full count", *(f"ms per item at {'full' if c == '0' else c}" for c in by_count)]
        header += ["full / 1K (target ≤ 1.2)", "peak RSS at full (MB; target ≤ 1,500)"]
        lines += [f"### datasets {version}", "", *table(header, rows, blank=False)]
        if full:
            seconds = {name: median(full, name, "seconds") for name, *_ in COMMANDS}
            lines.append(f"\nWarm `imemnet-c check` at full count: {seconds['check, warm']:.2f} s (target ≤ 1.0).")
            evaluated = seconds["evaluate the test split (VA, scores, embeddings)"]
            lines.append(f"\n`imemnet-c evaluate` of the test split at full count: {evaluated:.2f} s (target < 5).")
            media = seconds["read the media bytes of the streamed pairs"]
            planning = measured(lambda t: median(t, "read the media bytes of the streamed pairs", "plan_s"), full)
            for mode in ("one by one", "batches of 1,000"):
                paired, annotations = seconds[f"stream paired, {mode}"], seconds[f"stream paired_annotations, {mode}"]
                lines.append(
                    f"\nStreamed `paired`, {mode}, at full count: {paired:.1f} s, {paired / annotations:.2f}x "
                    f"`paired_annotations` ({annotations:.1f} s; target ≤ 2); beyond that pass, "
                    f"{paired - annotations:.1f} s against {media:.1f} s of reading the media bytes alone "
                    f"({(paired - annotations) / media:.2f}x; target ≤ 1.2 where the 2x is missed)."
                )
            if planning is not None:  # kept results that predate `plan_s` leave the line out
                paired = seconds["stream paired, batches of 1,000"]
                lines.append(
                    f"\nWhere the batched `paired` pass's {paired:.2f} s go: {planning:.2f} s making the plan (the "
                    f"annotation files read, the pairs' media located in the kept listings and put in the order "
                    f"they lie), {media:.2f} s reading the media bytes, and {paired - planning - media:.2f} s "
                    "building the examples (each pair's files and kept verdicts, the tables' columns) and datasets' "
                    "own work."
                )
        lines.append("")
    return lines
