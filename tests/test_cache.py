"""Prepared caches: media are stored by reference to the downloads (or to their one extraction
in the datasets cache), so a cache grows with the number of examples, not with media size."""

import io
import os
import random

import pytest
from conftest import file_events, handles_open, listed
from PIL import Image

from imemnet_c_tools import sample

PAIRS = 400
CLIPS = [f"3001-{9 + i}" for i in range(8)]


def noise_jpeg(seed, side=256):
    """A picture JPEG cannot compress much: about 100 KB."""
    rng = random.Random(seed)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def cache_bytes(dataset):
    return sum(os.path.getsize(f["filename"]) for f in dataset.cache_files)


@pytest.fixture
def heavy_downloads(tmp_path):
    """Eight ~100 KB pictures and eight 2-second clips in archives, and PAIRS pairs over them."""
    rng = random.Random(0)
    images = [f"COCO_train2014_00000000000{i}" for i in range(8)]
    clips = CLIPS
    pairs = [(rng.choice(clips), rng.choice(images), 0.5) for _ in range(PAIRS)]
    data_dir = tmp_path / "downloads"
    sample.write_annotations(
        str(data_dir),
        images=[(i, 0.5, 0.5) for i in images],
        clips=[(c, 0.5, 0.5, "a caption") for c in clips],
        pairs={"train": pairs, "val": pairs[:10], "test": pairs[:10]},
    )
    sample.write_zip(str(data_dir / "emotic.zip"), {f"emotic/mscoco/images/{i}.jpg": noise_jpeg(i) for i in images})
    sample.write_tar(str(data_dir / "clips.tar"), {f"{c}.wav": sample.wav_bytes(c, seconds=2.0) for c in clips})
    media_bytes = sum(os.path.getsize(data_dir / name) for name in ("emotic.zip", "clips.tar"))
    return data_dir, media_bytes


def test_paired_cache_grows_with_pairs_not_with_media(load, heavy_downloads):
    data_dir, media_bytes = heavy_downloads
    train = load("paired", data_dir)["train"]
    assert train.num_rows == PAIRS
    assert cache_bytes(train) < PAIRS * 1024  # under 1 KB per pair
    assert cache_bytes(train) < media_bytes / 2  # not even one copy of the media
    assert train[0]["image"].size == (256, 256) and len(train[0]["audio"]["array"]) == 32000


@pytest.mark.parametrize("config", ["image", "music"])
def test_single_modality_caches_hold_no_media_copy(load, heavy_downloads, config):
    data_dir, media_bytes = heavy_downloads
    train = load(config, data_dir)["train"]
    assert train.num_rows == 8
    assert cache_bytes(train) < 8 * 1024 and cache_bytes(train) < media_bytes / 2


def cache_files(cache):
    return {os.path.join(d, f): os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(cache) for f in files}


def test_streaming_paired_over_a_tar_gz_lists_each_archive_once_and_makes_no_decompressed_copy(
    heavy_downloads, tmp_path, monkeypatch
):
    import imemnet_c

    data_dir, _ = heavy_downloads
    os.remove(data_dir / "clips.tar")  # the clips as a compressed tar: random access through its seek points
    clips = {f"{c}.wav": sample.wav_bytes(c, seconds=4.0) for c in CLIPS}
    sample.write_tar(str(data_dir / "clips.tar.gz"), clips, compress=True)
    monkeypatch.setattr(imemnet_c.Archive, "decompressed", None)  # any decompressed copy would fail
    cache, archives = tmp_path / "cache", {name: data_dir / name for name in ("clips.tar.gz", "emotic.zip")}

    def stream():
        builder = imemnet_c.ImemnetC(config_name="paired", data_dir=str(data_dir), cache_dir=str(cache))
        return list(builder.as_streaming_dataset(split="train").decode(False))

    def held_open():  # an archive is opened once per process, and stays open for its every pass
        return {name: handles_open(path) for name, path in archives.items()}

    with file_events() as first:
        pairs = stream()
    assert len(pairs) == PAIRS
    assert {p["clip_id"]: p["audio"]["bytes"] for p in pairs} == {c[:-4]: b for c, b in clips.items()}
    assert listed(first) == ["clips.tar.gz", "emotic.zip"]
    assert held_open() == {"clips.tar.gz": 1, "emotic.zip": 1}  # each opened once for the whole pass
    media_bytes = sum(map(len, clips.values()))
    assert sum(cache_files(cache).values()) < 0.02 * media_bytes + 64 * 1024  # the listings and seek points

    with file_events() as second:
        assert stream() == pairs  # a second load reads the kept listings: no pass over any archive
    assert listed(second) == []
    assert held_open() == {"clips.tar.gz": 1, "emotic.zip": 1}
