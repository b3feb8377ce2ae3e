"""BENCHMARKS.md, written whole: a section per benchmark from the results each run keeps (one file per
mode and datasets version, naming the commit it ran at), then the hand-written Findings and How to
rerun, kept from the file as they are."""

import contextlib
import glob
import json
import os
import platform
import statistics
import subprocess
import time

from benchmarks import harness

KEPT = "## Findings"  # from this heading on, BENCHMARKS.md is written by hand


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


def table(header, rows):
    """A Markdown table, its first column left-aligned and the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def met(value, wanted):
    """`met` or `missed`, for a target written `≤ x` or `≥ x`."""
    limit = float(wanted.split()[-1].replace(",", ""))
    return "met" if (value <= limit if wanted.startswith("≤") else value >= limit) else "missed"


def commit():
    """The project's commit (`-dirty` with uncommitted changes)."""
    describe = ["git", "describe", "--always", "--dirty"]
    return subprocess.run(describe, cwd=harness.PROJECT, capture_output=True, text=True).stdout.strip()


def keep(results_dir, mode, results, command_line, runs, commit):
    """Keeps one mode's results for this datasets version (measured at `commit`), with where and how
    they were made."""
    import datasets

    memory_gb = 0.0
    with contextlib.suppress(OSError, ValueError):
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    about = {
        "commit": commit or "unknown",
        "date": time.strftime("%Y-%m-%d"),
        "command": command_line,
        "runs": runs,
        "machine": f"{os.cpu_count()} cores, {memory_gb:.0f} GB, Python {platform.python_version()}",
    }
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, f"{mode}-datasets-{datasets.__version__}.json"), "w") as f:
        json.dump({"about": about, **results}, f, indent=1)


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
        body = module.section(found)
        lines += [f"## {module.TITLE}", "", *(body or [f"Not run: no results in `{results_dir}` (`{module.RERUN}`)."])]
        lines.append("")
    hand_written = ""
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            text = f.read()
        hand_written = text[text.index(KEPT) :] if KEPT in text else ""
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + ("\n" + hand_written if hand_written else ""))
    print(f"Wrote {out}")
