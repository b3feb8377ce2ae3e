"""What the benchmarks' reports share: a folder's size, the median of the trials, a Markdown table,
the kept results of every datasets version, and a section of BENCHMARKS.md rewritten in place."""

import glob
import json
import os
import statistics


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


def results_by_version(work, prefix):
    """{datasets version: its results}, from the `<prefix><version>.json` files each run keeps in work."""
    by_version = {}
    for found in sorted(glob.glob(os.path.join(work, f"{prefix}*.json"))):
        with open(found) as f:
            by_version[os.path.basename(found)[len(prefix) : -len(".json")]] = json.load(f)
    return by_version


def rewrite_section(out, title, next_title, section):
    """Puts `section` (starting with its `title`) into the report `out`: in place of its earlier
    text, which ends where the next `## ` section begins, or before `next_title` the first time;
    every other section is kept."""
    with open(out, encoding="utf-8") as f:
        text = f.read()
    if "\n" + title in text:
        before, _, rest = text.partition("\n" + title)
        after = rest[rest.index("\n## ") + 1 :] if "\n## " in rest else ""
    else:
        before, _, rest = text.partition("\n" + next_title)
        after = next_title + rest
    with open(out, "w", encoding="utf-8") as f:
        f.write(before.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n" + ("\n" + after if after else ""))
    print(f"Wrote {out}")
