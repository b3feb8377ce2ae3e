"""The README's promises stay true: its commands and its "What happens when ..." table, each of
whose rows names the tests that check it."""

import ast
import os
import re

from conftest import ROOT

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def defined_tests(*files):
    names = set()
    for name in files or os.listdir(os.path.join(ROOT, "tests")):
        if name.startswith("test_") and name.endswith(".py"):
            tree = ast.parse(open(os.path.join(ROOT, "tests", name), encoding="utf-8").read())
            names |= {
                node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
            }
    return names


def table_rows():
    section = README.split("## What happens when ...", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith(("| ...", "| ---"))]


def test_every_row_of_the_what_happens_table_names_existing_tests():
    rows = table_rows()
    assert len(rows) >= 25
    existing = defined_tests()
    for row in rows:
        named = re.findall(r"`(test_\w+)`", row.rsplit("|", 2)[1])
        assert named, f"no test named in: {row}"
        assert set(named) <= existing, f"unknown tests in: {row}"


def test_every_reliability_test_has_a_row():
    listed = {name for row in table_rows() for name in re.findall(r"`(test_\w+)`", row)}
    assert defined_tests("test_reliability.py") <= listed


def test_the_readme_opens_with_the_two_commands_ci_runs_the_same():
    assert README.index("make demo") < README.index("make test") < 400
    assert "make test" in open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()


def test_the_three_steps_of_a_user_follow_the_two_commands():
    steps = [README.index(step) for step in ("make test", "pip install .", "imemnet-c check ~/", "imemnet_c.load(")]
    assert steps == sorted(steps) and steps[-1] < 1500
