"""Downloads arrive as zip, tar, tar.gz or extracted folders, nested at any depth, with any-case
extensions and macOS junk: every layout gives the same, complete dataset in both modes."""

import os

import pytest
from conftest import SAMPLE, SAMPLE_COUNTS, content, sample_media, write_media

LAYOUTS = ["folder", "zip", "tar", "tar.gz"]


@pytest.fixture(scope="module")
def reference_content(tmp_path_factory):
    """The content every layout must give: the bundled sample's, prepared."""
    import imemnet_c

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
def test_an_archive_next_to_its_own_extraction_is_not_an_error(load, annotated, reference_content, streaming):
    images, clips = sample_media()
    for layout in ("zip", "folder"):
        write_media(annotated, "images", layout, images)
        write_media(annotated, "clips", layout if layout == "folder" else "tar", clips)
    for config, splits in reference_content.items():
        loaded = load(config, annotated, streaming=streaming)
        assert {split: content(loaded[split]) for split in splits} == splits, config


def test_the_sample_itself_mixes_the_real_layouts():
    names = set(os.listdir(SAMPLE))
    assert {"emotic.zip", "IAPS 1-20 Images", "NAPS_BE.tar.gz", "IMEMNet_clips.tar"} <= names
    assert {"image_va.csv", "music_va.csv", "train_matching.txt", "val_matching.txt", "test_matching.txt"} <= names
    assert all(name.endswith(".JPG") for name in os.listdir(os.path.join(SAMPLE, "IAPS 1-20 Images")))
