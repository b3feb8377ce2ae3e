"""The README and the pages of docs/ keep their promises: the README is one short page that opens
with the two commands and a user's three steps; every link between the pages leads somewhere; and
every row of the "What happens when ..." table in docs/reliability.md names the tests that check it."""

import ast
import glob
import os
import re

from conftest import ROOT

import imemnet_c

README_PATH = os.path.join(ROOT, "README.md")
RELIABILITY_PATH = os.path.join(ROOT, "docs", "reliability.md")
PAGES = [README_PATH, *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]


def read(path):
    return open(path, encoding="utf-8").read()


README = read(README_PATH)
# What a reader sees on the repository's front page: the README after its YAML metadata block.
README_BODY = README.split("\n---\n", 1)[1] if README.startswith("---\n") else README


def defined_tests(*files):
    names = set()
    for name in files or os.listdir(os.path.join(ROOT, "tests")):
        if name.startswith("test_") and name.endswith(".py"):
            tree = ast.parse(read(os.path.join(ROOT, "tests", name)))
            names |= {
                node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
            }
    return names


def table_rows():
    section = read(RELIABILITY_PATH).split("# What happens when ...", 1)[1]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith(("| ...", "| ---"))]


def links(path):
    """The targets of the Markdown links of a page, code blocks left out."""
    text = re.sub(r"```.*?```", "", read(path), flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def local_links(path):
    """(file, anchor or None) of each link of a page to a file of this repository."""
    found = []
    for target in links(path):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        file = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        found.append((file, anchor or None))
    return found


def anchors(path):
    """The anchors GitHub gives the headings of a Markdown page."""
    text = re.sub(r"```.*?```", "", read(path), flags=re.S)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


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
    assert README_BODY.index("make demo") < README_BODY.index("make test") < 400
    assert "make test" in read(os.path.join(ROOT, ".ci", "run"))


def test_the_three_steps_of_a_user_follow_the_two_commands():
    steps = [
        README_BODY.index(step) for step in ("make test", "pip install .", "imemnet-c check ~/", "imemnet_c.load(")
    ]
    assert steps == sorted(steps) and steps[-1] < 1500


def test_the_readme_is_one_short_page():
    assert len(README.splitlines()) <= 160


def test_the_readme_links_to_a_page_on_each_topic():
    linked = {os.path.relpath(file, ROOT) for file, _ in local_links(README_PATH)}
    for page in (
        "loading",
        "check",
        "export",
        "evaluation",
        "training",
        "releases",
        "reliability",
        "archives",
        "architecture",
    ):
        assert f"docs/{page}.md" in linked, page


def test_every_link_of_the_readme_and_the_docs_leads_to_an_existing_file_and_heading():
    for page in PAGES:
        for file, anchor in local_links(page):
            where = f"{os.path.relpath(page, ROOT)} links to {os.path.relpath(file, ROOT)}"
            assert os.path.exists(file), where
            if anchor is not None:
                assert anchor in anchors(file), f"{where}#{anchor}: no such heading"


def test_every_page_of_the_docs_is_linked_from_the_readme_or_another_page():
    linked = {file for page in PAGES for file, _ in local_links(page) if file != page}
    assert set(PAGES[1:]) <= linked


def test_the_architecture_page_names_the_loaders_seam_and_tools_as_they_are():
    page = read(os.path.join(ROOT, "docs", "architecture.md"))
    assert "# The public seam" in page and "# The public seam" in read(os.path.join(ROOT, "imemnet_c.py"))
    for name in ("Archive", "MemberReader", "Plan", "Media", "make_plan"):
        assert name in page and name in imemnet_c.__all__, name
    for module in ("imemnet_c", "imemnet_c_media", "imemnet_c_checks", "imemnet_c_annotations", "imemnet_c_archives"):
        assert f"{module}.py" in page and os.path.isfile(os.path.join(ROOT, f"{module}.py")), module
    for tool in ("check", "demo", "export", "evaluate", "pairs", "plot", "sample"):
        assert f"`{tool}`" in page and os.path.isfile(os.path.join(ROOT, "imemnet_c_tools", f"{tool}.py")), tool


def test_the_pages_that_speak_of_the_annotation_urls_name_those_not_pinned_to_a_commit():
    """Where a page says how a published annotation file keys the cache, it names the files whose
    URL follows a branch (their upstream changes need force_redownload) and calls no other one so."""
    on_a_branch = {name for name, url in imemnet_c.ANNOTATION_URLS.items() if not re.search(r"/[0-9a-f]{40}/", url)}
    for path in (os.path.join(ROOT, "docs", "archives.md"), RELIABILITY_PATH):
        sentence = next(s for s in re.split(r"(?<=\.)\s", read(path).replace("\n", " ")) if "force_redownload" in s)
        named = {name for name in imemnet_c.ANNOTATION_URLS if f"`{name}`" in sentence}
        assert named == on_a_branch, path
        assert "pinned to a commit)" not in read(path).replace("\n  ", " "), path
