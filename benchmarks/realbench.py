"""Realistic sizes (`python -m benchmarks.bench --realistic`, `make bench-realistic`): the loader on
`realdata.realistic`'s downloads of real size, cold (a fresh cache) then warm (the cache it left),
against the floors a researcher would compare with (one Python gzip read of the clip archive,
`tar -xzf`, `unzip`) and the peers (`tar -xzf` + `audiofolder`, `unzip` + `imagefolder`); each gzip library on the clip tar.gz; the training pairs' epochs (pairbench)."""

import contextlib
import gzip
import os
import random
import shutil
import subprocess
import time

import rapidgzip

import imemnet_c
from benchmarks import harness, realdata
from benchmarks.report import folder_size, measured, median, ran, table, targets

TITLE, MODE, RERUN = "Realistic sizes", "realistic", "make bench-realistic"
GZIP_READ, TAR_X = "floor: Python gzip read of the clip tar.gz", "floor: tar -xzf of the clip tar.gz"
MANIFEST, SHA256SUM = "imemnet-c check --manifest (tar.gz)", "peer: sha256sum of the same media, extracted"
PEER_TAR = "peer: tar -xzf of the clip tar.gz + audiofolder"
PEER_UNZIP = "peer: unzip of emotic.zip + imagefolder of all pictures"


# What runs in the measured process


def loader_pass(config, data_dir, streaming, cache):
    """Loads as a researcher would and reads every example, not decoded."""
    if streaming:
        examples = iter(imemnet_c.load(config, data_dir, split="train", streaming=True, cache_dir=cache).decode(False))
        next(examples)
        return {"first": time.time(), "examples": 1 + sum(1 for _ in examples)}
    dataset = imemnet_c.load(config, data_dir, split="train", cache_dir=cache).with_format("arrow")
    dataset[0]
    first = time.time()
    return {"first": first, "examples": sum(batch.num_rows for batch in dataset.iter(batch_size=1000))}


def gzip_read(path, _cache):
    with gzip.open(path) as f:
        _drain(f)
    return {}


def command(arguments, cache):
    os.makedirs(cache, exist_ok=True)
    subprocess.run(arguments, cwd=cache, check=True)
    return {}


def manifest(data_dir, cache):
    """`imemnet-c check DATA_DIR --manifest FILE`: every media file a load uses, checked and hashed."""
    from imemnet_c_tools import cli

    os.makedirs(cache, exist_ok=True)
    status = cli.main(["check", data_dir, "--cache-dir", cache, "--manifest", os.path.join(cache, "manifest.json")])
    if status != 0:
        raise RuntimeError(f"imemnet-c check --manifest exited with {status}")
    return {}


def sha256sum(data_dir, cache):
    """The other route to the same digests: `sha256sum` over the media, extracted (outside the clock)."""
    extracted = os.path.join(cache, "extracted")
    for name in os.listdir(data_dir):
        if name.endswith((".zip", ".tar", ".tar.gz")):
            shutil.unpack_archive(os.path.join(data_dir, name), os.path.join(extracted, name))
    media = [
        os.path.join(folder, name)
        for root in (data_dir, extracted)
        for folder, _, names in os.walk(root)
        for name in names
    ]
    media = [path for path in media if path.lower().endswith((".jpg", ".jpeg", ".png", ".wav"))]
    start = time.time()
    subprocess.run(["sha256sum", *media], stdout=subprocess.DEVNULL, check=True)
    return {"start": start, "examples": len(media)}


def _imported(f, index):
    if index:
        f.import_index(index)
    return f


def _drain(f):
    while f.read(1 << 20):
        pass


def gzip_libraries(path, members, cache):
    """Per gzip library installed (rapidgzip always is): a full read and, where it keeps an index,
    the index's size and a random member read through it (mean of 50)."""
    picks, index = random.Random(0).sample(members, min(50, len(members))), os.path.join(cache, "index")
    os.makedirs(cache, exist_ok=True)
    plain, indexed = {"gzip (Python)": lambda: gzip.open(path)}, {}
    with contextlib.suppress(ImportError):
        from isal import igzip

        plain["python-isal"] = lambda: igzip.open(path)
    with contextlib.suppress(ImportError):
        import indexed_gzip

        indexed["indexed_gzip"] = lambda index=None: indexed_gzip.IndexedGzipFile(path, index_file=index)
    for threads in (1, 2):  # a full read builds the index, then random reads through the exported index
        opened = lambda index=None, t=threads: _imported(rapidgzip.open(path, parallelization=t), index)  # noqa: E731
        indexed[f"rapidgzip, {threads} thread{'s' if threads > 1 else ''}"] = opened
    results = {}
    for name, make in {**plain, **indexed}.items():
        with make() as f:
            start = time.perf_counter()
            _drain(f)
            results[name] = {"read": time.perf_counter() - start}
            if name in indexed:
                f.export_index(index)
        if name in indexed:
            with make(index) as f:
                start = time.perf_counter()
                for offset, size in picks:
                    f.seek(offset)
                    f.read(size)
                results[name]["random_ms"] = (time.perf_counter() - start) / len(picks) * 1000
            results[name]["index_mb"] = os.path.getsize(index) / 1e6
    return {"libraries": results}


# The measuring process

LOADS = [  # (name, config, data_dir under the data folder, streaming)
    (f"{config} {'streamed' if streaming else 'prepared'}, clips in a {layout}", config, layout, streaming)
    for config in ("music", "paired", "image")
    for streaming in (True, False)
    for layout in (("targz", "zip") if config != "image" else ("targz",))
]
CHECKS = [(f"imemnet-c check, clips in a {layout}", layout) for layout in ("targz", "zip")]
MODULES = {"check": "benchmarks.fullbench", "peer_extracted_folder": "benchmarks.smallbench"}  # else this one
KEYS = ("first_s", "seconds", "disk_mb", "rss_mb", "silent_s")


def run(args):
    data = realdata.realistic(os.path.join(args.work, "data"), args.clips, args.pictures)
    archive = os.path.join(data, "targz", "IMEMNet_clips.tar.gz")
    with harness.fresh_cache(args.work) as cache:
        members = [(m.offset, m.size) for m in imemnet_c.Archive(archive, cache).members()]
    clips_mb = sum(size for _, size in members) / 1e6
    pictures = [os.path.join(data, "targz", name) for name in ("emotic_extracted", "emotic.zip")]
    media_mb = clips_mb + (folder_size(pictures[0]) + os.path.getsize(pictures[1])) / 1e6
    results = {"media_mb": media_mb, "clips_mb": clips_mb, "clip_archive_mb": os.path.getsize(archive) / 1e6}
    unzip = ["unzip", "-q", os.path.join(data, "zip", "IMEMNet_clips.zip")]
    jobs = [(GZIP_READ, "gzip_read", [archive], False), (TAR_X, "command", [["tar", "-xzf", archive]], False)]
    jobs += [("floor: unzip of the clip zip", "command", [unzip], False)]
    peers = [(PEER_TAR, "IMEMNet_clips.tar.gz", "clips", "IMEMNet/clips", None)]
    peers += [(PEER_UNZIP, "emotic.zip", "images", realdata.EMOTIC_INSIDE, "targz/emotic_extracted")]
    jobs += [(n, "peer_extracted_folder", [data, f"targz/{a}", *rest], False) for n, a, *rest in peers]
    jobs += [(n, "loader_pass", [c, os.path.join(data, layout), streaming], True) for n, c, layout, streaming in LOADS]
    jobs += [(name, "check", [os.path.join(data, layout)], True) for name, layout in CHECKS]
    jobs += [(MANIFEST, "manifest", [os.path.join(data, "targz")], True)]
    jobs += [(SHA256SUM, "sha256sum", [os.path.join(data, "targz")], False)]
    results["rows"] = {}
    for name, function, arguments, warm_too in jobs:
        step = (MODULES.get(function, __name__), function, arguments)
        runs = harness.trials([step] * (2 if warm_too else 1), args.work, args.runs)
        trials = dict(zip(("cold", "warm"), zip(*runs, strict=True), strict=False))
        results["rows"][name] = {when: harness.medians(t, KEYS) for when, t in trials.items()}
        print(f"{name:<52} {results['rows'][name]['cold']['seconds']:7.2f} s cold", flush=True)
    [[gzip_libraries]] = harness.trials([(__name__, "gzip_libraries", [archive, members])], args.work, 1)
    results["gzip_libraries"] = gzip_libraries["libraries"]
    step = ("benchmarks.pairbench", "training_epochs", [os.path.join(data, "targz")])
    results["training"] = [run[0] for run in harness.trials([step], args.work, args.runs)]
    return results


# The report


def _worst(results, names, key, when="cold"):
    return max(results["rows"][name][when][key] for name in names)


def _row(results, name, key="seconds", when="cold"):
    return results["rows"][name][when][key]


def _disk_share(results, name):
    """A prepared load's extra disk over the media its config uses (clips, pictures, or both)."""
    clips, pictures = results["clips_mb"], results["media_mb"] - results["clips_mb"]
    uses = {"music": clips, "image": pictures, "paired": clips + pictures}[name.split()[0]]
    return _row(results, name, "disk_mb") / uses


def _first_cold(config):
    return lambda r: _row(r, f"{config} streamed, clips in a targz", "first_s") / (0.5 * _row(r, GZIP_READ) + 2)


def _training(key):
    return lambda r: median(r["training"], "decoded", key) / median(r["training"], "handwritten", key)


STREAMED, PREPARED = ([n for n, *_ in LOADS if mode in n] for mode in ("streamed", "prepared"))
# fmt: off
TARGETS = [  # (target, wanted, its value from a version's results)
    ("first streamed `music` example, cold (tar.gz), vs 0.5x one gzip read + 2 s", "≤ 1.0", _first_cold("music")),
    ("first streamed `paired` example, cold (tar.gz), vs 0.5x one gzip read + 2 s", "≤ 1.0", _first_cold("paired")),
    ("first streamed example, warm, every config and layout (s)", "≤ 2", lambda r: _worst(r, STREAMED, "first_s", "warm")),
    ("full streamed `music` pass, cold (tar.gz), vs one gzip read", "≤ 1.5", lambda r: _row(r, "music streamed, clips in a targz") / _row(r, GZIP_READ)),
    ("full streamed `paired` pass, cold (tar.gz), vs one gzip read", "≤ 2.0", lambda r: _row(r, "paired streamed, clips in a targz") / _row(r, GZIP_READ)),
    ("streaming extra disk vs the media (%)", "≤ 2", lambda r: 100 * _worst(r, STREAMED, "disk_mb") / r["media_mb"]),
    ("prepared `music` (tar.gz), cold, vs `tar -xzf`", "≤ 1.3", lambda r: _row(r, "music prepared, clips in a targz", "first_s") / _row(r, TAR_X)),
    ("prepared `paired` (tar.gz), cold, vs `tar -xzf`", "≤ 1.6", lambda r: _row(r, "paired prepared, clips in a targz", "first_s") / _row(r, TAR_X)),
    ("prepared `music` (tar.gz), cold, vs `tar -xzf` + `audiofolder`", "≤ 0.8", lambda r: _row(r, "music prepared, clips in a targz", "first_s") / _row(r, PEER_TAR)),
    ("prepared `paired` (tar.gz), cold, vs `tar -xzf` + `audiofolder` of its clips", "≤ 0.8", lambda r: _row(r, "paired prepared, clips in a targz", "first_s") / _row(r, PEER_TAR)),
    ("prepared `image`, cold, vs `unzip` + `imagefolder` of all pictures", "≤ 0.8", lambda r: _row(r, "image prepared, clips in a targz", "first_s") / _row(r, PEER_UNZIP)),
    ("prepared extra disk vs the media the config uses, worst", "≤ 1.15", lambda r: max(_disk_share(r, name) for name in PREPARED)),
    ("`imemnet-c check`, cold (tar.gz), vs one gzip read", "≤ 1.0", lambda r: _row(r, CHECKS[0][0]) / _row(r, GZIP_READ)),
    ("`imemnet-c check`, warm, every layout (s)", "≤ 2", lambda r: _worst(r, [name for name, _ in CHECKS], "seconds", "warm")),
    ("`check --manifest`, cold (tar.gz), vs `tar -xzf` + `sha256sum` of the extracted media", "≤ 1.0", lambda r: _row(r, MANIFEST) / (_row(r, TAR_X) + _row(r, SHA256SUM))),
    ("`check --manifest` again, nothing changed (s)", "≤ 2", lambda r: _row(r, MANIFEST, when="warm")),
    ("MMVA pairs through a DataLoader (2 workers), vs a hand-written Dataset", "≥ 1.0", _training("pairs_per_s")),
    ("memory over an epoch of pairs, largest after a tenth vs at a tenth", "≤ 1.1", lambda r: median(r["training"], "decoded", "rss_mb") / median(r["training"], "decoded", "rss_early_mb")),
    ("peak RSS, worst (MB)", "≤ 1,500", lambda r: _worst(r, [n for n, *_ in LOADS], "rss_mb")),
    ("longest silence on stderr, worst (s)", "≤ 8", lambda r: _worst(r, [n for n, *_ in LOADS], "silent_s")),
]
# fmt: on


def section(found):
    if "realistic" not in found:
        return None
    by_version = found["realistic"]
    some = next(iter(by_version.values()))
    lines = [
        ran(by_version),
        f"{some['clip_archive_mb']:,.0f} MB of clips in one tar.gz (the same clips in one deflated zip), pictures half "
        f"in a zip and half in a folder, {some['media_mb']:,.0f} MB of media in all; about five pairs per picture. "
        "*Cold*: a fresh cache; *warm*: the same load again, with the cache the cold one left. *Disk*: the extra "
        "disk at its peak while loading cold (deleted-but-open temporary files count). *Silent*: the longest "
        "stretch without output on stderr before the first example (progress bars on). A *peer* is the route "
        "without this loader, timed whole: the archive extracted by its command-line tool into a fresh folder, "
        "then `audiofolder` or `imagefolder` with a metadata.csv of ids, valence and arousal (written, and the "
        "pictures' folder half hard-linked beside the zip's, before the clock); `paired` is compared with the "
        "clips' peer.",
        "",
    ]
    header = [f"{what}, {when} (s)" for what in ("first", "full") for when in ("cold", "warm")]
    header += ["disk (MB)", "peak RSS (MB)", "silent (s)"]
    for version, results in sorted(by_version.items()):
        rows = []
        for name, row in results["rows"].items():
            cold, warm = row["cold"], row.get("warm")
            figures = [row[when][key] for key in ("first_s", "seconds") for when in ("cold", "warm")] if warm else []
            timed = figures or [None, None, cold["seconds"], None]
            rows.append([name, *("" if x is None else f"{x:.2f}" for x in timed), f"{cold['disk_mb']:,.0f}"])
            rows[-1] += [f"{cold['rss_mb']:,.0f}", f"{cold['silent_s']:.1f}" if warm else ""]
        lines += table([f"datasets {version}", *header], rows)
    versions = sorted(by_version)
    rows = [(what, wanted, [measured(value, by_version[v]) for v in versions]) for what, wanted, value in TARGETS]
    lines += ["### Targets", "", *targets([f"datasets {v}" for v in versions], rows)]
    libraries = [
        [name, f"{r['read']:.2f}", f"{r['index_mb']:.1f}" if "index_mb" in r else "no index"]
        + [f"{r['random_ms']:.1f}" if "random_ms" in r else ""]
        for name, r in some["gzip_libraries"].items()
    ]
    return lines + [
        "### gzip libraries on the clip tar.gz",
        "",
        "A full read; the seek-point index it leaves; a random read of one clip (mean of 50) through that index.",
        "",
        *table(["library", "full read (s)", "index (MB)", "random clip read (ms)"], libraries),
    ]
