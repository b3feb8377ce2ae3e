"""The benchmarks behind BENCHMARKS.md. From the repository's root:

    python -m benchmarks.bench [--sizes 1000 4000 16000] [--runs 3]        many small files (make bench)
    python -m benchmarks.bench --realistic [--clips 800] [--pictures 1000]  real sizes, training pairs (make bench-realistic)
    python -m benchmarks.bench --full-count [--counts 1000 4000 0]         every command at 1K, 4K, full count (make bench-full)
    python -m benchmarks.bench --seek-points [--archive A.tar.gz]          a tar.gz's seek points per spacing
    python -m benchmarks.bench --report                                    BENCHMARKS.md from the kept results only

Each run keeps its results in --results (one file per mode and datasets version, with the commit it
ran at), then writes BENCHMARKS.md whole from every kept result: a section per benchmark, then the
hand-written Findings and How to rerun as they are. Run each mode in each environment (.venv,
.venv-5) to fill both datasets versions' figures.
"""

import argparse
import os
import sys

from benchmarks import fullbench, pairbench, realbench, report, seekpoints, smallbench
from imemnet_c_tools.command import HelpFormatter

MODES = {"small": smallbench, "realistic": realbench, "full": fullbench, "seek-points": seekpoints}
SECTIONS = [smallbench, realbench, pairbench, fullbench, seekpoints]
REFERENCE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "reference"
)


def parser():
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__, formatter_class=HelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--realistic", action="store_true", help="real-size downloads (benchmarks/realbench.py)")
    mode.add_argument(
        "--full-count", action="store_true", help="every command at IMEMNet-C's counts (benchmarks/fullbench.py)"
    )
    mode.add_argument(
        "--seek-points", action="store_true", help="a tar.gz's seek points per spacing (benchmarks/seekpoints.py)"
    )
    mode.add_argument("--report", action="store_true", help="only write BENCHMARKS.md from the kept results")
    p.add_argument("--runs", type=int, default=3, help="runs per measurement (medians are reported)")
    p.add_argument("--work", help="where the data and caches go (default: /tmp/imemnet-c-<mode>)")
    p.add_argument("--results", default="/tmp/imemnet-c-results", help="where each mode keeps its results")
    p.add_argument("--out", default="BENCHMARKS.md", help="the report, written whole (its Findings kept)")
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 4000, 16000], help="small files: examples per modality"
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=list(smallbench.MEASUREMENTS),
        metavar="NAME",
        help="small files: these measurements only, printed, nothing kept",
    )
    p.add_argument("--clips", type=int, default=800, help="realistic and seek points: 10 s stereo clips")
    p.add_argument("--pictures", type=int, default=1000, help="realistic and seek points: 640x480 JPEGs")
    p.add_argument(
        "--counts",
        type=int,
        nargs="+",
        default=[1000, 4000, 0],
        help="full count: items per modality, 0 the full count",
    )
    p.add_argument("--reference", default=REFERENCE, help="full count: the real annotation files, read in place")
    p.add_argument("--archive", help="seek points: the tar.gz (default: the realistic data's clips)")
    p.add_argument("--chunk-mib", type=int, nargs="+", default=[4, 8, 16, 32], help="seek points: spacings")
    p.add_argument("--reads", type=int, default=40, help="seek points: random member reads per spacing")
    p.add_argument(
        "--parallelization", type=int, nargs="+", default=[0], help="seek points: reader threads; 0: all cores"
    )
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if not args.report:
        mode = (
            "realistic"
            if args.realistic
            else "full"
            if args.full_count
            else "seek-points"
            if args.seek_points
            else "small"
        )
        args.work = args.work or f"/tmp/imemnet-c-{'realistic' if mode == 'seek-points' else mode}"
        os.makedirs(args.work, exist_ok=True)
        commit = report.commit()  # the code measured: read before the run, which may outlast a checkout
        results = MODES[mode].run(args)
        if args.only:
            return
        report.keep(args.results, mode, results, " ".join(["python -m benchmarks.bench", *argv]), args.runs, commit)
    report.write(args.out, args.results, SECTIONS)


if __name__ == "__main__":
    main()
