"""`imemnet-c check DATA_DIR`: what a researcher learns of a download before a long prepare, from
the loader's own code, as text or as JSON, with an exit status that means something."""

import glob
import gzip
import io
import json
import os
import re
import sys
import tarfile
import zipfile

import datasets
import numpy
import pytest
import soundfile
from conftest import SAMPLE, file_events, listed, write_encrypted_zip

import imemnet_c
from imemnet_c_tools import cli, sample

CONFIGS = ["image", "music", "paired"]
SOURCES = ["iaps", "naps", "emotic/mscoco", "emotic/framesdb", "emotic/ade20k", "emotic/emodb_small", "clips"]
COLUMNS = ["expected", "found", "missing", "unreadable", "two files"]


def check(capsys, data_dir, *options):
    """(exit status, what it printed) of `imemnet-c check DATA_DIR [options]`."""
    status = cli.main(["check", str(data_dir), *options])
    printed = capsys.readouterr()
    return status, printed.out + printed.err


def table(text):
    """The per-source table of the human-readable report: {source: {column: count}}."""
    rows = {}
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in SOURCES and len(fields) == 6:
            rows[fields[0]] = dict(zip(COLUMNS, (int(f.replace(",", "")) for f in fields[1:]), strict=True))
    return rows


def counts(report):
    """The same table from the JSON report."""
    return {
        name: {
            "expected": source["expected"],
            "found": source["found"],
            "missing": len(source["missing"]),
            "unreadable": len(source["unreadable"]),
            "two files": len(source["two_files"]),
        }
        for name, source in report["sources"].items()
    }


@pytest.fixture
def cache(tmp_path):
    return ["--cache-dir", str(tmp_path / "cache")]


def test_the_sample_is_complete_exit_0_with_the_load_call(capsys, cache):
    status, text = check(capsys, SAMPLE, *cache)
    assert status == 0
    assert "Complete. Load with:" in text
    expected = {"iaps": 5, "naps": 5, "emotic/mscoco": 2, "emotic/framesdb": 1, "emotic/ade20k": 2}
    expected.update({"emotic/emodb_small": 1, "clips": len(sample.CLIP_IDS)})
    assert {name: row["found"] for name, row in table(text).items()} == expected
    assert all(row["missing"] == row["unreadable"] == row["two files"] == 0 for row in table(text).values())
    assert "paired: train 16 examples, validation 8 examples, test 10 examples" in text
    call = "load_dataset(" if imemnet_c.DATASETS_RUNS_SCRIPTS else "imemnet_c.load("
    assert f"{call}" in text and f'"paired", data_dir="{SAMPLE}"' in text
    assert f"Audio: a load decodes it with {imemnet_c.audio_decoder().name}." in text


def test_the_json_report_says_where_things_are_and_what_a_prepare_writes(capsys, cache, load):
    report = json.loads(check(capsys, SAMPLE, "--json", *cache)[1])
    assert report["folders"] == {"IAPS 1-20 Images": 5}
    assert {name for name, entry in report["archives"].items() if entry["status"] == "used"} == {
        os.path.join(SAMPLE, name) for name in ("IMEMNet_clips.tar", "NAPS_BE.tar.gz", "emotic.zip")
    }
    assert report["annotation_files"] == {
        name: {"in_data_dir": True, "from": os.path.join(SAMPLE, name)}
        for name in ("image_va.csv", "music_va.csv", "train_matching.txt", "val_matching.txt", "test_matching.txt")
    }
    with (
        tarfile.open(os.path.join(SAMPLE, "IMEMNet_clips.tar")) as clips,
        tarfile.open(os.path.join(SAMPLE, "NAPS_BE.tar.gz")) as naps,
        zipfile.ZipFile(os.path.join(SAMPLE, "emotic.zip")) as emotic,
    ):
        media = [m.size for m in clips] + [m.size for m in naps]
        media += [m.file_size for m in emotic.infolist() if not m.filename.startswith("__MACOSX")]
    assert report["disk"]["extract_bytes"] == sum(media)  # every archived medium, none extracted yet
    assert report["disk"]["free_bytes"] > 0
    for config in CONFIGS:  # the load fixture prepares in the same cache
        load(config, SAMPLE)
    assert json.loads(check(capsys, SAMPLE, "--json", *cache)[1])["disk"]["extract_bytes"] == 0


def test_a_broken_download_is_reported_per_source_exit_1_and_json_carries_the_same_counts(capsys, downloads, cache):
    os.remove(downloads / "NAPS_BE.tar.gz")  # five NAPS pictures missing
    clips = {f"clips/{c}.wav": sample.wav_bytes(c) for c in sample.CLIP_IDS}
    clips["clips/3001-9.wav"] = clips["clips/3001-9.wav"][:100]  # a damaged clip in a tar
    sample.write_tar(str(downloads / "IMEMNet_clips.tar"), clips)
    damaged_picture = "emotic/mscoco/images/COCO_train2014_000000900001.jpg"
    pictures = {
        name: sample.jpeg_bytes(os.path.basename(name).removesuffix(".jpg"))
        for name in [damaged_picture, "emotic/ade20k/images/sun_akqzvmfjxwnbhdpr.jpg"]
    }
    pictures[damaged_picture] = pictures[damaged_picture][:200]  # a damaged picture in a zip
    sample.write_zip(str(downloads / "emotic.zip"), pictures)  # and four EMOTIC pictures gone
    os.makedirs(downloads / "extra")
    (downloads / "extra" / "1001.jpg").write_bytes(sample.jpeg_bytes("another"))  # a second file for 1001
    (downloads / "broken.zip").write_bytes(b"not a zip at all")
    sample.write_zip(str(downloads / "readme.zip"), {"README.txt": b"hello"})

    status, text = check(capsys, downloads, *cache)
    assert status == 1
    rows = table(text)
    assert rows["naps"] == {"expected": 5, "found": 0, "missing": 5, "unreadable": 0, "two files": 0}
    assert rows["clips"]["unreadable"] == 1 and rows["clips"]["missing"] == 0
    assert rows["emotic/mscoco"] == {"expected": 2, "found": 1, "missing": 1, "unreadable": 1, "two files": 0}
    assert rows["emotic/framesdb"]["missing"] == rows["emotic/emodb_small"]["missing"] == 1
    assert rows["iaps"]["two files"] == 1
    assert "missing naps: Animals_901_h, Faces_902_v, Landscapes_903_h, Objects_904_v, People_905_h" in text
    assert "unreadable: clips/3001-9.wav (the audio of 3001-9) is truncated" in text
    assert f"unreadable: {damaged_picture} (the image of COCO_train2014_000000900001) is a truncated or damaged" in text
    assert re.search(r"two files for 1001: IAPS 1-20 Images.1001.JPG \(used\) and .*extra.1001.jpg", text)
    assert re.search(r"unreadable +broken.zip: .*cannot be read as an archive", text)
    assert re.search(r"ignored +readme.zip: holds none of the media files these configs need", text)
    assert "INCOMPLETE" in text and 'missing_media="skip")' in text

    status, document = check(capsys, downloads, "--json", *cache)
    report = json.loads(document)
    assert status == 1 and report["complete"] is False
    assert counts(report) == rows
    assert report["sources"]["naps"]["missing"] == sorted(sample.NAPS_IDS + [sample.NAPS_UNANNOTATED_ID])
    assert report["archives"][str(downloads / "readme.zip")]["status"] == "ignored"


def test_linked_folders_and_links_to_nothing_are_reported_and_json_carries_them(capsys, downloads, tmp_path, cache):
    shared = tmp_path / "shared"
    os.makedirs(shared)
    os.rename(downloads / "IAPS 1-20 Images", shared / "IAPS 1-20 Images")
    os.symlink(shared, downloads / "on-shared-storage")
    os.symlink("..", shared / "IAPS 1-20 Images" / "up")
    os.symlink(tmp_path / "unmounted", downloads / "scratch")

    status, text = check(capsys, downloads, *cache)
    assert status == 0 and table(text)["iaps"]["found"] == 5  # through the link
    assert f"linked      on-shared-storage -> {shared}: followed" in text
    assert (
        f"linked      on-shared-storage/IAPS 1-20 Images/up -> {shared}: not followed: a folder already walked" in text
    )
    assert f"dangling    scratch -> {tmp_path / 'unmounted'}: a link to nothing, left out" in text
    assert "used        on-shared-storage/IAPS 1-20 Images/: 5 files" in text

    report = json.loads(check(capsys, downloads, "--json", *cache)[1])
    assert report["links"] == {
        "followed": {"on-shared-storage": str(shared)},
        "walked_already": {"on-shared-storage/IAPS 1-20 Images/up": str(shared)},
        "dangling": {"scratch": str(tmp_path / "unmounted")},
    }


def test_an_encrypted_zip_is_reported_as_encrypted_with_what_to_do(capsys, downloads, cache):
    with zipfile.ZipFile(downloads / "emotic.zip") as emotic:
        members = {info.filename: emotic.read(info) for info in emotic.infolist() if not info.is_dir()}
    os.remove(downloads / "emotic.zip")
    write_encrypted_zip(str(downloads / "emotic.zip"), members)

    status, text = check(capsys, downloads, *cache)
    assert status == 1 and sum(row["missing"] for name, row in table(text).items() if name.startswith("emotic")) == 6
    assert re.search(r"encrypted +emotic.zip: 7 of its files are encrypted \(password-protected\): extract it", text)
    assert "download it again" not in text
    report = json.loads(check(capsys, downloads, "--json", *cache)[1])
    assert report["archives"][str(downloads / "emotic.zip")]["status"] == "encrypted"
    assert report["archives"][str(downloads / "emotic.zip")]["encrypted"] == 7


def test_with_only_the_val_and_test_matching_files_offline_check_says_train_will_be_absent(capsys, downloads, cache):
    os.remove(downloads / "train_matching.txt")
    status, text = check(capsys, downloads, "--config", "paired", *cache)
    assert status == 1
    assert "paired: validation 8 examples, test 10 examples" in text
    assert "no train split: its matching file is unavailable" in text
    assert "train_matching.txt   UNAVAILABLE: Could not download train_matching.txt from https://" in text
    status, document = check(capsys, downloads, "--config", "paired", "--json", *cache)
    report = json.loads(document)
    assert list(report["configs"]["paired"]["splits"]) == ["validation", "test"]
    assert list(report["configs"]["paired"]["absent_splits"]) == ["train"]


def test_a_data_dir_that_is_not_a_folder_or_bad_usage_exits_2(capsys, tmp_path):
    status, text = check(capsys, tmp_path / "nowhere")
    assert status == 2
    assert f"error: {tmp_path / 'nowhere'} is not a folder" in text
    with pytest.raises(SystemExit) as exit_:
        cli.main(["check", SAMPLE, "--config", "pictures"])
    assert exit_.value.code == 2


def media_opens(monkeypatch):
    """The media files (paths, or names of zip members) opened from now on, by any code."""
    opened, open_file, open_member = [], io.open, zipfile.ZipFile.open

    def is_media(name):
        return any(imemnet_c.media_file_id(str(name), m) for m in (imemnet_c.IMAGES, imemnet_c.AUDIO))

    def spy_file(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and is_media(file):
            opened.append(str(file))
        return open_file(file, *args, **kwargs)

    def spy_member(archive, name, *args, **kwargs):
        if is_media(getattr(name, "filename", name)):
            opened.append(getattr(name, "filename", name))
        return open_member(archive, name, *args, **kwargs)

    monkeypatch.setattr(io, "open", spy_file)
    monkeypatch.setattr(zipfile.ZipFile, "open", spy_member)
    return opened


def test_a_second_check_reads_no_archive_or_media_file_and_a_changed_file_is_checked_anew(
    capsys, downloads, cache, monkeypatch
):
    tar = downloads / "IMEMNet_clips.tar"
    (downloads / "IMEMNet_clips.tar.gz").write_bytes(gzip.compress(tar.read_bytes()))
    os.remove(tar)
    assert check(capsys, downloads, *cache)[0] == 0
    opened = media_opens(monkeypatch)
    with file_events() as second:
        assert check(capsys, downloads, *cache)[0] == 0
    assert listed(second) == [] and opened == []  # the kept listings and the kept verdicts of the media checks

    picture = downloads / "IAPS 1-20 Images" / "1002.JPG"
    picture.write_bytes(picture.read_bytes()[:300])  # truncated: another size
    opened.clear()
    status, text = check(capsys, downloads, *cache)
    assert status == 1 and f"unreadable: {picture} (the image of 1002) is a truncated or damaged" in text
    assert opened == [str(picture)]  # only the changed file is read again
    os.utime(picture)  # touched only: checked again, still truncated
    assert check(capsys, downloads, *cache)[0] == 1 and opened == [str(picture)] * 2


def test_kept_verdicts_that_are_not_what_a_check_writes_are_not_trusted(capsys, downloads, cache, monkeypatch):
    assert check(capsys, downloads, *cache)[0] == 0
    folders = os.path.join(cache[1], imemnet_c.ARCHIVE_CACHE, "folders")
    for name in os.listdir(folders):  # each verdict replaced by a number, as an edit in a shared cache could
        kept = json.load(open(os.path.join(folders, name)))
        json.dump({file: [stamp, 7] for file, (stamp, _) in kept.items()}, open(os.path.join(folders, name), "w"))
    opened = media_opens(monkeypatch)
    assert check(capsys, downloads, *cache)[0] == 0 and opened  # the loose files checked anew


def test_verdicts_an_earlier_release_kept_are_made_anew_without_listing_the_archive_again(capsys, downloads, cache):
    """An earlier release's check passed a float WAV cut short and failed a JPEG followed by metadata,
    and kept those verdicts (in the tar's listing, and the folder's): both are made anew."""
    with io.BytesIO() as out:  # a float WAV, cut short as an interrupted extraction leaves it
        soundfile.write(out, numpy.zeros(4000, "float32"), 16000, format="WAV", subtype="FLOAT")
        cut = out.getvalue()[:-1000]
    with tarfile.open(downloads / "IMEMNet_clips.tar") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    sample.write_tar(str(downloads / "IMEMNet_clips.tar"), {**members, "clips/3001-9.wav": cut})
    picture = downloads / "IAPS 1-20 Images" / "1001.JPG"
    picture.write_bytes(picture.read_bytes() + bytes(8192))  # metadata an editor appended: every decoder reads it
    status, text = check(capsys, downloads, *cache)
    assert status == 1 and "clips/3001-9.wav (the audio of 3001-9) is truncated: 3750 of 4000 audio frames" in text
    assert table(text)["iaps"]["unreadable"] == 0

    kept = os.path.join(cache[1], imemnet_c.ARCHIVE_CACHE)
    for path in glob.glob(f"{kept}/*/index.json"):  # the listings as the earlier release kept them
        index = json.load(open(path))
        del index["checks_version"]
        if index["problems"] is not None:  # a tar's: it called every member usable
            index["problems"] = {}
        json.dump(index, open(path, "w"))
    (folder,) = [path for path in glob.glob(f"{kept}/folders/*.json") if "1001.JPG" in open(path).read()]
    stat = picture.stat()  # and the picture's folder: {file: [[size, modification time], verdict]}
    said = f"{picture} (the image of 1001) is a truncated JPEG (its end marker is missing)."
    json.dump({"1001.JPG": [[stat.st_size, stat.st_mtime_ns], said]}, open(folder, "w"))
    with file_events() as events:
        status, text = check(capsys, downloads, *cache)
    assert status == 1 and "clips/3001-9.wav (the audio of 3001-9) is truncated: 3750 of 4000 audio frames" in text
    assert table(text)["iaps"]["unreadable"] == 0
    assert listed(events) == []  # the kept listings' members still hold: no pass over an archive again


def without_audio_backend(monkeypatch):
    """As if the audio backend of the installed datasets could not be imported."""
    monkeypatch.setitem(sys.modules, imemnet_c.AUDIO_BACKEND["modules"][-1], None)


def test_a_missing_audio_backend_is_reported_by_check_with_what_decodes_and_the_install_commands(
    capsys, monkeypatch, cache
):
    status, text = check(capsys, SAMPLE, *cache)
    assert f"Audio: a load decodes it with {imemnet_c.audio_decoder().name}." in text
    without_audio_backend(monkeypatch)
    status, text = check(capsys, SAMPLE, *cache)
    assert status == 0  # the download is complete: the environment is reported beside it
    assert "prepare and stream without it" in text and "decode with soundfile" in text
    assert imemnet_c.AUDIO_BACKEND["install"] in text and "Complete. Load with:" in text
    report = json.loads(check(capsys, SAMPLE, "--json", *cache)[1])
    assert report["audio_backend"].startswith("datasets ") and report["audio_decoder"] == "soundfile"
    status, text = check(capsys, SAMPLE, "--config", "image", *cache)
    assert status == 0 and "Audio:" not in text  # pictures need no audio backend


@pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
@pytest.mark.parametrize("config", ["music", "paired"])
def test_without_the_audio_backend_music_and_paired_prepare_and_stream_and_only_decoding_needs_it(
    monkeypatch, tmp_path, config, streaming, caplog
):
    without_audio_backend(monkeypatch)
    with caplog.at_level("WARNING"):
        dataset = imemnet_c.load(config, SAMPLE, cache_dir=str(tmp_path / "cache"), streaming=streaming)
    assert "prepare and stream without it" in caplog.text and imemnet_c.AUDIO_BACKEND["install"] in caplog.text
    undecoded = dataset["train"].cast_column("audio", datasets.Audio(decode=False))
    files = [e["audio"] for e in undecoded]
    assert len(files) == {"music": 8, "paired": 16}[config]
    assert all((file["bytes"] or open(file["path"], "rb").read()).startswith(b"RIFF") for file in files)
    # that decoding the column then fails (datasets' own error) is observed where the backend is truly
    # absent: tests/test_without_torchcodec.py, in make test-5-soundfile


def test_the_load_call_an_incomplete_check_advises_loads_what_is_there(capsys, downloads, cache, caplog):
    archive = downloads / "emotic.zip"
    archive.write_bytes(archive.read_bytes()[:1000])  # truncated: its pictures cannot be had
    status, text = check(capsys, downloads, "--config", "image", *cache)
    assert status == 1 and re.search(r"unreadable +emotic.zip: .*cannot be read as an archive", text)
    advice = text.rpartition("INCOMPLETE")[2].splitlines()[1].strip()
    assert advice.endswith('missing_media="skip")')
    with caplog.at_level("WARNING"):
        images = eval(advice, {"load_dataset": datasets.load_dataset, "imemnet_c": imemnet_c})["train"]
    emotic = [row.id for row in imemnet_c.read_va_table(str(downloads / "image_va.csv"), False).rows]
    emotic = [image_id for image_id in emotic if imemnet_c.image_source(image_id) == "emotic"]
    assert emotic and images.num_rows == 16 - len(emotic)
    assert f"left out 1 unreadable archives: {archive} cannot be read as an archive" in caplog.text


def test_an_unexpected_error_exits_3_with_its_traceback_not_1(capsys, monkeypatch, cache):
    def failing_plan(*args, **kwargs):
        raise RuntimeError("a fault of the check itself")

    monkeypatch.setattr(imemnet_c, "make_plan", failing_plan)
    status, text = check(capsys, SAMPLE, *cache)
    assert status == 3
    assert "RuntimeError: a fault of the check itself" in text and "Traceback" in text
    assert "INCOMPLETE" not in text and "exit status 3" in text


def test_a_config_that_fails_keeps_its_place_in_the_report(downloads, cache):
    (downloads / "music_va.csv").write_text(",clip,valence,arousal,caption\n0,3001-9,high,0.5,calm\n")
    from imemnet_c_tools.check import check as report_of

    report = report_of(str(downloads), cache_dir=cache[1])
    assert list(report["configs"]) == ["image", "music", "paired"]
    assert "valence is 'high'" in report["configs"]["music"]["error"] and "splits" in report["configs"]["image"]


def test_a_check_of_the_pictures_reads_no_clip_tar_gz_and_says_it_was_not_listed(capsys, downloads, cache):
    with tarfile.open(downloads / "IMEMNet_clips.tar") as tar:
        clips = {info.name: tar.extractfile(info).read() for info in tar if info.isreg()}
    os.remove(downloads / "IMEMNet_clips.tar")
    sample.write_tar(str(downloads / "IMEMNet_clips.tar.gz"), clips, compress=True)
    with open(downloads / "IMEMNet_clips.tar.gz", "r+b") as f:
        f.truncate(os.path.getsize(f.name) // 2)  # still downloading

    status, text = check(capsys, downloads, "--config", "image", *cache)
    naps = table(text)["naps"]  # in NAPS_BE.tar.gz, which sorts after the clips'
    assert status == 0 and naps["found"] == naps["expected"] > 0
    assert re.search(r"not listed +IMEMNet_clips.tar.gz: a tar reached once every media file", text)
    report = json.loads(check(capsys, downloads, "--config", "image", "--json", *cache)[1])
    assert report["archives"][str(downloads / "IMEMNet_clips.tar.gz")]["status"] == "not listed"
    status, text = check(capsys, downloads, *cache)  # every config: the clips are needed
    assert status == 1 and re.search(r"unreadable +IMEMNet_clips.tar.gz: .*cannot be read as an archive", text)
