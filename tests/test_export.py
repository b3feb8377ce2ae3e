"""The script-free export: Parquet shards and a README.md card that load with plain
load_dataset (prepared and streaming) on this datasets version, with the script's content."""

import os
import signal
import subprocess
import sys

import datasets
import pytest
from conftest import ROOT, SAMPLE, content, export_command
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

import imemnet_c
from imemnet_c_tools import sample
from imemnet_c_tools.export import export

MODES = pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The sample, exported with the default configs (paired without media)."""
    root = tmp_path_factory.mktemp("export")
    return export(SAMPLE, str(root / "out"), cache_dir=str(root / "cache"))


def script_content(config, tmp_path):
    return {split: content(ds) for split, ds in imemnet_c.load(config, SAMPLE, cache_dir=str(tmp_path / "c")).items()}


@MODES
@pytest.mark.parametrize(
    "config,script_config", [("image", "image"), ("music", "music"), ("paired", "paired_annotations")]
)
def test_the_export_loads_without_the_script_with_the_script_content(
    exported, tmp_path, config, script_config, streaming
):
    loaded = datasets.load_dataset(exported, config, streaming=streaming, cache_dir=str(tmp_path / "parquet-cache"))
    assert {split: content(ds) for split, ds in loaded.items()} == script_content(script_config, tmp_path)


def test_the_export_card_declares_configs_files_and_features(exported):
    card = DatasetCard.load(os.path.join(exported, "README.md"))
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    assert set(configs) == {"image", "music", "paired"} and configs.get_default_config_name() == "image"
    assert configs["paired"]["data_files"] == [
        {"split": split, "path": f"paired/{split}-*.parquet"} for split in ("train", "validation", "test")
    ]
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    builder_configs = {config.name: config for config in imemnet_c.ImemnetC.BUILDER_CONFIGS}
    assert infos["image"].features == builder_configs["image"].features
    assert infos["paired"].features == builder_configs["paired_annotations"].features
    assert {name: split.num_examples for name, split in infos["paired"].splits.items()} == {
        "train": 16,
        "validation": 8,
        "test": 10,
    }
    assert all(split.num_bytes > 0 for info in infos.values() for split in info.splits.values())
    assert "## This export" in card.text and "private or gated" in card.text
    assert sorted(os.listdir(exported)) == ["README.md", "docs", "image", "music", "paired"]
    assert "](docs/va_space.png)" in card.text and os.path.isfile(os.path.join(exported, "docs", "va_space.png"))


@MODES
def test_paired_media_are_embedded_on_request(tmp_path, streaming):
    out = export(
        SAMPLE, str(tmp_path / "out"), configs=["paired"], embed_paired_media=True, cache_dir=str(tmp_path / "c")
    )
    loaded = datasets.load_dataset(out, "paired", streaming=streaming, cache_dir=str(tmp_path / "parquet-cache"))
    assert {split: content(ds) for split, ds in loaded.items()} == script_content("paired", tmp_path)


def test_annotation_configs_export_from_the_annotation_files_alone(tmp_path, annotated):
    configs = ["image_annotations", "music_annotations", "paired_annotations"]
    out = export(str(annotated), str(tmp_path / "public"), configs=configs, cache_dir=str(tmp_path / "c"))
    for config in configs:
        loaded = datasets.load_dataset(out, config, cache_dir=str(tmp_path / "parquet-cache"))
        assert {split: content(ds) for split, ds in loaded.items()} == script_content(config, tmp_path)
    card = DatasetCard.load(os.path.join(out, "README.md"))
    assert MetadataConfigs.from_dataset_card_data(card.data).get_default_config_name() == "image_annotations"


def test_large_configs_are_split_into_shards_that_all_load(tmp_path):
    data_dir = tmp_path / "downloads"
    ids = [f"COCO_train2014_{i:012d}" for i in range(250)]
    sample.write_annotations(str(data_dir), images=[(i, 0.5, 0.5) for i in ids])
    sample.write_zip(str(data_dir / "emotic.zip"), {f"{i}.jpg": sample.jpeg_bytes(i) for i in ids})
    out = export(
        str(data_dir), str(tmp_path / "out"), configs=["image"], max_shard_size="20KB", cache_dir=str(tmp_path / "c")
    )
    shards = sorted(os.listdir(os.path.join(out, "image")))
    assert len(shards) > 1 and shards[0] == f"train-00000-of-{len(shards):05d}.parquet"
    loaded = datasets.load_dataset(out, "image", split="train", cache_dir=str(tmp_path / "parquet-cache"))
    assert sorted(loaded["image_id"]) == ids


def test_a_non_empty_out_is_refused_unless_overwrite(tmp_path, annotated):
    out = tmp_path / "out"
    os.makedirs(out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export(str(annotated), str(out), configs=["image_annotations"], cache_dir=str(tmp_path / "c"))
    assert os.listdir(out) == ["notes.txt"]
    export(str(annotated), str(out), configs=["image_annotations"], overwrite=True, cache_dir=str(tmp_path / "c"))
    assert sorted(os.listdir(out)) == ["README.md", "docs", "image_annotations"]
    cli = subprocess.run(
        export_command(sys.executable, annotated, out, "--config", "image_annotations"),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert cli.returncode == 2 and "is not empty" in cli.stderr


def test_an_interrupted_export_leaves_nothing_that_loads_and_a_rerun_completes(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "c"
    command = export_command(sys.executable, SAMPLE, out, "--cache-dir", cache)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if line.startswith("Exporting music"):  # image is written, music on its way
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()
    staging = tmp_path / ".out.exporting"
    assert os.listdir(staging / ".partial" / "image")  # image was written...
    for config in (None, "image"):  # ... but is no dataset to any loader
        with pytest.raises((FileNotFoundError, ValueError)):
            datasets.load_dataset(str(staging), config, cache_dir=str(tmp_path / "parquet-cache"))
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not staging.exists()
    assert (
        datasets.load_dataset(str(out), "music", split="train", cache_dir=str(tmp_path / "parquet-cache")).num_rows == 8
    )


def test_an_export_with_bad_input_fails_naming_it_and_leaves_no_folder(tmp_path, downloads):
    (downloads / "music_va.csv").write_text(",clip,valence,arousal,caption\n0,3001-9,loud,0.5,x\n")
    with pytest.raises(ValueError, match="music_va.csv, line 2: valence is 'loud'"):
        export(str(downloads), str(tmp_path / "out"), cache_dir=str(tmp_path / "c"))
    assert not (tmp_path / "out").exists()
