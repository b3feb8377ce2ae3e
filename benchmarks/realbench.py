"""The realistic mode of `benchmarks.bench`: the loader on downloads of real size (`benchmarks.realdata`:
10 s 44.1 kHz stereo WAV clips in one tar.gz or one zip, 640x480 JPEGs in a zip and in a folder,
about five pairs per clip and per picture), against the floors a researcher would compare with:
one Python gzip read of the clip archive, `tar -xzf`, `unzip`.

    python -m benchmarks.bench --realistic [--clips 800] [--pictures 1000] [--runs 3] [--work /tmp/imemnet-c-real]

Each load runs in a fresh process, first with a fresh cache (cold), then again with the cache it
left (warm: listings kept, prepared datasets reused). Reported per config and mode: time to the
first example, the full pass (not decoded), the extra disk at its peak (free space sampled while it
runs, so deleted-but-open temporary files count), peak RSS, and the longest silence on stderr
before the first example. Results are kept per `datasets` version, so that a run in each
environment fills its columns of one report in BENCHMARKS.md.
"""

import contextlib
import glob
import gzip
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid

import rapidgzip

from benchmarks import realdata, sections
from benchmarks.pairbench import pairs_throughput  # noqa: F401  (run by name in the measured process)

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION, END = "## Realistic sizes", "## Findings"


# What runs in the measured process


def loader_pass(config, data_dir, streaming, cache):
    """Loads as a researcher would and reads every example, not decoded."""
    import imemnet_c

    start = time.time()
    if streaming:
        examples = iter(imemnet_c.load(config, data_dir, split="train", streaming=True, cache_dir=cache).decode(False))
        next(examples)
        first = time.time()
        count = 1 + sum(1 for _ in examples)
    else:
        dataset = imemnet_c.load(config, data_dir, split="train", cache_dir=cache)
        dataset.with_format("arrow")[0]
        first = time.time()
        count = sum(batch.num_rows for batch in dataset.with_format("arrow").iter(batch_size=1000))
    return {"start": start, "first": first, "end": time.time(), "examples": count}


def check_pass(data_dir, cache):
    """`imemnet-c check DATA_DIR` of every config, as a researcher runs it before a prepare."""
    from imemnet_c_tools.check import check

    start = time.time()
    report = check(data_dir, cache_dir=cache)
    end = time.time()
    return {"start": start, "first": end, "end": end, "examples": sum(s["found"] for s in report["sources"].values())}


def gzip_read(path, _cache):
    start = time.time()
    with gzip.open(path) as f:
        _drain(f)
    return _floor(start)


def command(arguments, cache):
    os.makedirs(cache, exist_ok=True)
    start = time.time()
    subprocess.run(arguments, cwd=cache, check=True)
    return _floor(start)


def _floor(start):
    """A floor's result: it has no first example, only its full time."""
    now = time.time()
    return {"start": start, "first": now, "end": now, "examples": 0}


def _drain(f):
    while f.read(1 << 20):
        pass


def gzip_libraries(path, members, cache):
    """What each gzip library gives on the clip archive: a full read and, where it keeps an index,
    the index's size and random member reads through it (those installed; rapidgzip always is)."""
    picks = random.Random(0).sample(members, min(50, len(members)))
    os.makedirs(cache, exist_ok=True)

    def seconds(function, *arguments):
        start = time.perf_counter()
        function(*arguments)
        return time.perf_counter() - start

    def random_reads(f):
        for offset, size in picks:
            f.seek(offset)
            f.read(size)

    def full_read(opener):
        with opener(path) as f:
            return {"read": seconds(_drain, f)}

    def indexed(opener, reopen):
        """A full read that builds the index, then random reads through the exported index."""
        index = os.path.join(cache, "index")
        with opener() as f:
            result = {"read": seconds(_drain, f)}
            f.export_index(index)
        with reopen(index) as f:
            result["random_ms"] = seconds(random_reads, f) / len(picks) * 1000
        return {**result, "index_mb": os.path.getsize(index) / 1e6}

    def rapidgzip_with(index, threads):
        f = rapidgzip.open(path, parallelization=threads)
        f.import_index(index)
        return f

    results = {"gzip (Python)": full_read(gzip.open)}
    with contextlib.suppress(ImportError):
        from isal import igzip

        results["python-isal"] = full_read(igzip.open)
    with contextlib.suppress(ImportError):
        import indexed_gzip

        results["indexed_gzip"] = indexed(
            lambda: indexed_gzip.IndexedGzipFile(path),
            lambda index: indexed_gzip.IndexedGzipFile(path, index_file=index),
        )
    for threads in (1, 2):
        results[f"rapidgzip, {threads} thread{'s' if threads > 1 else ''}"] = indexed(
            lambda t=threads: rapidgzip.open(path, parallelization=t), lambda index, t=threads: rapidgzip_with(index, t)
        )
    return {**_floor(time.time()), "libraries": results}


def preload():
    """Offline, with the modules a running job has loaded (datasets, this loader, torch and
    torchcodec where installed): the measurements time the work, not imports. Returns datasets."""
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    import datasets

    import imemnet_c  # noqa: F401

    with contextlib.suppress(ImportError):
        import torch  # noqa: F401  (datasets imports it, when installed, on the first streamed example)
    with contextlib.suppress(ImportError):
        import torchcodec.decoders  # noqa: F401  (datasets 4+ imports it on the first Audio value)
        import torchcodec.encoders  # noqa: F401
    return datasets


def measure_here(spec_json):
    preload().logging.set_verbosity_warning()
    spec = json.loads(spec_json)
    result = globals()[spec["function"]](*spec["arguments"])
    print(json.dumps(result), flush=True)


# The measuring process


def measure(function, arguments, work, cache):
    """Runs one measurement in a fresh process: its times, the extra disk at the peak (free space
    sampled every 20 ms), peak RSS, and the longest stretch without output on stderr before its first example."""
    spec = json.dumps({"function": function, "arguments": [*arguments, cache]})
    environment = {**os.environ, "HF_HOME": os.path.join(work, "hf-home"), "PYTHONPATH": PROJECT}
    environment.pop("HF_DATASETS_DISABLE_PROGRESS_BARS", None)
    free_before = _free(work)
    lowest, stderr_times, err = [free_before], [], []
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench", "--realistic-measure", spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=PROJECT,
        env=environment,
    )

    def read_stderr():
        while chunk := process.stderr.read1(65536):
            stderr_times.append(time.time())
            err.append(chunk)

    finished = threading.Event()

    def sample_disk():
        while not finished.is_set():  # not process.poll(), which may reap the child before wait4 below
            lowest[0] = min(lowest[0], _free(work))
            time.sleep(0.02)

    threads = [threading.Thread(target=read_stderr), threading.Thread(target=sample_disk)]
    for thread in threads:
        thread.start()
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    finished.set()
    for thread in threads:
        thread.join()
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{function}{tuple(arguments)} failed:\n{b''.join(err).decode(errors='replace')[-3000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    marks = [result["start"], *(t for t in stderr_times if t < result["first"]), result["first"]]
    result.update(
        first_s=result["first"] - result["start"],
        full_s=result["end"] - result["start"],
        disk_mb=(free_before - lowest[0]) / 1e6,
        rss_mb=usage.ru_maxrss / 1024,
        silent_s=max(b - a for a, b in zip(marks, marks[1:], strict=False)),
    )
    return result


def _free(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


LOADS = [  # (name, config, data_dir under the work folder, streaming)
    (f"{config} {'streamed' if streaming else 'prepared'}, clips in a {layout}", config, layout, streaming)
    for config in ("music", "paired", "image")
    for streaming in (True, False)
    for layout in (("targz", "zip") if config != "image" else ("targz",))
]


CHECKS = [(f"imemnet-c check, clips in a {layout}", layout) for layout in ("targz", "zip")]


def run(work, clips, pictures, runs):
    import imemnet_c

    data = os.path.join(work, "data")
    print(f"making data in {data}", flush=True)
    realdata.write(data, clips, pictures)
    archive = os.path.join(data, "targz", "IMEMNet_clips.tar.gz")
    with fresh_cache(work) as cache:
        members = [(m.offset, m.size) for m in imemnet_c.Archive(archive, cache).members()]
    clips_mb = sum(size for _, size in members) / 1e6
    pictures = os.path.join(data, "targz", "emotic_extracted"), os.path.join(data, "targz", "emotic.zip")
    pictures_mb = (sections.folder_size(pictures[0]) + os.path.getsize(pictures[1])) / 1e6
    results = {
        "media_mb": clips_mb + pictures_mb,
        "clips_mb": clips_mb,
        "clip_archive_mb": os.path.getsize(archive) / 1e6,
        "rows": {},
    }
    floors = {
        "floor: Python gzip read of the clip tar.gz": ("gzip_read", [archive]),
        "floor: tar -xzf of the clip tar.gz": ("command", [["tar", "-xzf", archive]]),
        "floor: unzip of the clip zip": ("command", [["unzip", "-q", os.path.join(data, "zip", "IMEMNet_clips.zip")]]),
    }
    for name, (function, arguments) in floors.items():
        trials = []
        for _ in range(runs):
            with fresh_cache(work) as cache:
                trials.append(measure(function, arguments, work, cache))
        results["rows"][name] = {"cold": _medians(trials)}
        print(f"{name:<60} {results['rows'][name]['cold']['full_s']:7.2f} s", flush=True)
    jobs = [
        (name, "loader_pass", [config, os.path.join(data, layout), streaming])
        for name, config, layout, streaming in LOADS
    ]
    jobs += [(name, "check_pass", [os.path.join(data, layout)]) for name, layout in CHECKS]
    for name, function, arguments in jobs:
        cold, warm = [], []
        for _ in range(runs):
            with fresh_cache(work) as cache:
                cold.append(measure(function, arguments, work, cache))
                warm.append(measure(function, arguments, work, cache))
        results["rows"][name] = {"cold": _medians(cold), "warm": _medians(warm)}
        row = results["rows"][name]
        print(
            f"{name:<60} first {row['cold']['first_s']:6.2f} s cold, {row['warm']['first_s']:6.2f} s warm; "
            f"full {row['cold']['full_s']:6.2f} s; disk {row['cold']['disk_mb']:7.0f} MB; "
            f"{row['cold']['rss_mb']:5.0f} MB RSS; silent {row['cold']['silent_s']:.1f} s",
            flush=True,
        )
    with fresh_cache(work) as cache:
        results["gzip_libraries"] = measure("gzip_libraries", [archive, members], work, cache)["libraries"]
    trials = []
    for _ in range(runs):
        with fresh_cache(work) as cache:
            trials.append(measure("pairs_throughput", [os.path.join(data, "targz")], work, cache))
    results["pairs"] = {
        name: {key: statistics.median(t[name][key] for t in trials) for key in trials[0][name]}
        for name in ("loader", "handwritten")
    }
    results["pairs"]["count"] = trials[0]["examples"]
    print(f"pairs through a DataLoader: {results['pairs']}", flush=True)
    return results


@contextlib.contextmanager
def fresh_cache(work):
    """A cache folder of its own, removed afterwards."""
    cache = os.path.join(work, "cache-" + uuid.uuid4().hex)
    try:
        yield cache
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _medians(trials):
    keys = ("first_s", "full_s", "disk_mb", "rss_mb", "silent_s", "examples")
    return {key: statistics.median(t[key] for t in trials) for key in keys}


# The report


def report(all_results, runs, command_line):
    """The realistic section of BENCHMARKS.md, one column group per datasets version."""
    versions = sorted(all_results)
    some = all_results[versions[-1]]
    lines = [
        SECTION,
        "",
        f"Written by `{command_line}` on {time.strftime('%Y-%m-%d')}, in each environment "
        f"(datasets {', '.join(versions)}): {os.cpu_count()} cores, Python {platform.python_version()}. "
        f"Medians of {runs} runs, each in a fresh process; times exclude Python's start and module imports "
        "(datasets, this loader, torch and torchcodec where installed). Data from `benchmarks/realdata.py`: "
        f"{some['clip_archive_mb']:,.0f} MB of clips in one tar.gz (the same clips in one deflated zip), "
        f"pictures half in a zip and half in a folder, {some['media_mb']:,.0f} MB of media in all; "
        "about five pairs per clip and per picture. *Cold*: a fresh cache; *warm*: the same load again, "
        "with the cache the cold one left. *Disk*: the extra disk at its peak while loading cold (free space "
        "sampled every 20 ms: deleted-but-open temporary files count). *Silent*: the longest stretch "
        "without output on stderr before the first example (progress bars on).",
        "",
    ]
    for version in versions:
        rows = all_results[version]["rows"]
        body = []
        for name, row in rows.items():
            cold, warm = row["cold"], row.get("warm")
            body.append(
                [
                    name,
                    f"{cold['first_s']:.2f}" if warm else "",
                    f"{warm['first_s']:.2f}" if warm else "",
                    f"{cold['full_s']:.2f}",
                    f"{warm['full_s']:.2f}" if warm else "",
                    f"{cold['disk_mb']:,.0f}",
                    f"{cold['rss_mb']:,.0f}",
                    f"{cold['silent_s']:.1f}" if warm else "",
                ]
            )
        header = ["datasets " + version, "first, cold (s)", "first, warm (s)", "full, cold (s)", "full, warm (s)"]
        lines += [*sections.table(header + ["disk (MB)", "peak RSS (MB)", "silent (s)"], body), ""]
    lines += ["### Targets", ""]
    lines += [
        *sections.table(["target", "wanted", *(f"datasets {v}" for v in versions)], _targets(all_results, versions)),
        "",
    ]
    lines += _pairs_section(all_results, versions)
    libraries = some.get("gzip_libraries", {})
    lines += [
        "### gzip libraries on the clip tar.gz",
        "",
        "A full read; the seek-point index it leaves; a random read of one clip (mean of 50) through that index.",
        "",
        *sections.table(
            ["library", "full read (s)", "index (MB)", "random clip read (ms)"],
            [
                [name, f"{r['read']:.2f}", f"{r.get('index_mb', 0):.1f}" if "index_mb" in r else "no index", ""]
                if "random_ms" not in r
                else [name, f"{r['read']:.2f}", f"{r['index_mb']:.1f}", f"{r['random_ms']:.1f}"]
                for name, r in libraries.items()
            ],
        ),
        "",
    ]
    return "\n".join(lines)


def _pairs_section(all_results, versions):
    count = all_results[versions[-1]]["pairs"]["count"]
    rows = []
    for version in versions:
        pairs = all_results[version]["pairs"]
        loader, handwritten = pairs["loader"], pairs["handwritten"]
        rows.append(
            [
                version,
                f"{loader['pairs_per_s']:.1f}",
                f"{handwritten['pairs_per_s']:.1f}",
                f"{loader['pairs_per_s'] / handwritten['pairs_per_s']:.2f}",
                f"{loader['rss_early_mb']:,.0f} / {loader['rss_late_mb']:,.0f}",
                f"{handwritten['rss_early_mb']:,.0f} / {handwritten['rss_late_mb']:,.0f}",
            ]
        )
    return [
        "### MMVA pairs through a DataLoader",
        "",
        f"One epoch of `imemnet_c_tools.pairs.va_pairs` over the targz data ({count:,} pairs: each picture and "
        "each clip anchors one), prepared, through `DataLoader(num_workers=2, batch_size=16)`, against a "
        "hand-written torch `Dataset` opening the same files with PIL and soundfile (`benchmarks/pairbench.py`). "
        "Both decode a picture to 224x224 RGB and a clip to one channel at 44.1 kHz; the page cache is warm for "
        "both. Memory: this process and its workers, at a tenth of the epoch / at its largest after that.",
        "",
        *sections.table(
            [
                "datasets",
                "this loader (pairs/s)",
                "hand-written (pairs/s)",
                "ratio",
                "loader RSS (MB)",
                "hand-written RSS (MB)",
            ],
            rows,
        ),
        "",
    ]


def _targets(all_results, versions):
    """The targets table's rows: each target, what is wanted, and its figure in each version."""

    def row(version, name, when="cold"):
        return all_results[version]["rows"][name][when]

    def floor(version, name):
        return row(version, f"floor: {name}")["full_s"]

    def pairs(version):
        return all_results[version]["pairs"]

    def worst(version, names, key, when="cold"):
        return max(row(version, name, when)[key] for name in names)

    def ratio(config, mode, key, floor_name):
        return lambda v: f"{row(v, f'{config} {mode}, clips in a targz')[key] / floor(v, floor_name):.2f}"

    gzip_read, tar_x = "Python gzip read of the clip tar.gz", "tar -xzf of the clip tar.gz"
    loads = [name for name, *_ in LOADS]
    streamed, prepared = [n for n in loads if "streamed" in n], [n for n in loads if "prepared" in n]
    targets = [
        *(
            (
                f"first streamed `{config}` example, cold (tar.gz), s, of at most 0.5x gzip read + 2 s",
                "≤ target",
                lambda v, c=config: (
                    f"{row(v, f'{c} streamed, clips in a targz')['first_s']:.2f} of {0.5 * floor(v, gzip_read) + 2:.2f}"
                ),
            )
            for config in ("music", "paired")
        ),
        (
            "first streamed example, warm, every config and layout (s)",
            "≤ 2",
            lambda v: f"{worst(v, streamed, 'first_s', 'warm'):.2f}",
        ),
        *(
            (
                f"full streamed `{c}` pass, cold (tar.gz), vs one gzip read",
                f"≤ {wanted}",
                ratio(c, "streamed", "full_s", gzip_read),
            )
            for c, wanted in (("music", 1.5), ("paired", 2.0))
        ),
        (
            "streaming extra disk vs the media (%)",
            "≤ 2",
            lambda v: f"{100 * worst(v, streamed, 'disk_mb') / all_results[v]['media_mb']:.2f}",
        ),
        *(
            (f"prepared `{c}` (tar.gz), cold, vs `tar -xzf`", f"≤ {wanted}", ratio(c, "prepared", "first_s", tar_x))
            for c, wanted in (("music", 1.3), ("paired", 1.6))
        ),
        (
            "prepared extra disk vs the media the config uses, worst",
            "≤ 1.15",
            lambda v: f"{max(_disk_share(all_results[v], name) for name in prepared):.2f}",
        ),
        (
            "`imemnet-c check`, cold (tar.gz), vs one gzip read",
            "≤ 1.0",
            lambda v: f"{row(v, 'imemnet-c check, clips in a targz')['full_s'] / floor(v, gzip_read):.2f}",
        ),
        (
            "`imemnet-c check`, warm, every layout (s)",
            "≤ 2",
            lambda v: f"{worst(v, [name for name, _ in CHECKS], 'full_s', 'warm'):.2f}",
        ),
        (
            "MMVA pairs through a DataLoader (2 workers), vs a hand-written Dataset",
            "≥ 0.8",
            lambda v: f"{pairs(v)['loader']['pairs_per_s'] / pairs(v)['handwritten']['pairs_per_s']:.2f}",
        ),
        (
            "memory over an epoch of pairs, largest after a tenth vs at a tenth",
            "≤ 1.1",
            lambda v: f"{pairs(v)['loader']['rss_late_mb'] / pairs(v)['loader']['rss_early_mb']:.2f}",
        ),
        ("peak RSS, worst (MB)", "≤ 1,500", lambda v: f"{worst(v, loads, 'rss_mb'):,.0f}"),
        ("longest silence on stderr, worst (s)", "≤ 8", lambda v: f"{worst(v, loads, 'silent_s'):.1f}"),
    ]
    return [[target, wanted, *(figure(v) for v in versions)] for target, wanted, figure in targets]


def _disk_share(results, name):
    """A prepared load's extra disk over the media its config uses (clips, pictures, or both)."""
    clips = results["clips_mb"]
    pictures = results["media_mb"] - clips
    uses = {"music": clips, "image": pictures, "paired": clips + pictures}[name.split()[0]]
    return results["rows"][name]["cold"]["disk_mb"] / uses


def write(results_by_version, runs, command_line, out):
    with open(out, encoding="utf-8") as f:
        text = f.read()
    section = report(results_by_version, runs, command_line)
    before, found, rest = text.partition("\n" + SECTION)
    after = "\n" + END + rest.partition("\n" + END)[2] if found else "\n" + END + text.partition("\n" + END)[2]
    if not found:
        before = text.partition("\n" + END)[0]
    with open(out, "w", encoding="utf-8") as f:
        f.write(before.rstrip("\n") + "\n\n" + section + after)


def main(args):
    import datasets

    os.makedirs(args.work, exist_ok=True)
    results = run(args.work, args.clips, args.pictures, args.runs)
    with open(os.path.join(args.work, f"results-datasets-{datasets.__version__}.json"), "w") as f:
        json.dump(results, f, indent=1)
    by_version = {}
    for path in glob.glob(os.path.join(args.work, "results-datasets-*.json")):
        with open(path) as f:
            by_version[os.path.basename(path)[len("results-datasets-") : -len(".json")]] = json.load(f)
    write(by_version, args.runs, args.command_line, args.out)
    print(f"Wrote {args.out}")
