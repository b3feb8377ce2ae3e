"""What a prepared cache is keyed by, and what the archive cache keeps: a prepared dataset is made
again exactly when what a load reads changes (an annotation file's origin or content, a media file,
an archive, a split's file becoming available), and a compressed tar without seek points is
decompressed once."""

import bz2
import concurrent.futures
import lzma
import os
import re
import time

import pytest
from conftest import SAMPLE_COUNTS, consume, content

import imemnet_c
from imemnet_c import imemnet_c_archives
from imemnet_c_tools import sample

MODES = pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
TRAIN_MATCHING_URL = imemnet_c.ANNOTATION_URLS["train_matching.txt"]


def prepared_files(dataset_dict):
    """Each Arrow file of a prepared load with its modification time: a new prepare changes them."""
    return {f["filename"]: os.stat(f["filename"]).st_mtime_ns for ds in dataset_dict.values() for f in ds.cache_files}


@MODES
def test_a_split_left_out_offline_comes_back_once_its_file_can_be_downloaded(
    load, downloads, tmp_path, network, streaming
):
    published = tmp_path / "published_train_matching.txt"
    os.replace(downloads / "train_matching.txt", published)  # not in data_dir, and offline
    assert sorted(consume(load("paired", downloads, streaming=streaming))) == ["test", "validation"]

    network[TRAIN_MATCHING_URL] = published  # back online
    paired = load("paired", downloads, streaming=streaming)
    _, _, pairs = sample.sample_annotations()
    assert sorted(paired) == ["test", "train", "validation"]
    assert sorted((p["clip_id"], p["image_id"]) for p in paired["train"]) == sorted(
        (c, i) for c, i, _ in pairs["train"]
    )
    if not streaming:  # complete now: kept, not prepared again
        assert prepared_files(load("paired", downloads)) == prepared_files(paired)


@MODES
def test_an_annotation_file_changed_in_place_gives_the_new_values(load, downloads, streaming):
    path = downloads / "image_va.csv"
    first = consume(load("image_annotations", downloads, streaming=streaming))["train"]
    stat, rows = os.stat(path), path.read_bytes().split(b"\n")
    arousal = rows[1].rstrip(b"\r").rsplit(b",", 1)[1]
    changed = b"0." + b"1" * (len(arousal) - 2)  # the first row's arousal, in as many bytes
    rows[1] = rows[1].replace(arousal, changed)
    path.write_bytes(b"\n".join(rows))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same modification time
    assert os.path.getsize(path) == stat.st_size

    again = consume(load("image_annotations", downloads, streaming=streaming))["train"]
    assert again[0]["arousal"] == pytest.approx(float(changed)) != first[0]["arousal"]
    assert again[1:] == first[1:]


def test_a_new_pinned_commit_of_an_annotation_file_gets_a_prepared_cache_of_its_own(monkeypatch, tmp_path):
    def cache_folder():
        builder = imemnet_c.ImemnetC(config_name="paired_annotations", cache_dir=str(tmp_path))
        return builder.cache_dir

    before = cache_folder()
    pinned = imemnet_c.ANNOTATION_URLS["val_matching.txt"]
    newer = re.sub(r"/[0-9a-f]{40}/", f"/{'1' * 40}/", pinned)
    assert newer != pinned
    monkeypatch.setitem(imemnet_c.ANNOTATION_URLS, "val_matching.txt", newer)
    assert cache_folder() != before


def test_files_the_loader_never_reads_leave_the_prepared_cache_as_it_is(load, downloads):
    first = {config: prepared_files(load(config, downloads)) for config in ("image", "image_annotations")}
    never_read = {
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        ".git/objects/ab/cdef": b"a git object",
        ".git/HEAD": b"ref: refs/heads/main\n",
        ".git/lfs/objects/1001.JPG": b"a picture kept by git-lfs",
        ".staging/IAPS.zip": b"a browser's partial download",
        "staging/IAPS.zip.part": b"half a download",
        "__MACOSX/._1001.JPG": b"AppleDouble",
        "IAPS 1-20 Images/Thumbs.db": b"thumbnails",
        "notes.txt": b"licence granted on ...",
        "extra/3001-9.wav": sample.wav_bytes("x"),  # audio: what the image configs never read
    }
    for relative, data in never_read.items():
        os.makedirs((downloads / relative).parent, exist_ok=True)
        (downloads / relative).write_bytes(data)
    for config, files in first.items():
        assert prepared_files(load(config, downloads)) == files, config

    picture = downloads / "IAPS 1-20 Images" / "1001.JPG"  # a file the image config reads
    os.utime(picture, ns=(0, os.stat(picture).st_mtime_ns + 10**9))
    assert prepared_files(load("image", downloads)).keys().isdisjoint(first["image"])
    assert prepared_files(load("image_annotations", downloads)) == first["image_annotations"]


COMPRESSIONS = {"tar.bz2": ("bzip2", bz2.compress), "tar.xz": ("xz", lzma.compress)}


@MODES
@pytest.mark.parametrize("extension", COMPRESSIONS)
def test_a_tar_bz2_or_xz_is_decompressed_once_for_every_shard_and_pass(
    load, downloads, tmp_path, monkeypatch, extension, streaming
):
    compression, compress = COMPRESSIONS[extension]
    tar = downloads / "IMEMNet_clips.tar"
    expected = content(load("music", downloads)["train"])
    (downloads / f"IMEMNet_clips.{extension}").write_bytes(compress(tar.read_bytes()))
    tar_size = os.path.getsize(tar)
    os.remove(tar)
    decompressions, decompress = [], imemnet_c_archives.DECOMPRESSORS[compression]

    def counting_decompress(*args, **kwargs):
        decompressions.append(args)
        time.sleep(0.5)  # long enough for readers that start together to overlap
        return decompress(*args, **kwargs)

    monkeypatch.setitem(imemnet_c_archives.DECOMPRESSORS, compression, counting_decompress)
    cache = str(tmp_path / "cache")

    def builder(config):  # of this module, which the spy watches
        return imemnet_c.ImemnetC(config_name=config, data_dir=str(downloads), cache_dir=cache, rows_per_shard=2)

    if streaming:
        clips = builder("music").as_streaming_dataset(split="train")
        assert clips.n_shards == 4
        shards = [clips.shard(clips.n_shards, i) for i in range(clips.n_shards)]
        with concurrent.futures.ThreadPoolExecutor(len(shards)) as workers:  # an epoch's workers, all at once
            assert content([c for shard in workers.map(list, shards) for c in shard]) == expected
        assert content([c for shard in shards for c in shard]) == expected  # the next epoch
        assert len(decompressions) == 2  # the listing, and the one decompressed copy all the readers share
        kept = [os.path.join(d, f) for d, _, files in os.walk(cache) for f in files if f == "decompressed.tar"]
        assert [os.path.getsize(path) for path in kept] == [tar_size]  # in the archive's cache folder
    else:
        music, paired = builder("music"), builder("paired")  # paired reads the clips music extracted
        for prepared in (music, paired):
            prepared.download_and_prepare()
        assert content(music.as_dataset(split="train")) == expected
        assert paired.as_dataset(split="train").num_rows == SAMPLE_COUNTS["paired"]["train"]
        assert len(decompressions) == 1  # the listing, which also extracts what a prepare reads
