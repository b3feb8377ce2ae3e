"""The benchmarks behind BENCHMARKS.md. From the repository's root:

    python -m benchmarks.bench [--sizes 2000 16000] [--runs 3]             many small files (make bench)
    python -m benchmarks.bench --realistic [--clips 800] [--pictures 1000]  real sizes, training pairs (make bench-realistic)
    python -m benchmarks.bench --full-count [--counts 1000 4000 0]         every command at 1K, 4K, full count (make bench-full)
    python -m benchmarks.bench --seek-points [--archive A.tar.gz]          a tar.gz's seek-point readers per spacing
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

MODES = {"realistic": realbench, "full_count": fullbench, "seek_points": seekpoints}  # each module's MODE; else small
SECTIONS = [smallbench, realbench, pairbench, fullbench, seekpoints]
REFERENCE = os.path.join(os.path.dirname(report.harness.PROJECT), "shared", "reference")
OPTIONS = [  # (option, default, help); a list default takes one or more whole numbers
    ("--runs", 3, "runs per measurement (medians are reported)"),
    ("--work", None, "where the data and caches go (default: /tmp/imemnet-c-<mode>)"),
    ("--results", "/tmp/imemnet-c-results", "where each mode keeps its results"),
    ("--out", "BENCHMARKS.md", "the report, written whole (its Findings kept)"),
    ("--sizes", [2000, 16000], "small files: examples per modality"),
    ("--clips", 800, "realistic and seek points: 10 s stereo clips"),
    ("--pictures", 1000, "realistic and seek points: 640x480 JPEGs"),
    ("--counts", [1000, 4000, 0], "full count: items per modality, 0 the full count"),
    ("--reference", REFERENCE, "full count: the real annotation files, read in place"),
    ("--archive", None, "seek points: the tar.gz (default: the realistic data's clips)"),
    ("--chunk-mib", [2, 4, 16, 32], "seek points: spacings"),
    ("--reads", 40, "seek points: random member reads per reader and spacing"),
    ("--parallelization", [0, 1], "seek points: rapidgzip's reader threads; 0: all cores"),
]


def parser():
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__, formatter_class=HelpFormatter)
    mode = p.add_mutually_exclusive_group()
    for name, module in MODES.items():
        mode.add_argument(
            "--" + name.replace("_", "-"), action="store_true", help=f"{module.TITLE} ({module.__name__})"
        )
    mode.add_argument("--report", action="store_true", help="only write BENCHMARKS.md from the kept results")
    for option, default, text in OPTIONS:
        many, kind = isinstance(default, list), int if isinstance(default, int | list) else str
        p.add_argument(option, type=kind, nargs="+" if many else None, default=default, help=text)
    p.add_argument("--only", nargs="+", choices=list(smallbench.MEASUREMENTS), metavar="NAME", help=smallbench.ONLY)
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if not args.report:
        module = next((module for name, module in MODES.items() if getattr(args, name)), smallbench)
        args.work = args.work or f"/tmp/imemnet-c-{getattr(module, 'DATA', module.MODE)}"
        os.makedirs(args.work, exist_ok=True)
        commit = report.commit()  # the code measured: read before the run, which may outlast a checkout
        results = module.run(args)
        if args.only:
            return
        command = " ".join(["python -m benchmarks.bench", *argv])
        report.keep(args.results, module.MODE, results, command, args.runs, commit)
    report.write(args.out, args.results, SECTIONS)


if __name__ == "__main__":
    main()
