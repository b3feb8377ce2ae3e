"""BENCHMARKS.md, written whole: a section per benchmark from the results each run keeps (one file per
mode and datasets version, naming the commit it ran at), then the hand-written Findings and How to
rerun, kept from the file as they are. The one table writer, its medians and its targets' verdicts."""

import contextlib
import glob
import json
import operator
import os
import platform
import statistics
import subprocess
import time

from benchmarks import harness

KEPT = "## Findings"  # from this heading on, BENCHMARKS.md is written by hand
SIGNS = {"≤": operator.le, "<": operator.lt, "≥": operator.ge}  # a target's comparison


def folder_size(folder):
    """Bytes of every file below `folder`."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def median(trials, *keys):
    """The median over `trials` (dicts, one per run) of the value at the nested `keys`."""

    def value(trial):
        for key in keys:
            trial = trial[key]
        return trial

    return statistics.median(value(trial) for trial in trials)


def table(header, rows, blank=True):
    """A Markdown table, its first column left-aligned and the others right-aligned (a blank line after)."""
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows] + [""] * blank


def verdict(value, wanted, digits=2):
    """The value, and `(met)` or `(missed)` where the target is written `≤ x`, `< x` or `≥ x`; blank for None."""
    if value is None:
        return ""
    sign, limit = wanted.split()[0], wanted.split()[-1].replace(",", "")
    met = f" ({'met' if SIGNS[sign](value, float(limit)) else 'missed'})" if sign in SIGNS else ""
    return f"{value:,.{digits}f}{met}"


def measured(value, results):
    """`value(results)`, or None where the kept `results` predate a measurement the target needs."""
    try:
        return value(results)
    except KeyError:
        return None


def targets(columns, rows, digits=2):
    """The targets' table: rows `(target, wanted, [its value in each of columns, None if not measured])`."""
    rows = [[w, x, *(verdict(v, x, digits) for v in vs)] for w, x, vs in rows if any(v is not None for v in vs)]
    return table(["target", "wanted", *columns], rows)


def commit():
    """The project's commit (`-dirty` with uncommitted changes)."""
    describe = ["git", "describe", "--always", "--dirty"]
    return subprocess.run(describe, cwd=harness.PROJECT, capture_output=True, text=True).stdout.strip()


def keep(results_dir, mode, results, command_line, runs, commit):
    """Keeps one mode's results for this datasets version (measured at `commit`), with where and how."""
    import datasets

    memory_gb = 0.0
    with contextlib.suppress(OSError, ValueError):
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    machine = f"{os.cpu_count()} cores, {memory_gb:.0f} GB, Python {platform.python_version()}"
    about = {"commit": commit or "unknown", "date": time.strftime("%Y-%m-%d"), "command": command_line}
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, f"{mode}-datasets-{datasets.__version__}.json"), "w") as f:
        json.dump({"about": {**about, "runs": runs, "machine": machine}, **results}, f, indent=1)


def kept_results(results_dir):
    """{mode: {datasets version: results}} of every result kept in results_dir."""
    found = {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*-datasets-*.json"))):
        mode, _, version = os.path.basename(path)[: -len(".json")].partition("-datasets-")
        with open(path) as f:
            found.setdefault(mode, {})[version] = json.load(f)
    return found


def ran(by_version):
    """The line that says where each version's figures come from."""
    runs = [
        f"datasets {version} at commit `{r['about']['commit']}` on {r['about']['date']} (`{r['about']['command']}`, "
        f"medians of {r['about']['runs']} runs; {r['about']['machine']})"
        for version, r in sorted(by_version.items())
    ]
    return "Run with " + "; ".join(runs) + "."


def write(out, results_dir, sections):
    """BENCHMARKS.md from the kept results: each of `sections` (modules with TITLE, RERUN and
    `section(found)`), then the hand-written part of the file as it is."""
    found = kept_results(results_dir)
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m benchmarks.bench` from the results each benchmark keeps; each section names "
        "the commit it ran at. Each measurement runs in a fresh process (`benchmarks/harness.py`); times "
        "exclude Python's start and module imports (datasets, this loader, torch and torchcodec where "
        "installed), which a training job pays once. The page cache is warm for every contender alike.",
        "",
    ]
    for module in sections:
        body = module.section(found) or [f"Not run: no results in `{results_dir}` (`{module.RERUN}`).", ""]
        lines += [f"## {module.TITLE}", "", *body]
    hand_written = ""
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            text = f.read()
        hand_written = text[text.index(KEPT) :] if KEPT in text else ""
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + ("\n" + hand_written if hand_written else ""))
    print(f"Wrote {out}")
