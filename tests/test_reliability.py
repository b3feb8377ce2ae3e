"""Bad input and faults: unreadable media, broken or hostile archives, interrupted and concurrent
runs, a full disk. Each gets a clear error naming the file at fault (or a counted skip), never a
half-written result, and nothing is written outside the datasets cache."""

import errno
import hashlib
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import wave
import zipfile

import datasets
import numpy
import pytest
import soundfile
from conftest import (
    SAMPLE,
    TIMEOUT,
    chain,
    consume,
    content,
    kill_when,
    read_until,
    stepped_load,
    write_encrypted_zip,
    write_media,
)
from PIL import Image
from stepped_load import digest_of

import imemnet_c
from imemnet_c_tools import cli, sample
from imemnet_c_tools.digest import decoded

MODES = pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])

JPEG = sample.jpeg_bytes("x", size=(64, 48), grain=40)  # its scan longer than its headers
PNG, GIF = (sample.picture_bytes("x", picture_format) for picture_format in ("PNG", "GIF"))
WAV = sample.wav_bytes("x", seconds=0.5)
with io.BytesIO() as out:
    soundfile.write(out, numpy.zeros((8000, 2), "float32"), 16000, format="WAV", subtype="FLOAT")
    FLOAT_WAV = out.getvalue()
BAD_MEDIA = {
    "zero-byte JPEG": ("1001.JPG", b"", "is empty (0 bytes)"),
    "JPEG cut in its headers": ("1001.JPG", JPEG[:300], "is a truncated or damaged image file: Pillow cannot open it"),
    "truncated JPEG": ("1001.JPG", JPEG[: len(JPEG) // 2], "is a truncated or damaged JPEG: Pillow cannot decode it"),
    "truncated PNG": ("1001.JPG", PNG[:-20], "is a truncated or damaged PNG: Pillow cannot decode it whole"),
    "GIF cut in its header": ("1001.JPG", GIF[:12], "is not a readable image file (UnidentifiedImageError"),
    "JPEG without its end": ("1001.JPG", JPEG[:-2], "is a truncated or damaged JPEG: Pillow cannot decode it whole"),
    "text named .jpg": ("1001.JPG", b"IAPS terms of use: research only\n", "is not a readable image file"),
    "zero-byte WAV": ("3001-9.wav", b"", "is empty (0 bytes)"),
    "truncated WAV": ("3001-9.wav", WAV[: 44 + 2 * 3000], "is truncated: 3000 of 8000 audio frames"),
    "header-only WAV": ("3001-9.wav", WAV[:44], "is truncated: 0 of 8000 audio frames"),
    "float WAV cut short": ("3001-9.wav", FLOAT_WAV[:-8000], "is truncated: 7000 of 8000 audio frames"),
}


def replace_member(archive, member, data):
    """Rewrites a tar (or tar.gz) of the sample with one member's bytes replaced."""
    with tarfile.open(archive) as old:
        members = {info.name: old.extractfile(info).read() for info in old if info.isreg()}
    members[member] = data
    sample.write_tar(str(archive), members, compress=str(archive).endswith(".gz"))


def break_file(downloads, name, data, inside_archive):
    """Puts bad bytes where the sample keeps `name`: a loose file, or a member of an archive."""
    if name.endswith(".wav"):
        if inside_archive:
            replace_member(downloads / "IMEMNet_clips.tar", f"clips/{name}", data)
        else:  # the clips as a folder
            with tarfile.open(downloads / "IMEMNet_clips.tar") as clips:
                clips.extractall(downloads / "IMEMNet_clips", filter="data")
            os.remove(downloads / "IMEMNet_clips.tar")
            (downloads / "IMEMNet_clips" / "clips" / name).write_bytes(data)
    elif inside_archive:  # the IAPS pictures as a tar.gz
        folder = downloads / "IAPS 1-20 Images"
        pictures = {f"IAPS/{path.name}": path.read_bytes() for path in folder.iterdir()}
        pictures[f"IAPS/{name}"] = data
        shutil.rmtree(folder)
        sample.write_tar(str(downloads / "IAPS.tar.gz"), pictures, compress=True)
    else:
        (downloads / "IAPS 1-20 Images" / name).write_bytes(data)


@MODES
@pytest.mark.parametrize("inside_archive", [False, True], ids=["loose", "in-archive"])
@pytest.mark.parametrize("case", BAD_MEDIA)
def test_unreadable_media_are_an_error_naming_id_and_file_or_a_counted_skip(
    load, tmp_path, downloads, case, inside_archive, streaming, caplog
):
    name, data, problem = BAD_MEDIA[case]
    break_file(downloads, name, data, inside_archive)
    config = "music" if name.endswith(".wav") else "image"
    media_id = name.rsplit(".", 1)[0]
    with pytest.raises(Exception) as error:
        consume(load(config, downloads, streaming=streaming))
    message = chain(error.value)
    assert f"({'the audio' if config == 'music' else 'the image'} of {media_id}) {problem}" in message
    assert name in message and "download it again" in message and 'missing_media="skip"' in message
    assert not list((tmp_path / "cache").rglob("dataset_info.json"))  # prepared: no dataset kept
    with caplog.at_level(logging.WARNING):
        kept = consume(load(config, downloads, streaming=streaming, missing_media="skip"))["train"]
    assert len(kept) == {"image": 16, "music": 8}[config] - 1
    assert media_id not in {e.get("image_id", e.get("clip_id")) for e in kept}
    assert "left out 1 examples whose media files are unreadable" in caplog.text


@MODES
def test_unreadable_media_in_pairs_are_named_too(load, downloads, streaming):
    break_file(downloads, "3001-10.wav", b"", inside_archive=True)
    with pytest.raises(Exception) as error:
        consume(load("paired", downloads, streaming=streaming))
    assert "3001-10.wav (the audio of 3001-10) is empty (0 bytes)." in chain(error.value)


@MODES
@pytest.mark.parametrize("inside_archive", [False, True], ids=["loose", "in-archive"])
def test_a_picture_followed_by_metadata_loads_whole(load, downloads, inside_archive, streaming):
    picture = (downloads / "IAPS 1-20 Images" / "1001.JPG").read_bytes()
    break_file(downloads, "1001.JPG", picture + bytes(range(256)) * 32, inside_archive)  # 8 KiB an editor appended
    image = {e["image_id"]: e["image"] for e in consume(load("image", downloads, streaming=streaming))["train"]}["1001"]
    assert numpy.array_equal(numpy.asarray(image), numpy.asarray(Image.open(io.BytesIO(picture))))


@MODES
def test_a_file_in_another_format_than_its_extension_loads_by_its_content(load, downloads, streaming):
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (20, 10), "teal").save(png, format="PNG")
    (downloads / "IAPS 1-20 Images" / "1001.JPG").write_bytes(png.getvalue())  # a PNG named .JPG
    image = {e["image_id"]: e["image"] for e in consume(load("image", downloads, streaming=streaming))["train"]}["1001"]
    assert image.format == "PNG" and image.size == (20, 10)


@MODES
def test_two_different_files_for_one_id_use_the_first_and_warn_naming_both(load, downloads, streaming, caplog):
    other = sample.jpeg_bytes("another picture", size=(30, 30))
    sample.write_zip(str(downloads / "zz-more.zip"), {"more/1001.jpg": other})
    with caplog.at_level(logging.WARNING):
        images = {e["image_id"]: e["image"] for e in consume(load("image", downloads, streaming=streaming))["train"]}
    assert images["1001"].size == (48, 32)  # the IAPS folder's, found first
    assert "Two different image files for 1001:" in caplog.text
    assert "1001.JPG" in caplog.text and "more/1001.jpg" in caplog.text


@MODES
def test_of_two_different_files_in_a_zip_and_a_tar_the_zips_is_used_as_zips_are_listed_first(
    load, downloads, streaming, caplog
):
    naps_id = sample.NAPS_IDS[0]  # in NAPS_BE.tar.gz, whose name sorts before the zip's
    sample.write_zip(str(downloads / "zz-more.zip"), {f"more/{naps_id}.jpg": sample.jpeg_bytes("other", size=(30, 30))})
    with caplog.at_level(logging.WARNING):
        images = {e["image_id"]: e["image"] for e in consume(load("image", downloads, streaming=streaming))["train"]}
    assert images[naps_id].size == (30, 30)
    assert f"Two different image files for {naps_id}:" in caplog.text and f"NAPS_BE/{naps_id}.jpg" in caplog.text


@MODES
@pytest.mark.parametrize("archive", ["emotic.zip", "NAPS_BE.tar.gz"])
def test_a_truncated_archive_is_named_with_what_to_do(load, downloads, archive, streaming):
    path = downloads / archive
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError) as error:
        consume(load("image", downloads, streaming=streaming))
    assert f"{path} cannot be read as an archive" in str(error.value) and "download it again" in str(error.value)


def encrypt(zip_path):
    """The zip again, password-protected, as licensed downloads often arrive."""
    with zipfile.ZipFile(zip_path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    os.remove(zip_path)
    write_encrypted_zip(str(zip_path), members)


@MODES
def test_an_encrypted_zip_is_named_with_what_to_do_or_with_skip_its_files_are_left_out_counted(
    load, downloads, streaming, caplog
):
    encrypt(downloads / "emotic.zip")
    with pytest.raises(ValueError) as error:
        consume(load("image", downloads, streaming=streaming))
    message = str(error.value)
    assert (
        f"{downloads / 'emotic.zip'} is encrypted (password-protected): 6 media files named in image_va.csv" in message
    )
    assert "Extract it into data_dir with its password" in message and "download it again" not in message
    with caplog.at_level(logging.WARNING):
        kept = consume(load("image", downloads, streaming=streaming, missing_media="skip"))["train"]
    assert len(kept) == 10 and {e["source"] for e in kept} == {"iaps", "naps"}  # the 6 EMOTIC rows left out
    assert (
        f"left out 6 examples of image_va.csv whose media are missing; 6 of their files are in "
        f"{downloads / 'emotic.zip'}, encrypted." in caplog.text
    )


@MODES
def test_with_skip_an_unreadable_archive_is_left_out_named_and_its_examples_counted(load, downloads, streaming, caplog):
    archive = downloads / "emotic.zip"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ValueError, match="emotic.zip cannot be read as an archive"):
        consume(load("image", downloads, streaming=streaming))
    with caplog.at_level(logging.WARNING):
        images = consume(load("image", downloads, streaming=streaming, missing_media="skip"))["train"]
    sources = [imemnet_c.image_source(image["image_id"]) for image in images]
    assert len(images) == 10 and "emotic" not in sources and {"iaps", "naps"} <= set(sources)
    assert f"left out 1 unreadable archives: {archive} cannot be read as an archive" in caplog.text
    assert "left out 6 examples of image_va.csv whose media are missing" in caplog.text


@MODES
def test_a_file_named_zip_that_is_no_archive_is_named(load, downloads, streaming):
    (downloads / "photos.zip").write_text("<html>Sign in to download</html>")
    with pytest.raises(ValueError, match="photos.zip cannot be read as an archive .*neither a zip nor a tar"):
        consume(load("image", downloads, streaming=streaming))


@MODES
@pytest.mark.parametrize("checked_first", [False, True], ids=["loaded", "after-check"])
def test_a_name_held_twice_in_a_tar_is_its_last_copy(load, downloads, tmp_path, checked_first, streaming):
    clips = downloads / "IMEMNet_clips.tar"
    replace_member(clips, "clips/3001-9.wav", WAV[:44])  # a broken first copy
    update = sample.wav_bytes("the update", seconds=0.5)
    with tarfile.open(clips, "a") as archive:  # what `tar -r` does
        info = tarfile.TarInfo("clips/3001-9.wav")
        info.size = len(update)
        archive.addfile(info, io.BytesIO(update))
    if checked_first:  # its listing, kept, is what the load then reads
        assert cli.main(["check", str(downloads), "--config", "music", "--cache-dir", str(tmp_path / "cache")]) == 0
    clips = {e["clip_id"]: e["audio"] for e in consume(load("music", downloads, streaming=streaming))["train"]}
    with wave.open(io.BytesIO(update)) as source:
        samples = source.readframes(source.getnframes())
    assert decoded(clips["3001-9"]) == ("audio", 16000, hashlib.sha256(samples).hexdigest())


@MODES
def test_a_tar_whose_last_member_is_a_small_zip_is_read_as_a_tar(load, downloads, streaming, caplog):
    folder = downloads / "IAPS 1-20 Images"
    pictures = {f"IAPS/{path.name}": path.read_bytes() for path in folder.iterdir()}
    readme = downloads / "readme.zip"
    sample.write_zip(str(readme), {"README.txt": b"IAPS terms of use"})
    sample.write_tar(str(downloads / "IAPS.tar"), {**pictures, "IAPS/readme.zip": readme.read_bytes()})
    shutil.rmtree(folder)
    readme.unlink()
    with caplog.at_level(logging.WARNING):
        rows = consume(load("image", downloads, streaming=streaming))["train"]
    images = {e["image_id"]: e["image"] for e in rows}
    assert len(rows) == 16 and images["1001"].tobytes() == Image.open(io.BytesIO(pictures["IAPS/1001.JPG"])).tobytes()
    assert "IAPS.tar: the archive 'IAPS/readme.zip' inside it is not opened" in caplog.text


@MODES
def test_an_archive_inside_an_archive_is_not_opened_and_said_so(load, downloads, streaming, caplog):
    inner = downloads / "inner.zip"
    sample.write_zip(str(inner), {"1001.jpg": JPEG})
    sample.write_zip(str(downloads / "outer.zip"), {"inner.zip": inner.read_bytes()})
    inner.unlink()
    with caplog.at_level(logging.WARNING):
        consume(load("image", downloads, streaming=streaming))  # 1001 is in the IAPS folder too
    assert "outer.zip: the archive 'inner.zip' inside it is not opened; extract it into data_dir" in caplog.text


@MODES
def test_an_archive_with_thousands_of_unrelated_members_loads(load, downloads, streaming):
    clutter = {f"docs/page_{i:05d}.txt": b"unrelated" for i in range(5000)}
    images = {f"emotic/{p.name}": p.read_bytes() for p in (downloads / "IAPS 1-20 Images").iterdir()}
    shutil.rmtree(downloads / "IAPS 1-20 Images")
    sample.write_zip(str(downloads / "iaps.zip"), {**clutter, **images})
    assert len(consume(load("image", downloads, streaming=streaming))["train"]) == 16


def snapshot(root, skip):
    return {
        os.path.join(folder, name): os.path.getsize(os.path.join(folder, name))
        for folder, dirs, files in os.walk(root)
        if not folder.startswith(skip)
        for name in files
    }


@MODES
def test_hostile_members_are_never_written_or_read_outside_the_cache(load, tmp_path, downloads, streaming, caplog):
    # Each hostile member is the only file of an id image_va.csv names: without the filter it would be used.
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(sample.jpeg_bytes("secret"))
    climbing, absolute = "../../../../1001.jpg", str(tmp_path / "absolute" / "5301.jpg")
    members = {climbing: JPEG, absolute: JPEG, "ok/2040.jpg": sample.jpeg_bytes("2040")}
    with tarfile.open(downloads / "hostile.tar", "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, __import__("io").BytesIO(data))
        for name, target in (("links/1002.jpg", str(secret)), ("links/7500.jpg", "../../secret.jpg")):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            archive.addfile(link)
    for image_id in ("1001", "5301", "1002", "7500", "2040"):
        os.remove(downloads / "IAPS 1-20 Images" / f"{image_id}.JPG")  # only hostile.tar could provide them
    cache = str(tmp_path / "cache")
    extraction = imemnet_c.Archive(str(downloads / "hostile.tar"), cache).extracted(climbing)
    landing = os.path.normpath(extraction)  # where `..` would take it: beside the cache, in tmp_path
    assert landing == str(tmp_path / "1001.jpg")
    before = snapshot(str(tmp_path), skip=cache)
    with caplog.at_level(logging.WARNING), pytest.raises(Exception) as error:
        consume(load("image", downloads, streaming=streaming))
    assert "4 iaps image files, e.g. 1001, 1002, 5301, 7500" in chain(error.value)  # none was used
    assert snapshot(str(tmp_path), skip=cache) == before
    assert not os.path.exists(landing) and not os.path.exists(absolute)
    assert f"left out the member {climbing!r}, whose path points outside" in caplog.text
    assert f"left out the member {absolute!r}, whose path points outside" in caplog.text
    skipped = consume(load("image", downloads, streaming=streaming, missing_media="skip"))["train"]
    assert sorted(e["image_id"] for e in skipped if e["image_id"] in sample.IAPS_IDS) == ["2040", "2040"]
    assert len(skipped) == 12 and snapshot(str(tmp_path), skip=cache) == before


def test_an_interrupted_extraction_is_redone_not_reused(load, downloads, tmp_path):
    complete = content(load("image", downloads)["train"])
    extracted = [
        os.path.join(folder, name)
        for folder, _, files in os.walk(tmp_path / "cache" / "imemnet_c_archives")
        for name in files
        if name.endswith(".jpg")
    ]
    assert extracted
    half = len(extracted) // 2
    for path in extracted[:half]:  # as a killed extraction leaves it
        os.remove(path)
    for path in extracted[half:]:  # cut short, as a write that was not whole would leave it
        os.truncate(path, os.path.getsize(path) // 2)
    shutil.rmtree(tmp_path / "cache" / "imemnet_c")  # the prepared dataset, so that it is prepared again
    assert content(load("image", downloads)["train"]) == complete


def digests(stdout):
    """{split: digest of its content} from a stepped load's output."""
    return {
        split: digest
        for _, split, digest in (line.split() for line in stdout.splitlines() if line.startswith("split "))
    }


def single_process_digests(config, data_dir, cache):
    builder = imemnet_c.ImemnetC(config_name=config, data_dir=str(data_dir), cache_dir=str(cache))
    builder.download_and_prepare()
    return {split: digest_of(builder.as_dataset(split=split)) for split in builder.config.splits}


def float32(value):
    return float(numpy.float32(value))


def assert_is_the_samples_image_config(train):
    """`train` holds image_va.csv's rows in order, each with its picture's bytes as the sample has them."""
    images, _, _ = sample.sample_annotations()
    rows = list(train.cast_column("image", datasets.Image(decode=False)))
    assert [(row["image_id"], row["valence"], row["arousal"]) for row in rows] == [
        (image_id, float32(valence), float32(arousal)) for image_id, valence, arousal in images
    ]
    for row in rows:
        with open(row["image"]["path"], "rb") as picture:
            assert picture.read() == sample.jpeg_bytes(row["image_id"]), row["image_id"]


KILLED_WHILE = {  # the stepped load's options, and the config's (the rerun's too: the same prepared cache)
    "extracting": (["--halves"], {}),  # killed with a member half-written
    "writing Arrow": (  # more, smaller tables (one per shard at least): a kill can land between two of them
        ["--step", "datasets.arrow_writer.ArrowWriter.write_table", "--rows-per-shard", 2],
        {"rows_per_shard": 2},
    ),
}


@pytest.mark.parametrize("phase", KILLED_WHILE)
def test_a_prepare_killed_midway_then_rerun_gives_the_full_result(downloads, tmp_path, phase):
    cache = tmp_path / "cache"
    imemnet_c.make_plan("image", downloads, cache_dir=str(cache))  # as a check leaves it: listed, nothing extracted
    stepped, options = KILLED_WHILE[phase]
    command = stepped_load("image", downloads, cache, *stepped, "--pause-at", 3, "--delay", 60)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    kill_when(process, lambda line, count: count == 3)  # paused at its third step: two done, the third begun
    assert process.returncode == -signal.SIGKILL
    rerun = imemnet_c.ImemnetC(config_name="image", data_dir=str(downloads), cache_dir=str(cache), **options)
    rerun.download_and_prepare()
    assert_is_the_samples_image_config(rerun.as_dataset(split="train"))


@pytest.mark.parametrize("configs", [("image", "image"), ("image", "paired")], ids=["same config", "image and paired"])
def test_two_processes_preparing_at_once_both_get_what_one_process_gets(downloads, tmp_path, configs):
    # One config: both reach datasets' lock at once (datasets prepares once, the other reads it).
    # image and paired: both list and extract the same archives into one cache at once, meeting in
    # the pass over the first tar (the standard library's iteration over its members).
    step = "imemnet_c.ImemnetC.download_and_prepare" if len(set(configs)) == 1 else "tarfile.TarFile.__iter__"
    cache, barrier = tmp_path / "cache", tmp_path / "barrier"
    os.makedirs(barrier)
    processes = [
        subprocess.Popen(
            stepped_load(config, downloads, cache, "--step", step, "--barrier", barrier),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for config in configs
    ]
    results = [process.communicate(timeout=TIMEOUT) for process in processes]
    assert len(os.listdir(barrier)) == 2  # both were mid-step together
    for config, process, (stdout, stderr) in zip(configs, processes, results, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert digests(stdout) == single_process_digests(config, downloads, tmp_path / f"alone-{config}")


def test_a_prepare_while_another_is_mid_extraction_gets_what_one_process_gets(downloads, tmp_path):
    # image is stopped with a picture half-written; paired, which needs the same pictures, prepares
    # from start to end meanwhile; then image goes on. The archives are listed first, as by a check.
    cache, go = tmp_path / "cache", tmp_path / "go"
    os.makedirs(go)
    imemnet_c.make_plan("paired", downloads, cache_dir=str(cache))
    image = subprocess.Popen(
        stepped_load("image", downloads, cache, "--halves", "--barrier", go), stdout=subprocess.PIPE, text=True
    )
    try:
        read_until(image, lambda line, _: line == "step\n")
        paired = subprocess.run(
            stepped_load("paired", downloads, cache), capture_output=True, text=True, timeout=TIMEOUT
        )
        (go / "paired done").touch()
        image_output = image.communicate(timeout=TIMEOUT)[0]
    finally:
        image.kill()
    assert paired.returncode == 0, paired.stderr[-3000:]
    assert digests(paired.stdout) == single_process_digests("paired", downloads, tmp_path / "alone-paired")
    assert image.returncode == 0
    assert digests(image_output) == single_process_digests("image", downloads, tmp_path / "alone-image")


FULL_DISK = textwrap.dedent(
    """
    set -u
    mount -t tmpfs -o size="$SIZE" tmpfs "$CACHE" || exit 97
    "$PYTHON" $LOAD > "$OUT/first.log" 2>&1; echo $? > "$OUT/first.rc"
    mount -o remount,size=64m "$CACHE" || exit 97
    "$PYTHON" $LOAD > "$OUT/second.log" 2>&1; echo $? > "$OUT/second.rc"
    """
)
FULL_WHILE = {  # the pictures' layout, and a cache_dir small enough to fill up at that point
    "extracting": ("zip", "600k"),  # the pictures fill it
    "writing Arrow": ("folder", "16k"),  # nothing extracted: the Arrow files (their paths) fill it
}


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux) to mount a small filesystem")
@pytest.mark.parametrize("phase", FULL_WHILE)
def test_a_full_disk_is_a_clear_error_and_leaves_no_corrupt_cache(tmp_path, phase):
    layout, size = FULL_WHILE[phase]
    data_dir, cache = tmp_path / "downloads", tmp_path / "cache"
    ids = [f"COCO_train2014_{i:012d}" for i in range(300)]
    sample.write_annotations(str(data_dir), images=[(i, 0.5, 0.5) for i in ids])
    pictures = {f"{i}.jpg": sample.jpeg_bytes(i, size=(96, 96), quality=95) for i in ids}
    write_media(str(data_dir), "emotic", layout, pictures)
    os.makedirs(cache)
    environment = {
        **os.environ,
        "CACHE": str(cache),
        "SIZE": size,
        "PYTHON": sys.executable,
        "LOAD": " ".join(stepped_load("image", data_dir, cache)[1:]),
        "OUT": str(tmp_path),
    }
    namespace = subprocess.run(
        ["unshare", "-rm", "sh", "-c", FULL_DISK], env=environment, capture_output=True, text=True, timeout=TIMEOUT
    )
    if namespace.returncode != 0:  # no user namespaces, or no mounting in them (a restricted container)
        pytest.skip(f"cannot mount a small filesystem here: {namespace.stderr.strip() or namespace.returncode}")
    first = (tmp_path / "first.log").read_text()
    assert (tmp_path / "first.rc").read_text().strip() != "0"
    assert "No space left on device" in first
    if phase == "extracting":  # the disk's fault, with the cache_dir= advice, not the archive's
        assert "emotic.zip" in first and "Free some space" in first and "cache_dir=" in first
        assert "download it again" not in first
    else:
        assert "DatasetGenerationError" in first  # datasets' wrapper of an error while writing a split
    assert (tmp_path / "second.rc").read_text().strip() == "0", (tmp_path / "second.log").read_text()[-3000:]
    assert digests((tmp_path / "second.log").read_text()) == single_process_digests("image", data_dir, tmp_path / "c")


CACHE_REFUSALS = {  # errno: what the error says
    errno.EROFS: "Read-only file system: cannot write",
    errno.EACCES: "Permission denied: cannot write",
    errno.ENAMETOOLONG: "File name too long: cannot write",
    errno.EDQUOT: "Disk quota exceeded while listing or extracting",
}


@MODES
@pytest.mark.parametrize("refusal", CACHE_REFUSALS, ids=errno.errorcode.get)
def test_a_cache_that_refuses_writes_is_named_with_the_real_cause_not_the_archive(
    load, downloads, tmp_path, monkeypatch, streaming, refusal
):
    opened = io.open

    def refusing_open(path, *args, **kwargs):  # what a read-only, full or locked cache does (tests may run as root)
        if str(path).endswith(".partial") and (streaming or "index.json" not in str(path)):
            raise OSError(refusal, os.strerror(refusal), str(path))
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(io, "open", refusing_open)
    with pytest.raises(OSError) as error:
        consume(load("image", downloads, streaming=streaming))
    message = chain(error.value)
    archive = downloads / "emotic.zip"  # the first write of each mode: zips are listed first
    assert CACHE_REFUSALS[refusal] in message and str(archive) in message and str(tmp_path / "cache") in message
    assert "cannot be read as an archive" not in message and "download it again" not in message
    assert "cache_dir=" in message
    if refusal != errno.EDQUOT:
        assert f"cannot write {'the listing' if streaming else 'the member'}" in message


def test_a_full_disk_while_the_arrow_files_are_written_is_an_error_and_the_next_run_completes(
    load, downloads, tmp_path, monkeypatch
):
    # A fault injected in datasets' writer, which runs where no file system can be mounted (the test
    # above fills a small tmpfs): the second table, validation's, finds the disk full after train's.
    write_table, tables = datasets.arrow_writer.ArrowWriter.write_table, []

    def write_to_a_full_disk(writer, *args, **kwargs):
        tables.append(writer)
        if len(tables) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_table(writer, *args, **kwargs)

    monkeypatch.setattr(datasets.arrow_writer.ArrowWriter, "write_table", write_to_a_full_disk)
    with pytest.raises(Exception) as error:  # datasets wraps it in a DatasetGenerationError
        load("paired", downloads)
    assert "No space left on device" in chain(error.value) and len(tables) == 2
    monkeypatch.undo()
    expected = load("paired", SAMPLE)  # another data_dir: its own prepared cache
    assert {split: content(ds) for split, ds in load("paired", downloads).items()} == {
        split: content(ds) for split, ds in expected.items()
    }
