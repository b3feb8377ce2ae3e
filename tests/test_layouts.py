"""Downloads arrive as zip, tar, tar.gz or extracted folders, nested at any depth, with any-case
extensions and macOS junk: every layout gives the same, complete dataset in both modes."""

import hashlib
import io
import logging
import os
import wave

import pytest
from conftest import SAMPLE, SAMPLE_COUNTS, content, sample_media, write_media

import imemnet_c
from imemnet_c_tools import sample
from imemnet_c_tools.digest import decoded

LAYOUTS = ["folder", "zip", "tar", "tar.gz"]


@pytest.fixture(scope="module")
def reference_content(tmp_path_factory):
    """The content every layout must give: the bundled sample's, prepared."""
    cache = str(tmp_path_factory.mktemp("reference-cache"))
    return {
        config: {split: content(ds) for split, ds in imemnet_c.load(config, SAMPLE, cache_dir=cache).items()}
        for config in SAMPLE_COUNTS
    }


@pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
@pytest.mark.parametrize("image_layout,clip_layout", [(layout, layout) for layout in LAYOUTS] + [("tar.gz", "zip")])
def test_every_layout_gives_the_complete_dataset(
    load, annotated, reference_content, image_layout, clip_layout, streaming
):
    images, clips = sample_media(
        image_name=lambda i: f"photos/{i[:1]}/{i}.jpg", clip_name=lambda c: f"IMEMNet/clips/{c}.wav"
    )
    write_media(annotated / "deep" / "er", "images", image_layout, images)
    write_media(annotated, "music", clip_layout, clips)
    for config, splits in reference_content.items():
        loaded = load(config, annotated, streaming=streaming)
        assert {split: content(loaded[split]) for split in splits} == splits, config


@pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
def test_extensions_match_in_any_case_and_junk_is_ignored(load, annotated, reference_content, streaming):
    images, clips = sample_media(
        image_name=lambda i: f"{i}.{['JPG', 'jpeg', 'Jpg'][len(i) % 3]}", clip_name=lambda c: f"{c}.WAV"
    )
    junk = {
        "__MACOSX/._1001.jpg": b"AppleDouble",
        "__MACOSX/1002.jpg": b"not a picture",
        "._7500.JPG": b"AppleDouble",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "README.txt": b"IAPS terms of use",
        "1001.txt": b"a note named like an id",
        "thumbs/notes.pdf": b"%PDF-1.4",
    }
    write_media(annotated, "images", "zip", {**junk, **images})  # junk first: it must not win
    write_media(annotated, "clips", "folder", {**junk, **clips})
    for config, splits in reference_content.items():
        loaded = load(config, annotated, streaming=streaming)
        assert {split: content(loaded[split]) for split in splits} == splits, config


@pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
def test_an_archive_next_to_its_own_extraction_is_not_an_error(load, annotated, reference_content, streaming, caplog):
    images, clips = sample_media()
    for layout in ("zip", "folder"):
        write_media(annotated, "images", layout, images)
        write_media(annotated, "clips", layout if layout == "folder" else "tar", clips)
    with caplog.at_level(logging.WARNING):
        for config, splits in reference_content.items():
            loaded = load(config, annotated, streaming=streaming)
            assert {split: content(loaded[split]) for split in splits} == splits, config
    assert "Two different" not in caplog.text  # equal copies: no warning of two files for one id


def linked_download(data_dir, shared):
    """The media on shared storage, linked into data_dir; a link in there to a folder above it, and
    a link in data_dir to storage that is gone."""
    images, clips = sample_media(image_name=lambda i: f"photos/{i}.jpg")
    write_media(shared, "images", "folder", images)
    write_media(shared, "clips", "tar", clips)
    os.symlink(shared, data_dir / "on-shared-storage")
    os.symlink("../..", shared / "images" / "photos" / "up")
    os.symlink(shared.parent / "unmounted", data_dir / "scratch")


@pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
def test_a_linked_folder_is_followed_without_looping_and_a_link_to_nothing_is_left_out_with_a_warning(
    load, annotated, tmp_path, reference_content, streaming, caplog
):
    linked_download(annotated, tmp_path / "shared")
    with caplog.at_level(logging.WARNING):
        for config, splits in reference_content.items():
            loaded = load(config, annotated, streaming=streaming)
            assert {split: content(loaded[split]) for split in splits} == splits, config
    listings = list((tmp_path / "cache" / imemnet_c.ARCHIVE_CACHE).glob("*/index.json"))
    assert len(listings) == 1  # clips.tar, by one path: the link to a folder above was not walked round
    assert f"{annotated / 'scratch'} is a link to {tmp_path / 'unmounted'}, where nothing is: left out" in caplog.text


def test_a_changed_file_in_a_linked_folder_gives_the_new_content(load, annotated, tmp_path):
    linked_download(annotated, tmp_path / "shared")
    load("music", annotated)
    new = {f"{c}.wav": sample.wav_bytes(f"new {c}", seconds=0.5) for c in sample.CLIP_IDS}
    sample.write_tar(str(tmp_path / "shared" / "clips.tar"), new)
    audio = {e["clip_id"]: e["audio"] for e in load("music", annotated)["train"]}
    with wave.open(io.BytesIO(new["3001-9.wav"])) as source:
        samples = source.readframes(source.getnframes())
    assert decoded(audio["3001-9"]) == ("audio", 16000, hashlib.sha256(samples).hexdigest())


def test_the_sample_itself_mixes_the_real_layouts():
    names = set(os.listdir(SAMPLE))
    assert {"emotic.zip", "IAPS 1-20 Images", "NAPS_BE.tar.gz", "IMEMNet_clips.tar"} <= names
    assert {"image_va.csv", "music_va.csv", "train_matching.txt", "val_matching.txt", "test_matching.txt"} <= names
    assert all(name.endswith(".JPG") for name in os.listdir(os.path.join(SAMPLE, "IAPS 1-20 Images")))
