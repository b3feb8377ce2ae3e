"""`imemnet-c check DATA_DIR --manifest FILE` and `--against FILE`: the sha256 and size of every media
file a load uses, by id; the manifest's own sha256, printed; every id whose file differs, is missing
or is extra; each file hashed once, with its check, and again only when it changed."""

import hashlib
import json
import os
import re
import shutil
import tarfile
import zipfile

import pytest
from conftest import ROOT, SAMPLE, file_events

import imemnet_c
from imemnet_c_tools import cli, manifest, sample


def check(capsys, data_dir, *options):
    """(exit status, what it printed) of `imemnet-c check DATA_DIR [options]`."""
    status = cli.main(["check", str(data_dir), *map(str, options)])
    printed = capsys.readouterr()
    return status, printed.out + printed.err


@pytest.fixture
def cache(tmp_path):
    return ["--cache-dir", str(tmp_path / "cache")]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_bytes(data_dir, file):
    """The bytes of a manifest's file, read from `data_dir` without the loader."""
    if "path" in file:
        return (data_dir / file["path"]).read_bytes()
    path = str(data_dir / file["archive"])
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return archive.read(file["member"])
    with tarfile.open(path) as archive:
        return archive.extractfile(file["member"]).read()


def media_opens(events, downloads):
    """{file: times opened} of the download's media files and archives (its annotation files are
    parsed once per process and content, so only by the first check of a test)."""
    return {
        path: count
        for path, count in events.opened.items()
        if path.startswith(str(downloads)) and os.path.basename(path) not in imemnet_c.ANNOTATION_URLS
    }


def hashed(text):
    """(files hashed, files in the manifest) as the report says them."""
    found = re.search(r"Hashed ([\d,]+) of ([\d,]+) media files", text)
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


def as_documented(option, file):
    """The options docs/check.md gives `imemnet-c check DATA_DIR` with `option`, its FILE as `file`."""
    with open(os.path.join(ROOT, "docs", "check.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```bash\n(.*?)```", f.read(), flags=re.S)
    lines = [line.split(" #")[0].split() for block in blocks for line in block.splitlines()]
    (line,) = [line for line in lines if line[:2] == ["imemnet-c", "check"] and option in line]
    return [file if word.endswith(".json") else word for word in line[3:]]


def test_a_manifest_holds_every_media_file_by_id_and_round_trips_with_its_sha256_printed(
    capsys, tmp_path, downloads, cache
):
    written = tmp_path / "manifest.json"
    status, text = check(capsys, downloads, *as_documented("--manifest", written), *cache)
    assert status == 0
    printed = re.search(r"written to .*manifest\.json, its sha256: ([0-9a-f]{64})", text)[1]
    assert printed == sha256(written.read_bytes())
    files = json.loads(written.read_text())["files"]
    expected = {("image", i) for i in sample.all_image_ids() + [sample.NAPS_UNANNOTATED_ID]}
    expected |= {("audio", c) for c in sample.CLIP_IDS}
    assert {(file["modality"], file["id"]) for file in files} == expected
    for file in files:  # the bytes read without the loader, loose, in a zip, a tar and a tar.gz
        data = file_bytes(downloads, file)
        assert (file["sha256"], file["size"]) == (sha256(data), len(data)), file
    assert {file["source"] for file in files} == {"iaps", "naps", "clips"} | {
        f"emotic/{part}" for part in sample.EMOTIC_IDS
    }
    assert {file.get("archive") for file in files} == {None, "emotic.zip", "NAPS_BE.tar.gz", "IMEMNet_clips.tar"}

    status, text = check(capsys, downloads, "--against", written, *cache)
    assert status == 0 and f"Against {written}: every id's file has its sha256 and size." in text
    assert hashed(text) == (0, len(files))  # each sha256 kept with its check
    again = tmp_path / "again.json"
    assert check(capsys, downloads, "--manifest", again, *cache)[0] == 0
    assert again.read_bytes() == written.read_bytes()  # the same media give the same manifest


def test_against_names_every_id_whose_file_differs_is_missing_or_is_extra_and_exits_1(
    capsys, tmp_path, downloads, cache
):
    folder = downloads / "IAPS 1-20 Images"
    aside = tmp_path / "2040.JPG"
    shutil.move(folder / "2040.JPG", aside)  # absent from the earlier manifest
    earlier = tmp_path / "earlier.json"
    assert check(capsys, downloads, "--manifest", earlier, *cache)[0] == 1  # incomplete, and written
    shutil.move(aside, folder / "2040.JPG")  # extra
    (folder / "1002.JPG").write_bytes(sample.jpeg_bytes("another picture"))  # differs
    os.remove(folder / "1001.JPG")  # missing
    clips = {f"clips/{c}.wav": sample.wav_bytes(c) for c in sample.CLIP_IDS}
    clips["clips/3004-21.wav"] = sample.wav_bytes("another tone")  # differs, in a tar
    sample.write_tar(str(downloads / "IMEMNet_clips.tar"), clips)

    status, text = check(capsys, downloads, *as_documented("--against", earlier), *cache)
    assert status == 1
    assert f"Against {earlier}: 2 differ, 1 missing, 1 extra" in text
    assert re.search(r"differs  audio 3004-21 \(clips\): clips/3004-21.wav in IMEMNet_clips.tar: sha256 ", text)
    assert re.search(r"differs  image 1002 \(iaps\): IAPS 1-20 Images/1002.JPG: sha256 \w{12}…", text)
    assert "missing  image 1001 (iaps): in the manifest (IAPS 1-20 Images/1001.JPG), no file now" in text
    assert "extra    image 2040 (iaps): IAPS 1-20 Images/2040.JPG, not in the manifest" in text
    assert text.rstrip().endswith(f"The media differ from {earlier} (above).")
    report = json.loads(check(capsys, downloads, "--against", earlier, "--json", *cache)[1])
    named = {kind: [(item["modality"], item["id"]) for item in report["against"][kind]] for kind in manifest.KINDS}
    assert named == {
        "differ": [("audio", "3004-21"), ("image", "1002")],
        "missing": [("image", "1001")],
        "extra": [("image", "2040")],
    }


def test_a_second_run_hashes_only_the_file_that_changed_reading_no_more_than_a_check(capsys, tmp_path, downloads):
    """Beside a cache that kept a manifest's sha256, one that kept only a check's verdicts: after a
    change, the manifest's second run opens the download's files as often as the second check."""
    written, caches = tmp_path / "manifest.json", [["--cache-dir", str(tmp_path / name)] for name in ("a", "b")]
    status, text = check(capsys, downloads, "--manifest", written, *caches[0])
    assert status == 0 and hashed(text) == (24, 24)
    assert check(capsys, downloads, *caches[1])[0] == 0
    picture = downloads / "IAPS 1-20 Images" / "1002.JPG"
    picture.write_bytes(picture.read_bytes() + b"\0")  # another size: its check and its sha256 are made anew

    opened = []
    for options in (["--against", written, *caches[0]], caches[1]):
        with file_events() as events:
            status, text = check(capsys, downloads, *options)
        opened.append(media_opens(events, downloads))
    assert opened[0] == opened[1] and opened[0][str(picture)] == 1  # the changed file once, for its check and sha256
    status, text = check(capsys, downloads, "--against", written, *caches[0])
    assert status == 1 and "differs  image 1002 (iaps)" in text and hashed(text) == (0, 24)


def test_a_manifest_reads_each_file_of_the_download_as_often_as_a_check_without_one(capsys, tmp_path, downloads):
    """The sha256 are taken from the reads the check makes anyway: a tar's members as its one pass
    lists and checks them, a loose file or zip member read whole once for its check and its sha256."""
    opened = []
    for options in ([], ["--manifest", str(tmp_path / "manifest.json")]):
        with file_events() as events:
            status, text = check(capsys, downloads, "--cache-dir", str(tmp_path / f"cache-{len(options)}"), *options)
        assert status == 0
        opened.append(media_opens(events, downloads))
    assert opened[0] == opened[1]
    assert str(downloads / "IMEMNet_clips.tar") in opened[1] and hashed(text) == (24, 24)


GOOD_ENTRY = {"modality": "image", "id": "1001", "source": "iaps", "path": "1001.jpg", "size": 3, "sha256": "a" * 64}


def one_entry(**changed):
    """A manifest of one entry, GOOD_ENTRY with fields `changed` (None: left out)."""
    entry = {key: value for key, value in {**GOOD_ENTRY, **changed}.items() if value is not None}
    return json.dumps(manifest.make(["image"], [entry]))


BAD_MANIFESTS = {  # (what the file holds, what the error says of it)
    "no configs": (json.dumps({**manifest.make(["image"], []), "configs": []}), "configs is [], expected some of"),
    "files not a list": (json.dumps({**manifest.make(["image"], []), "files": {}}), "files is dict, expected a list"),
    "an entry not an object": (
        json.dumps({**manifest.make(["image"], []), "files": ["1001.jpg"]}),
        "files[0]: '1001.jpg' is not a file",
    ),
    "another modality": (one_entry(modality="video"), "files[0]: modality is 'video', expected one of"),
    "an empty id": (one_entry(id=""), "files[0]: id is '', expected text"),
    "no source": (one_entry(source=None), "files[0]: source is None, expected text"),
    "no path nor member": (one_entry(path=None), "files[0]: it says neither a path nor an archive and member"),
    "a member without its archive": (one_entry(path=None, member="a.jpg"), "neither a path nor an archive and member"),
    "a negative size": (one_entry(size=-1), "files[0]: size is -1, expected a number of bytes"),
    "a size as text": (one_entry(size="3"), "files[0]: size is '3', expected a number of bytes"),
    "absent": (None, "no such file"),
    "not JSON": ("{'files': ", "is not a manifest (Expecting property name"),
    "another JSON": ('{"files": []}', "is not an imemnet-c media manifest"),
    "a later version": (json.dumps({"manifest": manifest.FORMAT, "version": 2}), "a manifest of version 2"),
    "a bad entry": (
        json.dumps(
            manifest.make(
                ["image"], [{"modality": "image", "id": "1001", "source": "iaps", "path": "1001.jpg", "size": 3}]
            )
        ),
        "files[0]: sha256 is None, expected 64 hexadecimal digits",
    ),
    "an id twice": (
        json.dumps(
            manifest.make(
                ["image"],
                [
                    {
                        "modality": "image",
                        "id": "1001",
                        "source": "iaps",
                        "path": "1001.jpg",
                        "size": 3,
                        "sha256": "a" * 64,
                    }
                ]
                * 2,
            )
        ),
        "files[1]: a second file for the image 1001",
    ),
    "an unknown config": (
        json.dumps(manifest.make(["pictures"], [])),
        "configs is ['pictures'], expected some of image, music, paired",
    ),
}


@pytest.mark.parametrize("case", BAD_MANIFESTS)
def test_a_bad_manifest_is_an_error_naming_it_what_is_wrong_and_what_to_pass(capsys, tmp_path, cache, case):
    content, says = BAD_MANIFESTS[case]
    path = tmp_path / "earlier.json"
    if content is not None:
        path.write_text(content)
    status, text = check(capsys, SAMPLE, "--against", path, *cache)
    assert status == 2
    assert f"error: {path}" in text and says in text, text
    assert f"expected what `imemnet-c check DATA_DIR --manifest {path}` writes" in text or "write it anew" in text
    assert "Traceback" not in text and not (tmp_path / "cache").exists()  # said before any check


def test_against_a_manifest_of_other_configs_says_which_to_pass(capsys, tmp_path, cache):
    earlier = tmp_path / "earlier.json"
    assert check(capsys, SAMPLE, "--config", "image", "--manifest", earlier, *cache)[0] == 0
    status, text = check(capsys, SAMPLE, "--config", "image", "music", "--against", earlier, *cache)
    assert status == 2 and "is a manifest of image, and this check is of image music" in text
    assert "leave --config out, or pass --config image" in text
    status, text = check(capsys, SAMPLE, "--against", earlier, *cache)  # the manifest's configs
    assert status == 0 and "Against" in text and "music:" not in text


def test_a_manifest_is_written_whole_or_not_at_all(capsys, tmp_path, cache, monkeypatch):
    written = tmp_path / "manifest.json"
    written.write_text("an earlier manifest")
    rename = os.replace

    def full_disk(source, target):  # the last step of writing the manifest fails
        if str(target) == str(written):
            raise OSError(28, "No space left on device")
        rename(source, target)

    monkeypatch.setattr(os, "replace", full_disk)
    status, text = check(capsys, SAMPLE, "--manifest", written, *cache)
    assert status == 2 and f"error: cannot write the manifest {written} ([Errno 28] No space left on device)" in text
    assert written.read_text() == "an earlier manifest" and sorted(os.listdir(tmp_path)) == ["cache", "manifest.json"]


def test_a_manifest_into_a_folder_that_is_not_there_is_refused_before_the_check(capsys, tmp_path, cache):
    status, text = check(capsys, SAMPLE, "--manifest", tmp_path / "nowhere" / "manifest.json", *cache)
    assert status == 2 and "cannot write the manifest" in text and "nowhere" in text
    assert not (tmp_path / "cache").exists()


def test_no_manifest_is_written_when_the_check_fails(capsys, tmp_path, cache, monkeypatch):
    def failing_plan(*args, **kwargs):
        raise RuntimeError("a fault of the check itself")

    monkeypatch.setattr(imemnet_c, "make_plan", failing_plan)
    status, _ = check(capsys, SAMPLE, "--manifest", tmp_path / "manifest.json", *cache)
    assert status == 3 and not (tmp_path / "manifest.json").exists()
