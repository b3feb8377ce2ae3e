"""One load call for every datasets version: the suite runs on datasets 3.6 and on 5.x, and here
the two environments are compared example by example (`make test-5` names the 3.6 one)."""

import importlib.util
import json
import os
import pickle
import subprocess
import sys

import datasets
import pytest
from conftest import ROOT, SAMPLE, content, export_command

import imemnet_c
from imemnet_c_tools.check import check
from imemnet_c_tools.digest import digest

PEER = os.environ.get("IMEMNET_C_PEER_PYTHON")


@pytest.mark.skipif(
    not PEER, reason="no other datasets environment named by IMEMNET_C_PEER_PYTHON (make test-5 sets it)"
)
def test_the_other_datasets_version_gives_identical_content_for_every_config(tmp_path):
    peer = subprocess.run(
        [PEER, "-m", "imemnet_c_tools.digest", "--data-dir", SAMPLE, "--cache-dir", str(tmp_path / "peer-cache")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert peer.returncode == 0, peer.stderr[-3000:]
    peer_version = subprocess.run(
        [PEER, "-c", "import datasets; print(datasets.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.strip()

    assert peer_version != datasets.__version__, "the peer environment has the same datasets version"
    ours = digest(SAMPLE, cache_dir=str(tmp_path / "cache"))
    assert len(ours) == 2 * (1 + 1 + 3) * 2  # media and annotation configs, every split, both modes
    assert json.loads(peer.stdout) == ours


@pytest.mark.skipif(
    not PEER, reason="no other datasets environment named by IMEMNET_C_PEER_PYTHON (make test-5 sets it)"
)
def test_a_folder_exported_on_the_other_version_loads_here_with_the_same_content(load, tmp_path):
    out = tmp_path / "exported-by-peer"
    command = export_command(
        PEER, SAMPLE, out, "--cache-dir", tmp_path / "peer", "--config", "image", "music", "paired"
    )
    peer = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert peer.returncode == 0, peer.stderr[-3000:]
    for config, script_config in (("image", "image"), ("music", "music"), ("paired", "paired_annotations")):
        exported = datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "parquet-cache"))
        script = load(script_config, SAMPLE)
        assert {split: content(ds) for split, ds in exported.items()} == {
            split: content(ds) for split, ds in script.items()
        }


def module_functions():
    """What imemnet_c's code calls by these names: datasets patches them in a builder's module for streaming."""
    return {name: vars(imemnet_c).get(name) for name in ("open", "os", "glob", "pathlib", "_patched_for_streaming")}


def test_a_streaming_load_leaves_the_module_unpatched_for_a_check_and_a_prepared_load_after_it(load, tmp_path):
    real = module_functions()
    assert real["open"] is None and real["os"] is os  # the builtin open, the os module
    streamed = load("paired", SAMPLE, streaming=True)
    builder = imemnet_c.ImemnetC(config_name="music", data_dir=SAMPLE, cache_dir=str(tmp_path / "direct"))
    clips = builder.as_streaming_dataset(split="train")  # on 3.6 load_dataset runs a copy of the module
    pickle.loads(pickle.dumps(builder))  # what a DataLoader worker does with it
    assert module_functions() == real
    streamed = {split: content(ds) for split, ds in streamed.items()}
    assert len(content(clips)) == 8

    report = check(SAMPLE, cache_dir=str(tmp_path / "cache"))
    assert report["complete"] and module_functions() == real
    assert {split: content(ds) for split, ds in load("paired", SAMPLE).items()} == streamed
    assert module_functions() == real


@pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
def test_load_takes_load_datasets_download_and_verification_modes_on_every_line(load, streaming, monkeypatch):
    def arrow_files(loaded):
        return {f["filename"]: os.stat(f["filename"]).st_mtime_ns for f in loaded["train"].cache_files}

    loads, prepared = [], []
    for modes in ({}, {"download_mode": "reuse_dataset_if_exists"}, {"download_mode": "force_redownload"}):
        loads.append(load("image", SAMPLE, streaming=streaming, **modes))
        prepared.append(None if streaming else arrow_files(loads[-1]))
    loads.append(load("image", SAMPLE, streaming=streaming, verification_mode="no_checks"))
    assert all(content(loaded["train"]) == content(loads[0]["train"]) for loaded in loads)
    if not streaming:  # the modes reach the prepare: kept, then made again in the same place
        first, reused, again = prepared
        assert reused == first and again.keys() == first.keys() and again != first
        prepares, prepare = [], datasets.builder.DatasetBuilder.download_and_prepare

        def spy(builder, *args, **kwargs):
            prepares.append(kwargs)
            return prepare(builder, *args, **kwargs)

        monkeypatch.setattr(datasets.builder.DatasetBuilder, "download_and_prepare", spy)
        load("image", SAMPLE, verification_mode="no_checks", download_config=datasets.DownloadConfig(max_retries=7))
        options = prepares[-1]
        assert datasets.VerificationMode(options["verification_mode"]) == datasets.VerificationMode.NO_CHECKS
        assert options["download_config"].max_retries == 7  # and the download options


@pytest.mark.skipif(
    not hasattr(datasets.builder, "Key"), reason="before datasets 5, an Arrow builder's keys are unused"
)
def test_each_table_carries_its_shards_key_and_datasets_records_each_shards_length(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "SAVE_ORIGINAL_SHARD_LENGTHS", True)  # off by default
    builder = imemnet_c.ImemnetC(config_name="paired", data_dir=SAMPLE, cache_dir=str(tmp_path), rows_per_shard=3)
    builder.download_and_prepare()
    assert builder.info.splits["train"].original_shard_lengths == [3, 3, 3, 3, 3, 1]  # 16 pairs
    assert builder.info.splits["test"].original_shard_lengths == [3, 3, 3, 1]  # 10 pairs


def test_the_progress_bar_comes_from_its_home_not_from_the_compatibility_re_export(monkeypatch):
    monkeypatch.delattr(datasets.utils.logging, "tqdm")  # a release that drops the re-export
    spec = importlib.util.spec_from_file_location("imemnet_c_on_a_newer_release", imemnet_c.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    with module.progress(range(3), "Listing x.tar.gz", "B") as bar:
        assert list(bar) == [0, 1, 2]
    assert isinstance(bar, sys.modules["datasets.utils.tqdm"].tqdm)
