"""Seek points at full size (`python -m benchmarks.bench --seek-points [--archive A.tar.gz]`): per
spacing (rapidgzip's chunk size) the archive is listed once and its seek points exported; then, in a
fresh process per spacing and reader threads, what every reader (each DataLoader worker, each rank)
pays to import them (time, VmRSS against before opening) and random member reads (median, 95th
percentile). Figures that grow with the archive are scaled to the 45 GB of IMEMNet's clips."""

import os
import random
import statistics
import tarfile
import time

from benchmarks import harness, realdata
from benchmarks.report import ran, table

TITLE, MODE, DATA = "Seek points at 45 GB", "seek-points", "realistic"  # DATA: the realistic mode's work
RERUN = "python -m benchmarks.bench --seek-points"
FULL_SIZE_GB = 45


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def export(archive, chunk_mib, index):
    """Lists the archive through rapidgzip at this spacing: its members' (offset, size) and the seconds."""
    import rapidgzip

    start = time.time()
    with rapidgzip.RapidgzipFile(archive, parallelization=0, chunk_size=chunk_mib << 20) as stream:
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            members = [(info.offset_data, info.size) for info in tar if info.isreg()]
        stream.export_index(index)
    return members, time.time() - start


def read_at_random(archive, chunk_mib, index, members, reads, threads):
    """In the measured process: import the seek points, then read `reads` members at random."""
    import rapidgzip

    before, start = rss_mb(), time.time()
    stream = rapidgzip.RapidgzipFile(archive, parallelization=threads, chunk_size=chunk_mib << 20)
    stream.import_index(index)
    imported, after_import, timings = time.time() - start, rss_mb(), []
    for offset, size in random.Random(0).sample(members, min(reads, len(members))):
        start = time.time()
        stream.seek(offset)
        assert len(stream.read(size)) == size
        timings.append(time.time() - start)
    after_reads = rss_mb()
    stream.close()
    timings.sort()
    return {
        "import_s": imported,
        "import_rss_mb": after_import - before,
        "reader_rss_mb": after_reads - before,
        "read_median_ms": 1000 * statistics.median(timings),
        "read_p95_ms": 1000 * timings[int(0.95 * (len(timings) - 1))],
    }


def run(args):
    archive = args.archive or os.path.join(
        realdata.realistic(os.path.join(args.work, "data"), args.clips, args.pictures), "targz", "IMEMNet_clips.tar.gz"
    )
    rows = []
    with harness.fresh_cache(args.work) as folder:
        os.makedirs(folder)
        for chunk_mib in args.chunk_mib:
            index = os.path.join(folder, f"seek-points-{chunk_mib}.bin")
            members, listed = export(archive, chunk_mib, index)
            for threads in args.parallelization:
                arguments = [archive, chunk_mib, index, members, args.reads, threads]
                rows.append(harness.measure(__name__, "read_at_random", arguments, args.work))
                rows[-1].update(
                    chunk_mib=chunk_mib, threads=threads, list_s=listed, index_mb=os.path.getsize(index) / 1e6
                )
                print(f"{chunk_mib} MiB, {threads or 'all'} threads: {rows[-1]}", flush=True)
    return {"archive_gb": os.path.getsize(archive) / 1e9, "rows": rows}


SCALED = [  # (header, key, format, format at 45 GB)
    ("seek points (MB)", "index_mb", "{:.1f}", "{:.0f}"),
    ("import (s)", "import_s", "{:.3f}", "{:.2f}"),
    ("memory after import (MB)", "import_rss_mb", "{:.1f}", "{:.0f}"),
]


def section(found):
    if "seek-points" not in found:
        return None
    lines = [ran(found["seek-points"])]
    header = [
        "spacing",
        "reader threads",
        *(h for name, *_ in SCALED for h in (name, "at 45 GB " + name[name.rindex("(") :])),
    ]
    header += ["memory after the reads (MB)", "random member read, median / p95 (ms)"]
    for version, results in sorted(found["seek-points"].items()):
        scale = FULL_SIZE_GB / results["archive_gb"]
        rows = [
            [f"{r['chunk_mib']} MiB", r["threads"] or "all"]
            + [f.format(r[key] * x) for _, key, *formats in SCALED for f, x in zip(formats, (1, scale), strict=True)]
            + [f"{r['reader_rss_mb']:.0f}", f"{r['read_median_ms']:.0f} / {r['read_p95_ms']:.0f}"]
            for r in results["rows"]
        ]
        lines += [
            f"datasets {version}: a {results['archive_gb']:.2f} GB clip tar.gz, figures at 45 GB scaled by {scale:.1f}.",
            "",
            *table(header, rows),
        ]
    return lines
