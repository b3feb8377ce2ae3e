"""Seek points at full size (`python -m benchmarks.bench --seek-points [--archive A.tar.gz]`): the
readers that may read a tar.gz's members at random, side by side. Per spacing (rapidgzip's chunk
size) the archive is listed once through rapidgzip, whose seek points are exported in both its
formats: INDEXED_GZIP (its default; each 32 KiB window whole) and GZTOOL (each window compressed,
holding only the bytes the data after it refers to). Then, in a fresh process per reader, spacing
and reader threads, what every reader (each DataLoader worker, each rank) pays to import them (time,
VmRSS against the opened reader's) and random member reads (median, 95th percentile, VmRSS against
before opening). No reader shares its seek points between processes: each reader's figures are its own.

The seek points grow with the archive, so the import's figures are scaled to the 45 GB of IMEMNet's
clips (the import's memory whole, a small fixed part included: an upper bound); what the reads add,
the reader's chunk cache and buffers, is bounded and not scaled. ratarmountcore reads a tar.gz
through these same two libraries, so it is not a reader of its own here."""

import os
import random
import statistics
import tarfile
import time

from benchmarks import harness, realdata
from benchmarks.report import ran, table

TITLE, MODE, DATA = "Seek points at 45 GB", "seek-point-readers", "realistic"  # DATA: the realistic mode's work
RERUN = "python -m benchmarks.bench --seek-points"
FULL_SIZE_GB = 45
TARGET_MB, TARGET_MS = 100, 100  # issue 22: per reader at 45 GB, and a random member read (median and p95)
READERS = [  # (library, the export format it imports)
    ("rapidgzip", "INDEXED_GZIP"),
    ("rapidgzip", "GZTOOL"),
    ("indexed_gzip", "INDEXED_GZIP"),
]


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def export(archive, chunk_mib, folder):
    """Lists the archive through rapidgzip at this spacing: its members' (offset, size), the seconds,
    and {format: the seek points exported in it}."""
    import rapidgzip

    start, exported = time.time(), {}
    with rapidgzip.RapidgzipFile(archive, parallelization=0, chunk_size=chunk_mib << 20) as stream:
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            members = [(info.offset_data, info.size) for info in tar if info.isreg()]
        listed = time.time() - start
        for index_format in {f for _, f in READERS}:
            exported[index_format] = os.path.join(folder, f"seek-points-{chunk_mib}-{index_format}.bin")
            stream.export_index(exported[index_format], getattr(rapidgzip.IndexFormat, index_format))
    return members, listed, exported


def opened(library, archive, chunk_mib, threads):
    if library == "indexed_gzip":
        import indexed_gzip

        return indexed_gzip.IndexedGzipFile(archive, auto_build=False)  # reads only where seek points are
    import rapidgzip

    return rapidgzip.RapidgzipFile(archive, parallelization=threads, chunk_size=chunk_mib << 20)


def read_at_random(library, archive, chunk_mib, index, members, reads, threads):
    """In the measured process: import the seek points, then read `reads` members at random."""
    before = rss_mb()
    stream = opened(library, archive, chunk_mib, threads)
    start, unimported = time.time(), rss_mb()
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
        "import_rss_mb": after_import - unimported,
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
            members, listed, exported = export(archive, chunk_mib, folder)
            for library, index_format in READERS:
                for threads in args.parallelization if library == "rapidgzip" else [1]:
                    index = exported[index_format]
                    arguments = [library, archive, chunk_mib, index, members, args.reads, threads]
                    rows.append(harness.measure(__name__, "read_at_random", arguments, args.work))
                    rows[-1].update(
                        library=library,
                        index_format=index_format,
                        chunk_mib=chunk_mib,
                        threads=threads,
                        list_s=listed,
                        index_mb=os.path.getsize(index) / 1e6,
                    )
                    print(f"{library} {index_format} {chunk_mib} MiB, {threads or 'all'} threads: {rows[-1]}")
    return {"archive_gb": os.path.getsize(archive) / 1e9, "rows": rows}


def at_full_size(row, scale):
    """The row's memory after the reads at 45 GB: the import's share scaled, the rest as measured."""
    return row["reader_rss_mb"] + (scale - 1) * row["import_rss_mb"]


def section(found):
    if MODE not in found:
        return None
    lines = [ran(found[MODE])]
    header = ["reader (seek points' format)", "spacing", "reader threads", "listing (s)"]
    header += ["seek points (MB)", "at 45 GB (MB)", "import at 45 GB (s)", "memory after import (MB)"]
    header += ["at 45 GB (MB)", "memory after the reads (MB)", "at 45 GB (MB)", "random member read, median / p95 (ms)"]
    header += [f"≤ {TARGET_MB} MB and ≤ {TARGET_MS} ms at 45 GB"]
    for version, results in sorted(found[MODE].items()):
        scale = FULL_SIZE_GB / results["archive_gb"]
        rows = []
        for r in results["rows"]:
            memory, slowest = at_full_size(r, scale), max(r["read_median_ms"], r["read_p95_ms"])
            rows.append(
                [
                    f"{r['library']} ({r['index_format']})",
                    f"{r['chunk_mib']} MiB",
                    r["threads"] or "all",
                    f"{r['list_s']:.1f}",
                    f"{r['index_mb']:.2f}",
                    f"{r['index_mb'] * scale:.0f}",
                    f"{r['import_s'] * scale:.2f}",
                    f"{r['import_rss_mb']:.1f}",
                    f"{r['import_rss_mb'] * scale:.0f}",
                    f"{r['reader_rss_mb']:.0f}",
                    f"{memory:.0f}",
                    f"{r['read_median_ms']:.0f} / {r['read_p95_ms']:.0f}",
                    "met" if memory <= TARGET_MB and slowest <= TARGET_MS else "missed",
                ]
            )
        lines += [
            f"datasets {version}: a {results['archive_gb']:.2f} GB clip tar.gz, figures at 45 GB scaled by "
            f"{scale:.1f} (memory: the import's share; what the reads add, the reader's bounded chunk cache and "
            "buffers, as measured).",
            "",
            *table(header, rows),
        ]
    return lines
