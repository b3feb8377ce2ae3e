"""The benchmarks' promises: every command BENCHMARKS.md shows runs (here at tiny sizes); the report
is written whole from the kept results, each section naming the commit it ran at, the hand-written
Findings kept; and its targets are the ratios of the figures in its own tables."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import REFERENCE, ROOT

HAND_WRITTEN = "## Findings\n\nWritten by hand, kept as it is.\n\n## How to rerun\n\nmake bench\n"
COMMANDS = {  # the commands of BENCHMARKS.md's How to rerun, at tiny sizes
    "Many small files": ["--sizes", "20"],
    "Realistic sizes": ["--realistic", "--clips", "3", "--pictures", "4"],
    "Every command at full count": ["--full-count", "--counts", "20"],
    "Seek points at 45 GB": [
        "--seek-points",
        "--clips",
        "3",
        "--pictures",
        "4",
        "--chunk-mib",
        "4",
        "8",
        "--reads",
        "3",
        "--parallelization",
        "1",
    ],
}


def bench(*arguments, work, out):
    command = [sys.executable, "-m", "benchmarks.bench", "--runs", "1", "--out", str(out), *arguments]
    command += ["--results", str(work / "results"), "--work", str(work / arguments[0].strip("-"))]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run(command, cwd=ROOT, env=environment, check=True, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every mode run once at tiny sizes into one report; the reference is a slice of the real files."""
    work = tmp_path_factory.mktemp("bench")
    reference = work / "reference"
    reference.mkdir()
    for name in ("image_va.csv", "val_matching.txt", "test_matching.txt"):
        with open(os.path.join(REFERENCE, name)) as f:
            (reference / name).write_text("".join(line for _, line in zip(range(40), f, strict=False)))
    out = work / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nan old figure\n\n" + HAND_WRITTEN)
    for arguments in COMMANDS.values():
        bench(*arguments, *(["--reference", str(reference)] if "--full-count" in arguments else []), work=work, out=out)
    return work, out.read_text()


def sections(text):
    return dict(re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", text, re.M | re.S))


def test_the_report_is_written_whole_each_section_naming_its_commit_and_the_findings_kept(written):
    _, text = written
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    found = sections(text)
    assert list(found) == [*COMMANDS][:2] + ["Training pairs"] + [*COMMANDS][2:] + ["Findings", "How to rerun"]
    for title in [*COMMANDS, "Training pairs"]:
        assert f"at commit `{commit.stdout.strip()}`" in found[title], title
    assert "an old figure" not in text and text.endswith(HAND_WRITTEN)


def rows(text, first_cell):
    """The cells of the Markdown table rows whose first cell is `first_cell`."""
    return [line.strip("|").split(" | ")[1:] for line in text.splitlines() if line.startswith(f"| {first_cell} |")]


def within_rounding(ratio, numerator, denominator, digits=2):
    """Whether `ratio` can be numerator / denominator when all three were rounded to `digits`."""
    half = 0.5 * 10**-digits
    low, high = (
        (float(numerator) - half) / (float(denominator) + half),
        (float(numerator) + half) / max(float(denominator) - half, 1e-9),
    )
    return low - half <= float(ratio.split()[0]) <= high + half


def test_a_target_is_the_ratio_of_the_figures_in_the_tables_above_it(written):
    _, text = written
    small, realistic = sections(text)["Many small files"], sections(text)["Realistic sizes"]
    prepared, imagefolder = (
        rows(small, name)[0][0] for name in ("image prepared from folder", "imagefolder + metadata.csv")
    )
    [[_, ratio]] = rows(small, "prepared `image` vs `imagefolder` (same folder)")
    assert within_rounding(ratio, prepared, imagefolder)
    [[_, _, streamed, *_]] = rows(realistic, "music streamed, clips in a targz")  # full, cold (s)
    [[_, _, gzip_read, *_]] = rows(realistic, "floor: Python gzip read of the clip tar.gz")
    [[_, ratio]] = rows(realistic, "full streamed `music` pass, cold (tar.gz), vs one gzip read")
    assert within_rounding(ratio, streamed, gzip_read)
    training = sections(text)["Training pairs"]
    [[cached]] = rows(training, "va_pairs(items=cache) (pairs/s)")
    [[floor]] = rows(training, "floor: the epoch's arrays gathered from the cache in one process (pairs/s)")
    [[_, ratio]] = rows(training, "cache epoch pairs/s / floor pairs/s")
    low, high = (float(cached) - 0.5) / (float(floor) + 0.5), (float(cached) + 0.5) / (float(floor) - 0.5)
    assert low - 0.0005 <= float(ratio.split()[0]) <= high + 0.0005  # figures to whole pairs/s, the ratio to 3 digits


def test_the_full_count_table_says_each_commands_cost_per_item_and_the_warm_check(written):
    _, text = written
    full = sections(text)["Every command at full count"]
    for command in (
        "check, warm",
        "stream paired, batches of 1,000",
        "va_pairs, cold",
        "va_pairs balance=2, warm cache",
    ):
        [[_, per_item, _, _]] = rows(full, command)
        assert float(per_item) > 0
    seek_points = sections(text)["Seek points at 45 GB"]
    for reader in ("rapidgzip (INDEXED_GZIP)", "rapidgzip (GZTOOL)", "indexed_gzip (INDEXED_GZIP)"):
        assert [row[0] for row in rows(seek_points, reader)] == ["4 MiB", "8 MiB"], reader


def report_of_edited_results(written, tmp_path, mode, edit):
    """The sections of the report `--report` writes from a copy of the kept results, `mode`'s
    result changed by `edit(kept)` first."""
    work, _ = written
    results = tmp_path / "results"
    shutil.copytree(work / "results", results)
    (path,) = results.glob(f"{mode}-datasets-*.json")
    kept = json.loads(path.read_text())
    edit(kept)
    path.write_text(json.dumps(kept))
    out = tmp_path / "BENCHMARKS.md"
    command = [sys.executable, "-m", "benchmarks.bench", "--report", "--results", str(results), "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return sections(out.read_text())


def test_the_batched_paired_pass_is_shown_as_its_plan_its_reads_and_the_rest(written, tmp_path):
    def as_full_count(kept):  # what the full count's lines are written from
        kept["counts"] = {"0": kept["counts"]["20"]}

    full = report_of_edited_results(written, tmp_path, "full", as_full_count)["Every command at full count"]
    pattern = r"batched `paired` pass's ([\d.]+) s go: ([\d.]+) s making .*?, ([\d.]+) s reading .*?and (-?[\d.]+) s"
    [figures] = re.findall(pattern, full)
    total, plan, read, rest = map(float, figures)
    assert min(plan, read, rest) >= 0 and abs(plan + read + rest - total) <= 0.02  # four figures rounded to 0.01 s


def test_the_report_alone_is_written_again_from_the_kept_results_and_says_what_was_not_run(written, tmp_path):
    work, text = written
    out = tmp_path / "BENCHMARKS.md"
    shutil.copy(work / "BENCHMARKS.md", out)
    bench("--report", work=work, out=out)
    assert out.read_text() == text
    (tmp_path / "empty").mkdir()
    subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--report", "--results", str(tmp_path / "empty"), "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert "Not run: no results in" in sections(out.read_text())["Realistic sizes"]
    assert out.read_text().endswith(HAND_WRITTEN)


def test_only_some_small_file_measurements_are_printed_and_nothing_is_kept(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    printed = bench("--sizes", "20", "--only", "floor: read images.zip", work=tmp_path, out=out).stdout
    assert re.search(r"20 floor: read images.zip +\d+\.\d\d s", printed)
    assert not out.exists() and not (tmp_path / "results").exists()


def test_a_kept_result_that_predates_a_measurement_leaves_its_target_out_and_the_rest_written(written, tmp_path):
    def predating(kept):  # measured from a later commit on
        del kept["rows"]["image prepared, clips in a targz"]
        for trial in kept["training"]:
            del trial["cached_in_process"]

    report = report_of_edited_results(written, tmp_path, "realistic", predating)
    realistic, training = report["Realistic sizes"], report["Training pairs"]
    assert rows(realistic, "prepared `image`, cold, vs `unzip` + `imagefolder` of all pictures") == []
    assert rows(realistic, "prepared `music` (tar.gz), cold, vs `tar -xzf`") != []
    [no_workers] = rows(training, "va_pairs(items=cache), no workers: the batches made in the main process (pairs/s)")
    assert [cell.strip() for cell in no_workers] == [""]
    assert float(rows(training, "va_pairs(items=cache) (pairs/s)")[0][0]) > 0
