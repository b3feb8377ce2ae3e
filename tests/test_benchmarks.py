"""The benchmarks' report: each mode rewrites its own section of BENCHMARKS.md and keeps the others,
and the full-count table says, per command, how the cost per item grows against its targets."""

from benchmarks import fullbench, sections


def test_a_rerun_rewrites_its_own_section_of_the_report_and_keeps_the_others(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Realistic sizes\n\nkept\n\n## How to rerun\n\nmake bench\n")
    sections.rewrite_section(str(out), "## Full count", "## How to rerun", "## Full count\n\nfirst run\n")
    sections.rewrite_section(str(out), "## Full count", "## How to rerun", "## Full count\n\nsecond run\n")
    assert out.read_text() == (
        "# Benchmarks\n\n## Realistic sizes\n\nkept\n\n## Full count\n\nsecond run\n\n## How to rerun\n\nmake bench\n"
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
