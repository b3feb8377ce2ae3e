"""The README's promises on the bundled synthetic sample: every config loads, prepared and
streaming, with the declared features and the same content."""

import filecmp
import io
import os
import re
import subprocess
import sys
import wave

import datasets
import numpy
import pytest
from conftest import DATASETS_RUNS_SCRIPTS, ROOT, SAMPLE, SAMPLE_COUNTS, SCRIPT, by_id, content

from imemnet_c_tools import sample

FLOAT = datasets.Value("float32")
MODES = pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
STRING = datasets.Value("string")


@pytest.mark.parametrize("config", ["image", "music", "paired"])
def test_every_config_loads_prepared_and_streaming_with_the_same_content(load, config):
    prepared = load(config, SAMPLE)
    streamed = load(config, SAMPLE, streaming=True)
    assert {split: ds.num_rows for split, ds in prepared.items()} == SAMPLE_COUNTS[config]
    assert set(streamed) == set(prepared)
    for split in prepared:
        assert content(streamed[split]) == content(prepared[split])


def test_features_are_declared_as_documented(load):
    image, music, paired = (load(config, SAMPLE)["train"].features for config in ("image", "music", "paired"))
    assert image == datasets.Features(
        {"image_id": STRING, "image": datasets.Image(), "valence": FLOAT, "arousal": FLOAT, "source": STRING}
    )
    assert music == datasets.Features(
        {
            "clip_id": STRING,
            "song_id": STRING,
            "audio": datasets.Audio(),
            "caption": STRING,
            "valence": FLOAT,
            "arousal": FLOAT,
        }
    )
    assert paired == datasets.Features(
        {
            "clip_id": STRING,
            "image_id": STRING,
            "audio": datasets.Audio(),
            "image": datasets.Image(),
            "caption": STRING,
            **{
                name: FLOAT
                for name in ("music_valence", "music_arousal", "image_valence", "image_arousal", "matching_score")
            },
        }
    )


def test_image_examples_follow_image_va_csv_row_by_row(load):
    images, _, _ = sample.sample_annotations()
    train = load("image", SAMPLE)["train"]
    assert [(e["image_id"], round(e["valence"], 6), round(e["arousal"], 6)) for e in train.remove_columns("image")] == [
        (i, round(v, 6), round(a, 6)) for i, v, a in images
    ]
    sources = dict(zip(train["image_id"], train["source"], strict=True))
    assert {sources[i] for i in sample.IAPS_IDS} == {"iaps"}
    assert {sources[i] for i in sample.NAPS_IDS} == {"naps"}
    assert {sources[i] for ids in sample.EMOTIC_IDS.values() for i in ids} == {"emotic"}
    decoded = train[0]["image"]
    assert decoded.size == (48, 32) and decoded.mode == "RGB"


@MODES
def test_a_repeated_image_id_gives_one_example_per_row_with_the_file_of_that_name(load, streaming):
    train = load("image", SAMPLE, streaming=streaming)["train"]
    rows = [e for e in train if e["image_id"] == sample.REPEATED_IAPS_ID]
    assert len(rows) == 2
    assert rows[0]["valence"] != rows[1]["valence"]
    assert rows[0]["image"].tobytes() == rows[1]["image"].tobytes()


@MODES
def test_music_examples_carry_song_id_caption_and_native_rate_audio(load, streaming):
    _, clips, _ = sample.sample_annotations()
    train = by_id(load("music", SAMPLE, streaming=streaming)["train"], "clip_id")
    assert set(train) == set(sample.CLIP_IDS)
    for clip_id, valence, arousal, caption in clips:
        example = train[clip_id]
        assert example["song_id"] == clip_id.split("-")[0]
        assert example["caption"] == caption  # commas, quotes, a line break and non-ASCII intact
        assert example["valence"] == pytest.approx(valence) and example["arousal"] == pytest.approx(arousal)
        assert example["audio"]["sampling_rate"] == 16000
        decoded = (numpy.asarray(example["audio"]["array"]) * 32768).round().astype("int16")
        assert decoded.tolist() == source_samples(sample.wav_bytes(clip_id)).tolist()  # the WAV's own samples


def source_samples(wav):
    """The 16-bit samples a mono WAV file holds."""
    with wave.open(io.BytesIO(wav)) as clip:
        return numpy.frombuffer(clip.readframes(clip.getnframes()), "<i2")


def test_paired_keeps_every_line_with_its_published_score_and_null_va_for_unannotated_ids(load):
    images, clips, pairs = sample.sample_annotations()
    paired = load("paired", SAMPLE)
    first_image_row = {}
    for image_id, valence, arousal in images:
        first_image_row.setdefault(image_id, (valence, arousal))
    clip_rows = {clip_id: (valence, arousal, caption) for clip_id, valence, arousal, caption in clips}
    for split, file_split in (("train", "train"), ("validation", "val"), ("test", "test")):
        examples = list(paired[split].remove_columns(["image", "audio"]))
        assert [(e["clip_id"], e["image_id"]) for e in examples] == [(c, i) for c, i, _ in pairs[file_split]]
        for example, (_, image_id, score) in zip(examples, pairs[file_split], strict=True):
            assert example["matching_score"] == pytest.approx(score)
            image_va = (example["image_valence"], example["image_arousal"])
            if image_id in first_image_row:  # a repeated id takes its first row
                assert image_va == pytest.approx(first_image_row[image_id])
            else:
                assert image_va == (None, None)
            assert example["caption"] == clip_rows[example["clip_id"]][2]
    unannotated = [e for e in paired["test"] if e["image_id"] == sample.NAPS_UNANNOTATED_ID]
    assert unannotated and unannotated[0]["image"].size == (48, 32)


def test_the_committed_sample_is_what_the_generator_writes_and_is_small(tmp_path):
    sample.write_sample(str(tmp_path))
    comparison = filecmp.dircmp(SAMPLE, str(tmp_path))
    assert not comparison.left_only and not comparison.right_only
    for folder, _, files in os.walk(SAMPLE):
        for name in files:
            path = os.path.join(folder, name)
            assert filecmp.cmp(path, os.path.join(tmp_path, os.path.relpath(path, SAMPLE)), shallow=False), path
    size = sum(os.path.getsize(os.path.join(folder, name)) for folder, _, files in os.walk(SAMPLE) for name in files)
    assert size < 2 * 1024 * 1024


@pytest.mark.skipif(not DATASETS_RUNS_SCRIPTS, reason="datasets-cli test refuses loading scripts from datasets 4 on")
def test_datasets_cli_test_passes_on_the_sample(tmp_path):
    cli = os.path.join(os.path.dirname(sys.executable), "datasets-cli")
    result = subprocess.run(
        [
            cli,
            "test",
            SCRIPT,
            "--all_configs",
            "--data_dir",
            SAMPLE,
            "--trust_remote_code",
            "--cache_dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Test successful." in result.stdout + result.stderr


def test_the_demo_loads_every_config_both_ways_and_prints_each_warning_once_and_va_rounded(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "imemnet_c_tools.demo"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "HF_HOME": str(tmp_path / "hf-home")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for config, splits in SAMPLE_COUNTS.items():
        for split, count in splits.items():
            assert f"{config}/{split}: {count} examples prepared, {count} streamed" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == len(set(warnings)), warnings
    assert "Repo card metadata block was not found" not in result.stderr
    values = re.findall(r"(?:valence|arousal|score): (\S+)", result.stdout)
    assert values and all(len(value.partition(".")[2]) <= 3 for value in values)


@pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
@pytest.mark.parametrize("config", ["image", "music", "paired"])
def test_annotation_configs_give_the_same_examples_without_media_and_need_none(load, annotated, config, streaming):
    with_media = load(config, SAMPLE)
    annotations = load(f"{config}_annotations", annotated, streaming=streaming)  # annotation files only
    for split, dataset in with_media.items():
        media_columns = [name for name in dataset.column_names if name in ("image", "audio")]
        assert content(annotations[split]) == content(dataset.remove_columns(media_columns))


def test_annotation_configs_download_the_annotations_when_no_data_dir_is_given(load):
    with pytest.raises(
        ConnectionError, match="Could not download image_va.csv from https://raw.githubusercontent.com/"
    ):
        load("image_annotations", None)  # offline in the tests: the download is refused
