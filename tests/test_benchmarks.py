"""The benchmarks' report: each mode rewrites its own section of BENCHMARKS.md and keeps the others,
the full-count table says, per command, how the cost per item grows against its targets, and the
seek-point benchmark runs as BENCHMARKS.md shows it."""

import json
import subprocess
import sys

from conftest import ROOT

from benchmarks import bench, fullbench, sections
from imemnet_c_tools import sample


def test_a_rerun_rewrites_its_own_section_of_the_report_and_keeps_the_others(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Realistic sizes\n\nkept\n\n## How to rerun\n\nmake bench\n")
    sections.rewrite_section(str(out), "## Full count", "## How to rerun", "## Full count\n\nfirst run\n")
    sections.rewrite_section(str(out), "## Full count", "## How to rerun", "## Full count\n\nsecond run\n")
    sections.rewrite_section(str(out), "## Pairs", "## How to rerun", "## Pairs\n\nfirst run\n")
    sections.rewrite_section(str(out), "## Full count", "## How to rerun", "## Full count\n\nthird run\n")
    assert out.read_text() == (  # the section after the one rewritten is kept
        "# Benchmarks\n\n## Realistic sizes\n\nkept\n\n## Full count\n\nthird run\n\n## Pairs\n\nfirst run\n\n"
        "## How to rerun\n\nmake bench\n"
    )


def test_the_full_count_table_gives_each_commands_cost_per_item_and_its_growth(tmp_path):
    def trial(seconds_per_item, items):
        return {
            name: {"seconds": seconds_per_item * items, "items": items, "peak_rss_mb": 300.0}
            for name, _, _ in fullbench.COMMANDS
        }

    results = {"counts": {"1000": [trial(0.002, 1000)] * 3, "0": [trial(0.001, 100000)] * 3}}
    text = fullbench.report({"3.6.0": results}, "python -m benchmarks.bench --full-count")
    row = next(line for line in text.splitlines() if line.startswith("| check, warm |"))
    assert row == "| check, warm | 100,000 | 2.000 | 1.000 | 0.50 | 300 |"  # ms per item at 1K and full, full / 1K, MB
    assert "Streamed `paired`, one by one, at full count: 100.0 s, 1.00x `paired_annotations`" in text


def test_the_seek_point_benchmark_runs_as_benchmarks_md_shows_it(tmp_path):
    archive = tmp_path / "clips.tar.gz"
    clips = {f"clips/{n}-9.wav": sample.wav_bytes(f"{n}-9", seconds=2.0) for n in range(8)}
    sample.write_tar(str(archive), clips, compress=True)
    command = [sys.executable, "-m", "benchmarks.seekpoints", str(archive), "--chunk-mib", "4", "8"]
    out = subprocess.run(
        [*command, "--reads", "3", "--parallelization", "0", "1"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    rows = json.loads(out.splitlines()[-1])
    assert [(row["chunk_mib"], row["threads"]) for row in rows] == [(4, 0), (4, 1), (8, 0), (8, 1)]
    assert all(row["index_mb"] > 0 and row["read_median_ms"] > 0 for row in rows)
    assert "| 4 MiB | 1 |" in out and "at 45 GB (MB)" in out


def test_the_full_count_mode_with_no_count_rewrites_its_section_from_the_kept_results(tmp_path):
    trial = {name: {"seconds": 1.0, "items": 1000, "peak_rss_mb": 200.0} for name, _, _ in fullbench.COMMANDS}
    (tmp_path / "full-datasets-3.6.0.json").write_text(json.dumps({"counts": {"0": [trial]}}))
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## How to rerun\n\nmake bench-full\n")
    bench.main(["--full-count", "--counts", "--work", str(tmp_path), "--out", str(out)])
    text = out.read_text()
    assert text.index(fullbench.SECTION) < text.index("## How to rerun")
    assert "| check, cold | 1,000 | 1.000 | n/a | 200 |" in text  # no 1K run: no ratio
