"""Seek points at full size (issue 15): what every reader of a clip tar.gz (each DataLoader worker,
each rank) pays to import them, and what a random member read costs, as the seek points get sparser.

    python -m benchmarks.seekpoints ARCHIVE.tar.gz [--chunk-mib 4 8 16 32] [--reads 40]

For each spacing (rapidgzip's chunk size) it lists the archive once, exports the seek points, then
in a fresh process per spacing: the import's time and the reader's resident memory after it, and
the time of random member reads (median and 95th percentile). Memory is taken from
/proc/self/status (VmRSS) before opening and after the import and the reads; figures per GB of
archive are scaled to the 45 GB of IMEMNet's full clip set, which grows them linearly."""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

FULL_SIZE_GB = 45


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def export(archive, chunk_mib, index):
    """Lists the archive through rapidgzip at this spacing; its members' (offset, size) and the seconds."""
    import rapidgzip

    start, members = time.time(), []
    with rapidgzip.RapidgzipFile(archive, parallelization=0, chunk_size=chunk_mib << 20) as stream:
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            members = [(info.offset_data, info.size) for info in tar if info.isreg()]
        stream.export_index(index)
    return members, time.time() - start


def measure(archive, chunk_mib, index, members, reads, parallelization, seed=0):
    """In this process: import the seek points, then read `reads` members at random."""
    import rapidgzip

    before = rss_mb()
    start = time.time()
    stream = rapidgzip.RapidgzipFile(archive, parallelization=parallelization, chunk_size=chunk_mib << 20)
    stream.import_index(index)
    imported, after_import = time.time() - start, rss_mb()
    timings = []
    for offset, size in random.Random(seed).sample(members, reads):
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive")
    parser.add_argument("--chunk-mib", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument(
        "--parallelization", type=int, nargs="+", default=[0], help="the reader's threads; 0: all cores"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        spec = json.loads(args.measure)
        print(
            json.dumps(
                measure(args.archive, spec["chunk_mib"], spec["index"], spec["members"], args.reads, spec["threads"])
            )
        )
        return
    size_gb = os.path.getsize(args.archive) / 1e9
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for chunk_mib in args.chunk_mib:
            index = os.path.join(work, f"seek-points-{chunk_mib}.bin")
            members, listed = export(args.archive, chunk_mib, index)
            for threads in args.parallelization:
                spec = json.dumps({"chunk_mib": chunk_mib, "index": index, "members": members, "threads": threads})
                command = [sys.executable, "-m", "benchmarks.seekpoints", args.archive, "--reads", str(args.reads)]
                out = subprocess.run(
                    [*command, "--measure", spec], check=True, capture_output=True, text=True, timeout=3600
                ).stdout
                index_mb = os.path.getsize(index) / 1e6
                rows.append(
                    {
                        "chunk_mib": chunk_mib,
                        "threads": threads,
                        "list_s": listed,
                        "index_mb": index_mb,
                        **json.loads(out),
                    }
                )
    print(f"archive: {args.archive}, {size_gb:.2f} GB; full size {FULL_SIZE_GB} GB (x{FULL_SIZE_GB / size_gb:.1f})")
    print(
        "| spacing | reader threads | seek points (MB) | at 45 GB (MB) | import (s) | at 45 GB (s) | memory after import "
        "(MB) | at 45 GB (MB) | memory after the reads (MB) | random member read, median / p95 (ms) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    scale = FULL_SIZE_GB / size_gb
    for r in rows:
        print(
            f"| {r['chunk_mib']} MiB | {r['threads'] or 'all'} | {r['index_mb']:.1f} | {r['index_mb'] * scale:.0f} | {r['import_s']:.3f} | "
            f"{r['import_s'] * scale:.2f} | {r['import_rss_mb']:.1f} | {r['import_rss_mb'] * scale:.0f} | "
            f"{r['reader_rss_mb']:.0f} | "
            f"{r['read_median_ms']:.0f} / {r['read_p95_ms']:.0f} |"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
