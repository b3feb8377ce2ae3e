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

import pytest
from conftest import ROOT, chain, consume, content, write_encrypted_zip
from PIL import Image

import imemnet_c
from imemnet_c_tools import cli, sample
from imemnet_c_tools.digest import decoded

MODES = pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])

JPEG = sample.jpeg_bytes("x", size=(64, 48))
PNG, GIF = (sample.picture_bytes("x", picture_format) for picture_format in ("PNG", "GIF"))
WAV = sample.wav_bytes("x", seconds=0.5)
BAD_MEDIA = {
    "zero-byte JPEG": ("1001.JPG", b"", "is empty (0 bytes)"),
    "truncated JPEG": ("1001.JPG", JPEG[: len(JPEG) // 2], "is a truncated JPEG (its end marker is missing)"),
    "truncated PNG": ("1001.JPG", PNG[:-20], "is a truncated PNG (its end marker is missing)"),
    "GIF cut in its header": ("1001.JPG", GIF[:12], "is not a readable image file (UnidentifiedImageError)"),
    "JPEG without its end": ("1001.JPG", JPEG[:-2], "is a truncated JPEG (its end marker is missing)"),
    "text named .jpg": ("1001.JPG", b"IAPS terms of use: research only\n", "is not a readable image file"),
    "zero-byte WAV": ("3001-9.wav", b"", "is empty (0 bytes)"),
    "truncated WAV": ("3001-9.wav", WAV[: 44 + 2 * 3000], "is truncated: 3000 of 8000 audio frames"),
    "header-only WAV": ("3001-9.wav", WAV[:44], "is truncated: 0 of 8000 audio frames"),
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
    load, downloads, case, inside_archive, streaming, caplog
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
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(sample.jpeg_bytes("secret"))
    members = {f"../{'../' * 6}escaped.jpg": JPEG, "/tmp/imemnet-c-absolute.jpg": JPEG, "ok/Animals_901_h.jpg": JPEG}
    with tarfile.open(downloads / "hostile.tar", "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, __import__("io").BytesIO(data))
        for name, target in (("links/1002.jpg", str(secret)), ("links/7500.jpg", "../../secret.jpg")):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            archive.addfile(link)
    for name in ("IAPS 1-20 Images/1002.JPG", "IAPS 1-20 Images/7500.JPG"):
        os.remove(downloads / name)  # only the links could provide them
    cache = str(tmp_path / "cache")
    before = snapshot(str(tmp_path), skip=cache)
    with caplog.at_level(logging.WARNING), pytest.raises(Exception) as error:
        consume(load("image", downloads, streaming=streaming))
    assert "2 iaps image files, e.g. 1002, 7500" in chain(error.value)  # the links were not followed
    assert snapshot(str(tmp_path), skip=cache) == before
    assert not os.path.exists("/tmp/imemnet-c-absolute.jpg") and not os.path.exists(tmp_path / "escaped.jpg")
    assert "left out the member '/tmp/imemnet-c-absolute.jpg', whose path points outside" in caplog.text
    skipped = consume(load("image", downloads, streaming=streaming, missing_media="skip"))["train"]
    assert len(skipped) == 14 and snapshot(str(tmp_path), skip=cache) == before


def test_an_interrupted_extraction_is_redone_not_reused(load, downloads, tmp_path):
    complete = content(load("image", downloads)["train"])
    extracted = [
        os.path.join(folder, name)
        for folder, _, files in os.walk(tmp_path / "cache" / "imemnet_c_archives")
        for name in files
        if name.endswith(".jpg")
    ]
    assert extracted
    for path in extracted[: len(extracted) // 2]:  # as a killed extraction leaves it
        os.remove(path)
    shutil.rmtree(tmp_path / "cache" / "imemnet_c")  # the prepared dataset, so that it is prepared again
    assert content(load("image", downloads)["train"]) == complete


PREPARE = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    import imemnet_c
    check = imemnet_c.media_problem
    def slow_check(*args):  # so that the parent can kill it mid-way
        print("checked", flush=True)
        time.sleep({delay})
        return check(*args)
    imemnet_c.media_problem = slow_check
    builder = imemnet_c.ImemnetC(config_name="image", data_dir={data_dir!r}, cache_dir={cache!r})
    builder.download_and_prepare()  # the builder of this module, patched (load_dataset would run a copy)
    print("rows", builder.as_dataset(split="train").num_rows, flush=True)
    """
)


def prepare_command(data_dir, cache, delay=0.0):
    return [sys.executable, "-c", PREPARE.format(root=ROOT, data_dir=str(data_dir), cache=str(cache), delay=delay)]


def test_a_prepare_killed_midway_then_rerun_gives_the_full_result(downloads, tmp_path):
    cache = tmp_path / "cache"
    process = subprocess.Popen(prepare_command(downloads, cache, delay=0.05), stdout=subprocess.PIPE, text=True)
    for count, line in enumerate(process.stdout, 1):
        if line.startswith("checked") and count == 5:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL
    rerun = subprocess.run(prepare_command(downloads, cache), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "rows 16" in rerun.stdout


def test_two_processes_preparing_the_same_config_both_get_the_dataset(downloads, tmp_path):
    cache = tmp_path / "cache"
    processes = [
        subprocess.Popen(
            prepare_command(downloads, cache, delay=0.01), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert "rows 16" in stdout


FULL_DISK = textwrap.dedent(
    """
    set -u
    mount -t tmpfs -o size=600k tmpfs "$CACHE"
    "$PYTHON" -c "$PREPARE" > "$OUT/first.log" 2>&1; echo $? > "$OUT/first.rc"
    mount -o remount,size=64m "$CACHE"
    "$PYTHON" -c "$PREPARE" > "$OUT/second.log" 2>&1; echo $? > "$OUT/second.rc"
    """
)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux) to mount a small filesystem")
def test_a_full_disk_is_a_clear_error_and_leaves_no_corrupt_cache(tmp_path):
    data_dir, cache = tmp_path / "downloads", tmp_path / "cache"
    ids = [f"COCO_train2014_{i:012d}" for i in range(300)]
    sample.write_annotations(str(data_dir), images=[(i, 0.5, 0.5) for i in ids])
    sample.write_zip(
        str(data_dir / "emotic.zip"), {f"{i}.jpg": sample.jpeg_bytes(i, size=(96, 96), quality=95) for i in ids}
    )
    os.makedirs(cache)
    prepare = PREPARE.format(root=ROOT, data_dir=str(data_dir), cache=str(cache), delay=0).replace(
        'print("checked", flush=True)', "pass"
    )
    environment = {
        **os.environ,
        "CACHE": str(cache),
        "PYTHON": sys.executable,
        "PREPARE": prepare,
        "OUT": str(tmp_path),
    }
    namespace = subprocess.run(
        ["unshare", "-rm", "sh", "-c", FULL_DISK], env=environment, capture_output=True, text=True
    )
    if namespace.returncode != 0 and "mount" in namespace.stderr:
        pytest.skip(f"cannot mount a small filesystem here: {namespace.stderr.strip()}")
    first = (tmp_path / "first.log").read_text()
    assert (tmp_path / "first.rc").read_text().strip() != "0"
    assert "No space left on device" in first and "emotic.zip" in first and "cache_dir" in first
    assert (tmp_path / "second.rc").read_text().strip() == "0", (tmp_path / "second.log").read_text()[-3000:]
    assert "rows 300" in (tmp_path / "second.log").read_text()


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
    archive = downloads / ("IMEMNet_clips.tar" if streaming else "NAPS_BE.tar.gz")  # the first write of each mode
    assert CACHE_REFUSALS[refusal] in message and str(archive) in message and str(tmp_path / "cache") in message
    assert "cannot be read as an archive" not in message and "download it again" not in message
    assert "cache_dir=" in message
    if refusal != errno.EDQUOT:
        assert f"cannot write {'the listing' if streaming else 'the member'}" in message
