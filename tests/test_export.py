"""The script-free export: Parquet shards and a README.md card that load with plain
load_dataset (prepared and streaming) on this datasets version, with the script's content."""

import io
import os
import re
import signal
import subprocess
import sys

import datasets
import mlcroissant
import PIL.Image
import pytest
from conftest import ROOT, SAMPLE, TIMEOUT, content, decoded, export_command, kill_when, read_until
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

import imemnet_c
from imemnet_c_tools import cli, croissant, sample
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
    assert sorted(os.listdir(exported)) == ["README.md", "croissant.json", "docs", "image", "music", "paired"]
    assert "](docs/va_space.png)" in card.text and os.path.isfile(os.path.join(exported, "docs", "va_space.png"))


def test_the_export_describes_its_shards_in_croissant_and_mlcroissant_reads_what_load_dataset_reads(exported, tmp_path):
    dataset = mlcroissant.Dataset(jsonld=os.path.join(exported, croissant.CROISSANT))
    assert dataset.metadata.ctx.issues.errors == set()
    for config in ("image", "music", "paired"):
        loaded = datasets.load_dataset(exported, config, cache_dir=str(tmp_path / "parquet-cache"))
        for split, rows in loaded.items():
            features = rows.features
            rows = rows.cast(datasets.Features({name: undecoded(feature) for name, feature in features.items()}))
            record_set = croissant.record_set_id(config, split, imemnet_c.ImemnetC.builder_configs[config].splits)
            read = [
                {
                    key.rpartition("/")[2]: comparable(features[key.rpartition("/")[2]], value)
                    for key, value in r.items()
                }
                for r in dataset.records(record_set)
            ]
            assert read == [{name: comparable(features[name], value) for name, value in row.items()} for row in rows]


def undecoded(feature):
    return type(feature)(decode=False) if isinstance(feature, (datasets.Image, datasets.Audio)) else feature


def comparable(feature, value):
    """A value as mlcroissant (a picture, a clip's bytes, bytes of text, float32) or an undecoded
    load_dataset (media as {"bytes", "path"}) gives it, in a form both give alike."""
    if isinstance(feature, datasets.Image):
        return decoded(value if isinstance(value, PIL.Image.Image) else PIL.Image.open(io.BytesIO(value["bytes"])))
    if isinstance(feature, datasets.Audio):
        return value if isinstance(value, bytes) else value["bytes"]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return float(value) if feature.dtype == "float32" and value is not None else value


@MODES
def test_paired_media_are_embedded_on_request(tmp_path, streaming):
    out = tmp_path / "imemnet-c-parquet"
    out.mkdir()
    (out / "an earlier export").write_text("")  # --overwrite replaces it
    # as docs/export.md shows it (with this test's cache)
    command = ["export", "--data-dir", SAMPLE, "--out", str(out), "--embed-paired-media", "--overwrite"]
    assert cli.main([*command, "--cache-dir", str(tmp_path / "c")]) == 0
    assert not (out / "an earlier export").exists()
    loaded = datasets.load_dataset(str(out), "paired", streaming=streaming, cache_dir=str(tmp_path / "parquet-cache"))
    assert {split: content(ds) for split, ds in loaded.items()} == script_content("paired", tmp_path)


def test_annotation_configs_export_from_the_annotation_files_alone(tmp_path, annotated, network):
    configs = ["image_annotations", "music_annotations", "paired_annotations"]
    for name in imemnet_c.ANNOTATION_URLS:  # no data_dir: the published files, downloaded
        network[imemnet_c.ANNOTATION_URLS[name]] = annotated / name
    out = str(tmp_path / "imemnet-c-public")
    assert cli.main(["export", "--out", out, "--config", *configs, "--cache-dir", str(tmp_path / "c")]) == 0
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
    assert sorted(os.listdir(out)) == ["README.md", "croissant.json", "docs", "image_annotations"]
    cli = subprocess.run(
        export_command(sys.executable, annotated, out, "--config", "image_annotations"),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=TIMEOUT,
    )
    assert cli.returncode == 2 and "is not empty" in cli.stderr


def test_an_interrupted_export_leaves_nothing_that_loads_and_a_rerun_completes(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "c"
    command = export_command(sys.executable, SAMPLE, out, "--cache-dir", cache)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    kill_when(process, lambda line, _: line.startswith("Exporting music"))  # image is written, music on its way
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()
    (staging,) = [path for path in tmp_path.glob(".out.exporting-*") if path.is_dir()]
    assert os.listdir(staging / ".partial" / "image")  # image was written...
    for config in (None, "image"):  # ... but is no dataset to any loader
        with pytest.raises((FileNotFoundError, ValueError)):
            datasets.load_dataset(str(staging), config, cache_dir=str(tmp_path / "parquet-cache"))
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not list(tmp_path.glob(".out.*"))  # the killed export's staging folder and its owner file
    assert (
        datasets.load_dataset(str(out), "music", split="train", cache_dir=str(tmp_path / "parquet-cache")).num_rows == 8
    )


def test_an_export_with_bad_input_fails_naming_it_and_leaves_no_folder(tmp_path, downloads):
    (downloads / "music_va.csv").write_text(",clip,valence,arousal,caption\n0,3001-9,loud,0.5,x\n")
    with pytest.raises(ValueError, match="music_va.csv, line 2: valence is 'loud'"):
        export(str(downloads), str(tmp_path / "out"), cache_dir=str(tmp_path / "c"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("overwrite", [False, True], ids=["without-overwrite", "with-overwrite"])
def test_two_exports_to_one_out_at_once_leave_one_whole_export(tmp_path, overwrite):
    """The first export is paused while writing, the second runs to its end, then the first goes on:
    both succeed (with --overwrite) or one fails saying why, and OUT is one whole export."""
    out = tmp_path / "out"

    def start(n):
        command = export_command(sys.executable, SAMPLE, out, "--cache-dir", tmp_path / f"cache-{n}")
        environment = {**os.environ, "HF_HOME": str(tmp_path / f"home-{n}")}
        return subprocess.Popen(
            command + (["--overwrite"] if overwrite else []),
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first = start(1)
    processes = [first]
    try:
        # image is written in its staging folder
        read_until(first, lambda line, _: line.startswith("Exporting music"))
        first.send_signal(signal.SIGSTOP)
        processes.append(start(2))
        processes[1].wait(timeout=TIMEOUT)
        first.send_signal(signal.SIGCONT)
        errors = [process.communicate(timeout=TIMEOUT)[1] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    statuses = [process.returncode for process in processes]
    assert sorted(statuses) == ([0, 0] if overwrite else [0, 2]), errors
    for status, error in zip(statuses, errors, strict=True):
        assert "Traceback" not in error, error[-3000:]
        if status:
            assert re.search(r"error: .*(is not empty|was written by another export while this one ran)", error)
    assert sorted(os.listdir(out)) == ["README.md", "croissant.json", "docs", "image", "music", "paired"]
    for config, rows in (("image", 16), ("music", 8)):
        loaded = datasets.load_dataset(str(out), config, split="train", cache_dir=str(tmp_path / "parquet-cache"))
        assert loaded.num_rows == rows
    assert not list(tmp_path.glob(".out.*"))  # no staging folder, owner file or replaced folder left


def test_a_data_dir_and_out_given_with_a_tilde_are_in_the_home_folder(tmp_path, annotated, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    out = export("~/downloads", "~/out", configs=["image_annotations"], cache_dir=str(tmp_path / "c"))
    assert out == str(tmp_path / "out")
    loaded = datasets.load_dataset(out, "image_annotations", split="train", cache_dir=str(tmp_path / "parquet-cache"))
    assert loaded.num_rows == 16
