"""The loading script and its four sibling modules: a folder holding only them loads every config
(as a Hub repository holds them), an edit to any of them gives a new prepared cache, no module uses
another's private names, and a load walks data_dir once and plans only what it is asked for."""

import ast
import os
import shutil
import subprocess
import sys

import pytest
from conftest import DATASETS_RUNS_SCRIPTS, ROOT, SAMPLE, SAMPLE_COUNTS, TIMEOUT, file_events

import imemnet_c

LOADER = [
    "imemnet_c.py",
    "imemnet_c_annotations.py",
    "imemnet_c_media.py",
    "imemnet_c_checks.py",
    "imemnet_c_archives.py",
]


def loader_copy(folder):
    """Only the loader's four files, copied into `folder`."""
    os.makedirs(folder)
    for name in LOADER:
        shutil.copy(os.path.join(ROOT, name), folder)
    return str(folder)


def run(code, *arguments, cwd):
    """`code` in a fresh Python that sees neither this clone nor an installed imemnet-c, in a new
    folder of `cwd` (a folder named imemnet_c beside it would be importable)."""
    environment, cwd = {**os.environ, "PYTHONPATH": ""}, cwd / "elsewhere"
    cwd.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, arguments)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


LOAD_EVERY_CONFIG = """
import importlib.util, sys
import datasets
datasets.disable_progress_bars()
assert importlib.util.find_spec("imemnet_c") is None, "the package is importable: the test would not test the copy"
path, data_dir, cache = sys.argv[1:]
for config in ["image", "music", "paired", "image_annotations", "music_annotations", "paired_annotations"]:
    for streaming in (False, True):
        loaded = datasets.load_dataset(
            path, config, data_dir=data_dir, streaming=streaming, cache_dir=cache, trust_remote_code=True
        )
        print(config, streaming, sorted((split, sum(1 for _ in rows)) for split, rows in loaded.items()))
"""


@pytest.mark.skipif(not DATASETS_RUNS_SCRIPTS, reason="datasets 4 and newer run no loading script")
@pytest.mark.parametrize("by", ["folder", "script"])
def test_a_folder_holding_only_the_script_and_its_siblings_loads_every_config_prepared_and_streaming(tmp_path, by):
    folder = loader_copy(tmp_path / "imemnet_c")
    path = folder if by == "folder" else os.path.join(folder, "imemnet_c.py")
    printed = run(LOAD_EVERY_CONFIG, path, SAMPLE, tmp_path / "cache", cwd=tmp_path).splitlines()
    expected = [
        f"{config}{suffix} {streaming} {sorted(counts.items())}"
        for suffix in ("", "_annotations")
        for config, counts in SAMPLE_COUNTS.items()
        for streaming in (False, True)
    ]
    assert sorted(printed) == sorted(expected)


CACHE_FILE = """
import sys
sys.path.insert(0, sys.argv[1])
import imemnet_c
loaded = imemnet_c.load("image_annotations", sys.argv[2], split="train", cache_dir=sys.argv[3])
print(loaded.cache_files[0]["filename"])
"""


@pytest.mark.parametrize("sibling", LOADER)
def test_an_edit_to_the_script_or_any_sibling_gives_a_new_prepared_cache(tmp_path, sibling):
    folder = loader_copy(tmp_path / "loader")

    def prepared():
        return run(CACHE_FILE, folder, SAMPLE, tmp_path / "cache", cwd=tmp_path).strip()

    first = prepared()
    assert prepared() == first  # unchanged: the prepared dataset is reused
    with open(os.path.join(folder, sibling), "a") as f:
        f.write("\n# an edit\n")
    assert os.path.dirname(prepared()) != os.path.dirname(first)


def project_modules():
    """{module name: its path} of the project's own Python files."""
    found = {}
    for folder in ("", "imemnet_c_tools", "benchmarks", "tests", "examples"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith(".py"):
                found[os.path.join(folder, name)[:-3].replace(os.sep, ".")] = os.path.join(ROOT, folder, name)
    return found


def private_names_used(path, modules):
    """`module._name` and `from module import _name` in the file, where the module is another of the project's."""
    own = {name.rpartition(".")[2] for name in modules}
    tree, used = ast.parse(open(path).read()), []
    imported = {}  # {name bound in this file: the project module it is}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.rpartition(".")[2] in own:
                    imported[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").rpartition(".")[2] in own:
            for alias in node.names:
                if alias.name.startswith("_"):
                    used.append(f"from {node.module} import {alias.name}")
                elif alias.name in own:
                    imported[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in imported:
                used.append(ast.unparse(node))
    return used


def test_no_module_uses_a_private_name_of_another_and_no_generator_is_found_by_config_name():
    modules = project_modules()
    used = {name: private_names_used(path, modules) for name, path in modules.items()}
    assert {name: names for name, names in used.items() if names} == {}
    for name, path in modules.items():
        if not name.startswith("tests."):  # this test names the pattern itself
            assert 'getattr(self, f"_generate_' not in open(path).read(), path


def test_the_private_name_check_finds_such_a_use(tmp_path):
    offender = tmp_path / "offender.py"
    offender.write_text(
        "import imemnet_c\nfrom imemnet_c_media import _opened\nimemnet_c._EXTRACTIONS\nimemnet_c.Archive._keep\n"
    )
    modules = {"imemnet_c": "", "imemnet_c_media": ""}
    assert sorted(private_names_used(str(offender), modules)) == [
        "from imemnet_c_media import _opened",
        "imemnet_c.Archive._keep",
        "imemnet_c._EXTRACTIONS",
    ]


def test_a_load_walks_data_dir_once_and_reads_each_annotation_file_once_to_hash_and_once_to_parse(
    tmp_path, monkeypatch, annotated
):
    with open(annotated / "image_va.csv", "a") as f:  # content no earlier test parsed (parses are kept per content)
        f.write(f"99,{tmp_path.name},0.5,0.5\n")
    walks, walk = [], os.walk

    def counting_walk(top, *args, **kwargs):
        walks.append(os.path.abspath(top))
        return walk(top, *args, **kwargs)

    monkeypatch.setattr(os, "walk", counting_walk)
    with file_events() as events:
        builder = imemnet_c.ImemnetC(
            config_name="image_annotations", data_dir=str(annotated), cache_dir=str(tmp_path / "c")
        )
        builder.download_and_prepare()
    assert walks == [str(annotated)]
    assert events.opened[str(annotated / "image_va.csv")] == 2  # its digest (the cache key), then its rows
    assert builder.as_dataset(split="train").num_rows == SAMPLE_COUNTS["image"]["train"] + 1


def test_a_streamed_split_reads_only_its_own_annotation_files(annotated, tmp_path):
    builder = imemnet_c.ImemnetC(
        config_name="paired_annotations", data_dir=str(annotated), cache_dir=str(tmp_path / "c")
    )
    with file_events() as events:
        rows = list(builder.as_streaming_dataset(split="validation"))
    assert len(rows) == SAMPLE_COUNTS["paired"]["validation"]
    matching = {os.path.basename(path) for path in events.opened if path.endswith("_matching.txt")}
    assert matching == {"val_matching.txt"}


def test_a_check_of_every_config_plans_them_together_reading_each_listing_and_annotation_file_once(tmp_path):
    from imemnet_c_tools.check import check

    data_dir = shutil.copytree(SAMPLE, tmp_path / "downloads")
    check(str(data_dir), cache_dir=str(tmp_path / "c"))  # lists the archives and keeps the media checks
    with file_events() as events:
        report = check(str(data_dir), cache_dir=str(tmp_path / "c"))
    assert report["complete"]
    listings = [path for path in events.opened if path.endswith("index.json")]
    assert len(listings) == len(report["archives"]) and all(events.opened[path] == 1 for path in listings)
    for name in imemnet_c.ANNOTATION_URLS:
        assert events.opened[str(data_dir / name)] == 1, name  # its digest; its rows were kept from the first check


def test_a_builder_that_streamed_one_split_then_prepares_every_split(annotated, tmp_path):
    builder = imemnet_c.ImemnetC(config_name="paired_annotations", data_dir=str(annotated), cache_dir=str(tmp_path))
    assert len(list(builder.as_streaming_dataset(split="test"))) == SAMPLE_COUNTS["paired"]["test"]
    builder.download_and_prepare()
    assert {split: builder.as_dataset(split=split).num_rows for split in builder.info.splits} == SAMPLE_COUNTS["paired"]


@pytest.mark.parametrize("split", ["train+validation", "validation[:3]"])
def test_a_streamed_split_that_is_no_split_name_gets_every_split_planned(annotated, tmp_path, split):
    """datasets 3.6 refuses such a split, naming those there; 5.x streams train+validation."""
    builder = imemnet_c.ImemnetC(config_name="paired_annotations", data_dir=str(annotated), cache_dir=str(tmp_path))
    try:
        rows = list(builder.as_streaming_dataset(split=split))
    except ValueError as error:
        assert all(name in str(error) for name in ("train", "validation", "test")), str(error)
    else:
        counts = SAMPLE_COUNTS["paired"]
        assert len(rows) == {"train+validation": counts["train"] + counts["validation"], "validation[:3]": 3}[split]


def test_a_streamed_split_asked_alone_whose_file_is_unavailable_names_it_when_no_other_is_there(tmp_path):
    builder = imemnet_c.ImemnetC(config_name="paired_annotations", cache_dir=str(tmp_path))  # offline, no data_dir
    with pytest.raises(ConnectionError) as error:
        builder.as_streaming_dataset(split="test")
    assert "Could not download test_matching.txt" in str(error.value)


def test_a_subclass_of_the_builder_in_a_module_of_its_own_streams(annotated, tmp_path, monkeypatch):
    module = tmp_path / "my_builder.py"
    module.write_text("import imemnet_c\n\n\nclass Mine(imemnet_c.ImemnetC):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from my_builder import Mine

    builder = Mine(config_name="image_annotations", data_dir=str(annotated), cache_dir=str(tmp_path / "c"))
    assert len(list(builder.as_streaming_dataset(split="train"))) == SAMPLE_COUNTS["image"]["train"]
    assert "open" not in vars(imemnet_c)  # datasets' patch for URLs is undone


def test_a_plan_of_every_config_reads_each_published_annotation_file_once(tmp_path, annotated, network):
    for name, url in imemnet_c.ANNOTATION_URLS.items():
        network[url] = annotated / name  # what the download gives
    with file_events() as events:
        plans = imemnet_c.make_plan(
            ["image_annotations", "music_annotations", "paired_annotations"], cache_dir=str(tmp_path / "c")
        )
    assert {name: len(plan.tables) for name, plan in plans.items()} == {
        "image_annotations": 1,
        "music_annotations": 1,
        "paired_annotations": 3,
    }
    assert {name: events.opened[str(annotated / name)] for name in imemnet_c.ANNOTATION_URLS} == dict.fromkeys(
        imemnet_c.ANNOTATION_URLS, 1
    )
