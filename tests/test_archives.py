"""Archives at real size: each is listed once and its listing kept (keyed by the archive's path,
size and modification time), a tar.gz is read at random through its seek points, and a changed
download is never served stale, prepared or streaming."""

import collections
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile

import datasets
import pytest
from conftest import ROOT, TIMEOUT, chain, consume, content, file_events, kill_when, listed, stepped_load

import imemnet_c
from imemnet_c_tools import check, sample

MODES = pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])
CLIPS = "IMEMNet_clips.tar"


def clips_as_tar_gz(downloads, clips=None):
    """The sample's clips as a tar.gz (the real IMEMNet download's shape), with `clips` replacing
    some members' bytes; returns the members written."""
    source = downloads / CLIPS if (downloads / CLIPS).exists() else downloads / f"{CLIPS}.gz"
    with tarfile.open(source) as tar:
        members = {info.name: tar.extractfile(info).read() for info in tar if info.isreg()}
    os.remove(source)
    members.update(clips or {})
    sample.write_tar(str(downloads / f"{CLIPS}.gz"), members, compress=True)
    return members


def build(config, data_dir, cache, streaming):
    """Every split of a config through the builder of this module (which the spies watch)."""
    builder = imemnet_c.ImemnetC(config_name=config, data_dir=str(data_dir), cache_dir=str(cache))
    if streaming:
        return {split: content(builder.as_streaming_dataset(split=split)) for split in builder.config.splits}
    builder.download_and_prepare()
    return {split: content(builder.as_dataset(split=split)) for split in builder.config.splits}


def index_files(cache):
    root = os.path.join(cache, imemnet_c.ARCHIVE_CACHE)
    listings = (os.path.join(root, folder, "index.json") for folder in os.listdir(root))
    return sorted(path for path in listings if os.path.exists(path))  # `folders/` keeps loose files' verdicts


def index_of(cache, name):
    (index,) = [path for path in index_files(cache) if json.load(open(path))["archive"].endswith(name)]
    return index


@MODES
def test_each_archive_is_listed_once_and_later_loads_of_any_config_list_nothing(downloads, tmp_path, streaming):
    clips_as_tar_gz(downloads)
    with file_events() as first_load:
        first = build("paired", downloads, tmp_path / "cache", streaming)
    assert listed(first_load) == ["IMEMNet_clips.tar.gz", "NAPS_BE.tar.gz", "emotic.zip"]
    with file_events() as later_loads:
        for config in ("music", "image", "paired"):
            build(config, downloads, tmp_path / "cache", not streaming)
            build(config, downloads, tmp_path / "cache", streaming)
    assert listed(later_loads) == []
    assert build("paired", downloads, tmp_path / "other-cache", streaming) == first


@MODES
@pytest.mark.parametrize("clips", [CLIPS, f"{CLIPS}.gz"])
def test_a_load_lists_no_tar_of_media_it_does_not_need(downloads, tmp_path, clips, streaming):
    if clips.endswith(".gz"):
        clips_as_tar_gz(downloads)
    with file_events() as music_load:
        build("music", downloads, tmp_path / "complete", streaming)
    assert listed(music_load) == sorted([clips, "emotic.zip"])  # a zip's listing reads its central directory
    complete_images = build("image", downloads, tmp_path / "complete", streaming)
    clips = downloads / clips
    clips.write_bytes(clips.read_bytes()[: clips.stat().st_size // 2])  # still downloading
    with file_events() as image_load:
        assert build("image", downloads, tmp_path / "cache", streaming) == complete_images
    assert listed(image_load) == ["NAPS_BE.tar.gz", "emotic.zip"]  # though the clips' sorts before NAPS_BE's
    with pytest.raises(Exception) as error:
        build("music", downloads, tmp_path / "cache", streaming)
    assert f"{clips} cannot be read as an archive" in chain(error.value)


@MODES
@pytest.mark.parametrize("change", ["size", "mtime"])
def test_a_changed_archive_is_listed_again(downloads, tmp_path, change, streaming):
    clips_as_tar_gz(downloads)
    build("music", downloads, tmp_path / "cache", streaming=True)  # listed; then read again in either mode
    archive = downloads / "IMEMNet_clips.tar.gz"
    if change == "size":
        with tarfile.open(archive) as tar:
            members = {info.name: tar.extractfile(info).read() for info in tar}
        sample.write_tar(str(archive), {**members, "extra/readme.txt": b"added later"}, compress=True)
    else:
        stat = archive.stat()
        os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with file_events() as events:
        build("music", downloads, tmp_path / "cache", streaming)
    assert listed(events) == ["IMEMNet_clips.tar.gz"]
    assert len(index_files(tmp_path / "cache")) == 2  # the clips' and emotic.zip's: the old version's listing is gone


@MODES
@pytest.mark.parametrize("damage", ["garbage", "cut short", "seek points cut short", "seek points gone"])
def test_a_corrupt_or_partial_listing_is_ignored_and_rebuilt(downloads, tmp_path, damage, streaming):
    clips_as_tar_gz(downloads)
    cache = tmp_path / "cache"
    expected = build("paired", downloads, cache, streaming=True)  # listed; then read again in either mode
    index = index_of(cache, "IMEMNet_clips.tar.gz")
    seek_points = os.path.join(os.path.dirname(index), json.load(open(index))["seek_points"][0])
    if damage == "garbage":
        open(index, "w").write("{not json")
    elif damage == "cut short":
        text = open(index).read()
        open(index, "w").write(text[: len(text) // 2])
    elif damage == "seek points cut short":
        data = open(seek_points, "rb").read()
        open(seek_points, "wb").write(data[: len(data) // 2])
    else:
        os.remove(seek_points)
    with file_events() as events:
        assert build("paired", downloads, cache, streaming) == expected
    assert listed(events) == ["IMEMNet_clips.tar.gz"]


def edit_listing(index, edit, tmp_path):
    """Edits a kept listing of the clips' tar.gz as someone sharing the cache could; `edit` names how."""
    listing = json.load(open(index))
    folder, (name, _, offset) = os.path.dirname(index), listing["members"][0]
    escaping = {  # a member a load needs, renamed to land outside the cache when extracted
        "member ../../escape": "../" * 4 + f"escape/{os.path.basename(name)}",
        "absolute member": str(tmp_path / "absolute" / os.path.basename(name)),
    }
    if edit in escaping:
        listing["members"][0][0] = escaping[edit]
    elif edit == "seek points path with a slash":
        seek_points = listing["seek_points"][0]
        shutil.copy(os.path.join(folder, seek_points), os.path.join(os.path.dirname(folder), seek_points))
        listing["seek_points"][0] = f"../{seek_points}"
    elif edit == "offset beyond the archive":
        listing["members"][0][2] = offset + 10**9
    elif edit == "left-out entry malformed":
        listing["left_out"] = [["inner.zip", 7]]
    elif edit == "another archive's listing":
        listing["archive"] = str(tmp_path / "elsewhere.tar.gz")
    elif edit == "media check malformed":
        listing["problems"] = {name: 7}
    elif edit == "encrypted entry malformed":
        listing["encrypted"] = [7]
    elif edit == "an older version's listing":  # whose left-out reasons were str.format templates
        listing["version"] -= 1
    else:  # damaged seek points of the right size
        path = os.path.join(folder, listing["seek_points"][0])
        damaged = os.urandom(os.path.getsize(path))
        open(path, "wb").write(damaged)
    json.dump(listing, open(index, "w"))


@MODES
@pytest.mark.parametrize(
    "edit",
    [
        "member ../../escape",
        "absolute member",
        "seek points path with a slash",
        "offset beyond the archive",
        "left-out entry malformed",
        "another archive's listing",
        "media check malformed",
        "encrypted entry malformed",
        "an older version's listing",
        "damaged seek points",
    ],
)
def test_an_edited_listing_is_not_trusted_and_is_made_again(downloads, tmp_path, streaming, edit):
    clips_as_tar_gz(downloads)
    cache = tmp_path / "cache"
    expected = build("music", downloads, cache, streaming)
    edit_listing(index_of(cache, "IMEMNet_clips.tar.gz"), edit, tmp_path)
    shutil.rmtree(cache / "imemnet_c", ignore_errors=True)  # the prepared dataset: the next build lists, extracts
    outside = sorted(str(p) for p in tmp_path.rglob("*") if cache not in p.parents)
    with file_events() as events:
        assert build("music", downloads, cache, streaming) == expected
    assert listed(events) == ["IMEMNet_clips.tar.gz"]
    assert sorted(str(p) for p in tmp_path.rglob("*") if cache not in p.parents) == outside  # nothing written there
    assert imemnet_c.Archive(str(downloads / f"{CLIPS}.gz"), str(cache)).members()  # the listing made again is kept


def test_a_link_in_the_cache_leading_outside_is_an_error_not_a_write_there(downloads, tmp_path):
    clips_as_tar_gz(downloads)
    cache, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    build("music", downloads, cache, streaming=False)
    files = os.path.join(os.path.dirname(index_of(cache, "IMEMNet_clips.tar.gz")), "files")
    shutil.rmtree(files)
    elsewhere.mkdir()
    os.symlink(elsewhere, files)  # planted in a shared cache
    shutil.rmtree(cache / "imemnet_c")
    with pytest.raises(Exception, match="leads outside the cache folder"):
        build("music", downloads, cache, streaming=False)
    assert list(elsewhere.iterdir()) == []


def test_a_link_in_the_cache_in_place_of_an_extracted_member_is_an_error_not_a_read_there(downloads, tmp_path):
    clips_as_tar_gz(downloads)
    cache, elsewhere = tmp_path / "cache", tmp_path / "elsewhere.wav"
    build("music", downloads, cache, streaming=False)
    files = os.path.join(os.path.dirname(index_of(cache, "IMEMNet_clips.tar.gz")), "files")
    member = next(os.path.join(d, name) for d, _, names in os.walk(files) for name in names)
    shutil.copy(member, elsewhere)  # the same size: left in place, it would be read as the member
    os.remove(member)
    os.symlink(elsewhere, member)  # planted in a shared cache
    shutil.rmtree(cache / "imemnet_c")
    with pytest.raises(Exception, match="leads outside the cache folder"):
        build("music", downloads, cache, streaming=False)


def test_a_prepared_dataset_outlives_a_relisting_of_its_archives_and_the_archive_cache_removed(
    load, downloads, tmp_path
):
    first = load("image", downloads)["train"]  # its pictures: in the extractions of NAPS_BE.tar.gz and emotic.zip
    expected = content(first)
    for archive in ("NAPS_BE.tar.gz", "emotic.zip"):  # only touched, as a copy or a sync does
        stat = (downloads / archive).stat()
        os.utime(downloads / archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    check.check(str(downloads), ["image"], cache_dir=str(tmp_path / "cache"))  # lists them again
    consume(load("image", downloads, streaming=True))
    assert content(first) == expected  # every picture of the dataset already open still read
    assert content(load("image", downloads)["train"]) == expected  # prepared again for the touched download
    shutil.rmtree(tmp_path / "cache" / imemnet_c.ARCHIVE_CACHE)  # to free space
    assert content(load("image", downloads)["train"]) == expected  # prepared again, not pointing at nothing
    assert content(load("image", downloads)["train"]) == expected


def test_an_old_extraction_goes_at_the_first_listing_after_the_dataset_reading_it_is_deleted(load, downloads, tmp_path):
    touched, cache = downloads / "emotic.zip", tmp_path / "cache"

    def extraction():  # the cache folder of emotic.zip's current version
        return imemnet_c.Archive(str(touched), str(cache)).folder

    def touch_and_list_again():
        os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
        check.check(str(downloads), ["image"], cache_dir=str(cache))

    prepared = os.path.dirname(load("image", downloads)["train"].cache_files[0]["filename"])
    first = extraction()
    touch_and_list_again()
    assert os.path.isdir(first)  # kept: the prepared dataset reads it
    second = extraction()
    shutil.rmtree(prepared)  # the dataset deleted, as a user frees its cache
    touch_and_list_again()
    assert not os.path.exists(first)  # gone at the first listing after
    assert not os.path.exists(second) and os.path.isdir(extraction())  # (read by no dataset: gone at once)


def test_a_listing_removes_what_an_interrupted_listing_left_but_not_what_one_may_still_be_writing(
    load, downloads, tmp_path
):
    expected = content(load("music", downloads)["train"])
    clips_as_tar_gz(downloads)
    cache = tmp_path / "cache"
    imemnet_c.make_plan("music", downloads, cache_dir=str(cache))
    folder = os.path.dirname(index_of(cache, f"{CLIPS}.gz"))
    left = {  # by an interrupted listing (its seek points never named), and by a listing of an older version
        "abandoned": os.path.join(folder, "seek-points.bin.0a1b.partial"),
        "recent": os.path.join(folder, "seek-points.bin.2c3d.partial"),
        "older version": os.path.join(folder, f"seek-points-{'0' * 32}.bin"),
    }
    for path in left.values():
        open(path, "wb").write(b"seek points")
    two_hours_ago = time.time() - 7200
    os.utime(left["abandoned"], (two_hours_ago, two_hours_ago))
    os.remove(os.path.join(folder, "index.json"))  # the next plan lists the archive again
    imemnet_c.make_plan("music", downloads, cache_dir=str(cache))
    kept = [name for name in os.listdir(folder) if name.startswith("seek-points")]
    assert sorted(kept) == ["seek-points.bin", os.path.basename(left["recent"])]  # the recent one may be written now
    assert json.load(open(os.path.join(folder, "index.json")))["seek_points"][0] == "seek-points.bin"
    assert content(imemnet_c.load("music", str(downloads), split="train", cache_dir=str(cache))) == expected


def test_members_read_at_random_from_a_tar_gz_are_byte_identical_to_tarfiles(tmp_path):
    members = {f"clips/{c}.wav": sample.wav_bytes(c, seconds=2.0) for c in sample.CLIP_IDS}
    members.update({f"pad/{i}.bin": os.urandom(300_000) for i in range(30)})  # several MB: several seek points
    path = tmp_path / "clips.tar.gz"
    sample.write_tar(str(path), members, compress=True)
    archive = imemnet_c.Archive(str(path), str(tmp_path / "cache"))
    listed = archive.members()
    with tarfile.open(path) as tar:
        expected = {info.name: tar.extractfile(info).read() for info in tar}
    with contextlib.ExitStack() as stack:
        open_member = archive.opener(stack)
        for location in reversed(listed):  # backwards: every read is a seek
            assert open_member(location).read() == expected[location.member]
    kept = imemnet_c.Archive(str(path), str(tmp_path / "cache"))
    assert kept.members() == listed and kept.seek_points == archive.seek_points


def test_members_read_from_a_zip_are_byte_identical_to_zipfiles_whatever_their_compression(tmp_path):
    path, members = tmp_path / "pictures.zip", {}
    with zipfile.ZipFile(path, "w") as archive:
        for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            name = f"emotic/{compression}.jpg"
            members[name] = os.urandom(5_000) + bytes(20_000)  # compressible, so that the sizes differ
            archive.writestr(name, members[name], compress_type=compression)
    listed = imemnet_c.Archive(str(path), str(tmp_path / "cache")).members()
    with contextlib.ExitStack() as stack:
        open_member = imemnet_c.Archive(str(path), str(tmp_path / "cache")).opener(stack)
        assert {location.member: open_member(location).read() for location in reversed(listed)} == members


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_a_zip_member_changed_in_place_is_an_error_naming_it_not_other_bytes(tmp_path, compression):
    path, picture = tmp_path / "pictures.zip", bytes(range(256)) * 40
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("emotic/a.jpg", picture)
    (location,) = imemnet_c.Archive(str(path), str(tmp_path / "cache")).members()
    with zipfile.ZipFile(path) as archive:
        raw = archive.read("emotic/a.jpg") if compression == zipfile.ZIP_STORED else None
    content = bytearray(path.read_bytes())
    at = content.index(raw[100:200]) + 50 if raw else len(content) // 3  # inside the member's data
    content[at] ^= 0x01
    path.write_bytes(bytes(content))
    with contextlib.ExitStack() as stack, pytest.raises(zipfile.BadZipFile, match="'emotic/a.jpg'"):
        data = imemnet_c.Archive(str(path), str(tmp_path / "cache")).opener(stack)(location).read()
        assert data == picture, "changed bytes were read as the member's"


READING_AT_RANDOM = textwrap.dedent(
    """
    import random, sys
    sys.path.insert(0, {root!r})
    import imemnet_c
    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))
    archive = imemnet_c.Archive({path!r}, {cache!r})
    members, reader = archive.members(), imemnet_c.MemberReader({{archive.path: archive}})
    memory, threads = status("VmRSS"), status("Threads")
    for location in random.Random(0).sample(members, len(members)) * 2:
        reader.read(location)
    print((status("VmRSS") - memory) / 1024, status("Threads") - threads)
    """
)


def test_a_reader_of_a_tar_gz_holds_small_seek_points_and_a_bounded_cache(tmp_path):
    # What every reader (each DataLoader worker, each rank) holds at 45 GB: its seek points, which
    # grow with the archive (their windows compressed: under 0.1% of it, where whole windows take 1.5%),
    # and rapidgzip's cache of decompressed chunks, bounded (no thread of its own, 2 MiB chunks: about
    # 42 MB; 4 MiB chunks take 73 MB, a thread per core 50 to 70 MB). 70 MB of clips as hard to compress as
    # recorded music (the realistic benchmark's), read in a process of its own, every member twice.
    path, cache = tmp_path / "clips.tar.gz", tmp_path / "cache"
    clips = {f"clips/{i}.wav": sample.wav_bytes(i, 10.0, 44100, channels=2, noise=900) for i in range(40)}
    sample.write_tar(str(path), clips, compress=True)
    script = READING_AT_RANDOM.format(root=ROOT, path=str(path), cache=str(cache))
    reading = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT)
    assert reading.returncode == 0, reading.stderr[-3000:]
    kept = imemnet_c.Archive(str(path), str(cache))
    kept.members()
    assert os.path.getsize(kept.seek_points) < os.path.getsize(path) / 1000
    memory_mb, threads = reading.stdout.split()
    assert float(memory_mb) < 50 and threads == "0"


def test_streamed_pairs_come_grouped_by_clip_in_the_archives_order_each_clip_read_once(
    downloads, tmp_path, monkeypatch
):
    clips_as_tar_gz(downloads)
    reads, opener = collections.Counter(), imemnet_c.Archive.opener

    def counting_opener(archive, stack):
        open_member = opener(archive, stack)
        return lambda location: reads.update([location.member]) or open_member(location)

    monkeypatch.setattr(imemnet_c.Archive, "opener", counting_opener)
    builder = imemnet_c.ImemnetC(config_name="paired", data_dir=str(downloads), cache_dir=str(tmp_path / "cache"))
    clip_ids = [pair["clip_id"] for pair in builder.as_streaming_dataset(split="train").decode(False)]
    groups = [clip for i, clip in enumerate(clip_ids) if i == 0 or clip_ids[i - 1] != clip]
    with tarfile.open(downloads / f"{CLIPS}.gz") as tar:
        archive_order = [info.name.removeprefix("clips/").removesuffix(".wav") for info in tar]
    assert len(groups) == len(set(clip_ids)) > 1  # each clip's pairs together
    assert groups == [clip for clip in archive_order if clip in groups]  # in the order the clips lie in
    assert all(reads[f"clips/{clip}.wav"] == 1 for clip in groups)


def test_a_long_listing_shows_a_progress_bar_that_datasets_switch_turns_off(downloads, tmp_path, monkeypatch, capsys):
    clips_as_tar_gz(downloads)
    members = tarfile.TarFile.__iter__

    def slow_members(tar):  # a pass of over two seconds, like a real tar.gz: the standard library's, slowed
        for info in members(tar):
            time.sleep(0.4)
            yield info

    path = str(downloads / f"{CLIPS}.gz")
    datasets.enable_progress_bars()
    try:
        with monkeypatch.context() as slowed:
            slowed.setattr(tarfile.TarFile, "__iter__", slow_members)
            imemnet_c.Archive(path, str(tmp_path / "shown")).members()
    finally:
        datasets.disable_progress_bars()
    assert f"Listing {path}" in capsys.readouterr().err
    imemnet_c.Archive(path, str(tmp_path / "hidden")).members()
    assert "Listing" not in capsys.readouterr().err


@MODES
def test_a_replaced_archive_gives_the_new_content(load, downloads, streaming):
    good = clips_as_tar_gz(downloads)
    truncated = good["clips/3001-10.wav"][:100]
    clips_as_tar_gz(downloads, {"clips/3001-10.wav": truncated})  # a damaged download
    with pytest.raises(Exception) as error:
        consume(load("music", downloads, streaming=streaming))
    assert "3001-10.wav (the audio of 3001-10) is truncated" in chain(error.value)

    clips_as_tar_gz(downloads, good)  # downloaded again: a good copy
    clips = {e["clip_id"]: e["audio"]["array"] for e in consume(load("music", downloads, streaming=streaming))["train"]}
    assert len(clips) == 8

    other = sample.wav_bytes("another clip")  # the same length, other samples
    assert len(other) == len(good["clips/3001-10.wav"])
    clips_as_tar_gz(downloads, {"clips/3001-10.wav": other})
    changed = {
        e["clip_id"]: e["audio"]["array"] for e in consume(load("music", downloads, streaming=streaming))["train"]
    }
    assert list(changed["3001-10"]) != list(clips["3001-10"])
    assert all(list(changed[c]) == list(clips[c]) for c in clips if c != "3001-10")


INDEXING = textwrap.dedent(
    """
    import sys, tarfile, time
    sys.path.insert(0, {root!r})
    import imemnet_c
    members = tarfile.TarFile.__iter__
    def slow_members(tar):  # each member of a tar's pass announced, then a pause: the parent kills it mid-way
        for info in members(tar):
            print("member", flush=True)
            time.sleep({delay})
            yield info
    tarfile.TarFile.__iter__ = slow_members
    builder = imemnet_c.ImemnetC(config_name="music", data_dir={data_dir!r}, cache_dir={cache!r})
    builder.download_and_prepare()
    print("rows", builder.as_dataset(split="train").num_rows, flush=True)
    """
)


def indexing(data_dir, cache, delay):
    script = INDEXING.format(root=ROOT, data_dir=str(data_dir), cache=str(cache), delay=delay)
    return [sys.executable, "-c", script]


# A plain tar too: a tar.gz's listing kept before its pass ended would lack its seek points and be
# refused for that alone.
@pytest.mark.parametrize("archive", ["tar.gz", "tar"])
def test_a_run_killed_while_indexing_then_rerun_gives_the_full_result(downloads, tmp_path, archive):
    if archive == "tar.gz":
        clips_as_tar_gz(downloads)
    cache = tmp_path / "cache"
    process = subprocess.Popen(indexing(downloads, cache, delay=0.2), stdout=subprocess.PIPE, text=True)
    kill_when(process, lambda line, count: line.startswith("member") and count == 3)  # mid-way through the archive
    assert process.returncode == -signal.SIGKILL
    rerun = subprocess.run(indexing(downloads, cache, delay=0), capture_output=True, text=True, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "rows 8" in rerun.stdout


def test_two_processes_indexing_at_once_both_end_with_a_good_listing(downloads, tmp_path):
    # Two streaming loads (no datasets lock between them, unlike two prepares) list the clips' tar.gz
    # at once: each, its listing and seek points written, waits for the other before renaming them
    # into place (under the listing's lock). Each wrote files of its own, and both end well.
    clips_as_tar_gz(downloads)
    cache, barrier = tmp_path / "cache", tmp_path / "barrier"
    os.makedirs(barrier)
    step = ["--streaming", "--step", "filelock.FileLock.__init__", "--matching", "index.lock", "--barrier", barrier]
    processes = [
        subprocess.Popen(
            stepped_load("music", downloads, cache, *step),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=TIMEOUT) for process in processes]
    assert len(os.listdir(barrier)) == 2  # both were in the pass together
    alone = build("music", downloads, tmp_path / "alone", streaming=True)
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert f"split train {hashlib.sha256(repr(alone['train']).encode()).hexdigest()}" in stdout
    with file_events() as events:
        assert build("music", downloads, cache, streaming=True) == alone  # from the listings they kept
    assert listed(events) == []
