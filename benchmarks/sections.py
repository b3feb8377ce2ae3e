"""What the benchmarks that fill one section of BENCHMARKS.md per datasets version share: the kept
results of every version, and the section rewritten in place."""

import glob
import json
import os


def results_by_version(work, prefix):
    """{datasets version: its results}, from the `<prefix><version>.json` files each run keeps in work."""
    by_version = {}
    for found in sorted(glob.glob(os.path.join(work, f"{prefix}*.json"))):
        with open(found) as f:
            by_version[os.path.basename(found)[len(prefix) : -len(".json")]] = json.load(f)
    return by_version


def rewrite_section(out, title, next_title, section):
    """Puts `section` (starting with its `title`) into the report `out`, in place of its earlier
    text, or before `next_title` the first time; the rest of the report is kept."""
    with open(out, encoding="utf-8") as f:
        text = f.read()
    before, found, rest = text.partition("\n" + title)
    after = rest.partition("\n" + next_title)[2] if found else text.partition("\n" + next_title)[2]
    if not found:
        before = text.partition("\n" + next_title)[0]
    with open(out, "w", encoding="utf-8") as f:
        f.write(before.rstrip("\n") + "\n\n" + section + "\n" + next_title + after)
    print(f"Wrote {out}")
