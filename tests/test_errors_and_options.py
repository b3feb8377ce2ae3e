"""Options and errors: missing media (error or counted skip), no data_dir, annotations that are
absent (and cannot be downloaded offline) or malformed, and CSV parsing that keeps ids as written."""

import csv
import io
import logging
import os
import shutil

import datasets
import pytest
from conftest import chain, consume

from imemnet_c_tools import sample

MODES = pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


@MODES
def test_without_data_dir_the_error_says_what_to_download_and_how_to_load(load, streaming):
    with pytest.raises(datasets.exceptions.ManualDownloadError) as error:
        consume(load("paired", None, streaming=streaming))
    for expected in ("IAPS", "NAPS", "EMOTIC", "DEAM", "data_dir", "load_dataset"):
        assert expected in str(error.value)


@MODES
def test_a_data_dir_that_is_not_a_folder_is_named(load, tmp_path, streaming):
    with pytest.raises(Exception) as error:
        consume(load("image", tmp_path / "nowhere", streaming=streaming))
    assert "nowhere" in chain(error.value) and "not a folder" in chain(error.value)


@MODES
@pytest.mark.parametrize("config", ["image", "paired"])
def test_missing_media_error_counts_them_per_source_and_says_how_to_proceed(
    load, downloads, config, streaming, prepared_splits
):
    os.remove(downloads / "NAPS_BE.tar.gz")
    with pytest.raises(Exception) as error:
        load(config, downloads, streaming=streaming)  # the load call itself: streamed, before any iteration
    assert prepared_splits == []  # prepared: before any split is written
    message = chain(error.value)
    assert "FileNotFoundError" in message
    assert f"data_dir={downloads}" in message
    assert "naps image files, e.g. " in message and ("Animals_901_h" in message or "People_905_h" in message)
    assert 'missing_media="skip"' in message
    if config == "image":
        assert "  4 naps image files, e.g. Animals_901_h, Faces_902_v, Landscapes_903_h, Objects_904_v" in message


@MODES
def test_missing_clips_are_reported_as_deam_audio(load, downloads, streaming):
    os.remove(downloads / "IMEMNet_clips.tar")
    with pytest.raises(Exception) as error:
        consume(load("music", downloads, streaming=streaming))
    assert f"  {len(sample.CLIP_IDS)} deam audio files, e.g. 3001-10, 3001-9" in chain(error.value)


@MODES
def test_missing_media_skip_drops_those_examples_and_logs_how_many(load, downloads, streaming, caplog):
    os.remove(downloads / "NAPS_BE.tar.gz")
    with caplog.at_level(logging.WARNING):
        images = consume(load("image", downloads, streaming=streaming, missing_media="skip"))["train"]
        paired = consume(load("paired", downloads, streaming=streaming, missing_media="skip"))
    assert len(images) == 16 - len(sample.NAPS_IDS)
    assert not {e["image_id"] for e in images} & set(sample.NAPS_IDS)
    _, _, pairs = sample.sample_annotations()
    naps = set(sample.NAPS_IDS) | {sample.NAPS_UNANNOTATED_ID}
    for split, file_split in (("train", "train"), ("validation", "val"), ("test", "test")):
        kept = [(c, i) for c, i, _ in pairs[file_split] if i not in naps]
        got = [(e["clip_id"], e["image_id"]) for e in paired[split]]
        assert sorted(got) == sorted(kept) if streaming else got == kept  # streamed: in the clips' order
        dropped = len(pairs[file_split]) - len(kept)
        assert f"left out {dropped} examples of {file_split}_matching.txt" in caplog.text
    assert f"left out {len(sample.NAPS_IDS)} examples of image_va.csv" in caplog.text


def test_an_unknown_missing_media_choice_is_refused(load, downloads):
    with pytest.raises(Exception) as error:
        load("image", downloads, missing_media="ignore")
    assert "missing_media='ignore'" in chain(error.value) and "'error', 'skip'" in chain(error.value)


@MODES
@pytest.mark.parametrize("name", ["image_va.csv", "music_va.csv"])
def test_an_absent_annotation_file_is_downloaded_and_offline_the_error_says_where_to_put_it(
    load, downloads, name, streaming
):
    os.remove(downloads / name)
    with pytest.raises(Exception) as error:
        consume(load("paired", downloads, streaming=streaming))
    message = chain(error.value)
    assert f"Could not download {name} from https://raw.githubusercontent.com/" in message
    assert f"Place {name} in data_dir" in message


@MODES
@pytest.mark.parametrize("config", ["paired", "paired_annotations"])
def test_a_split_whose_matching_file_is_unavailable_is_left_out_and_asking_for_it_says_why(
    load, downloads, streaming, config, caplog
):
    os.remove(downloads / "train_matching.txt")  # offline: not downloadable either
    with caplog.at_level(logging.WARNING):
        paired = consume(load(config, downloads, streaming=streaming))
    _, _, pairs = sample.sample_annotations()
    assert sorted(paired) == ["test", "validation"]
    assert [len(paired["validation"]), len(paired["test"])] == [len(pairs["val"]), len(pairs["test"])]
    assert (
        f"The train split of {config} is left out: Could not download train_matching.txt from "
        "https://raw.githubusercontent.com/linkAmy/IMEMNet/master/train_matching.txt" in caplog.text
    )
    assert "Place train_matching.txt in data_dir" in caplog.text
    with pytest.raises(ValueError) as error:
        load(config, downloads, split="train", streaming=streaming)
    assert (
        f"The 'train' split of {config} is absent: its annotation file train_matching.txt was neither in data_dir"
        in str(error.value)
    )
    assert (
        "Put train_matching.txt in data_dir (at any depth) and load again. The splits there are: test, validation."
        in str(error.value)
    )


@MODES
def test_with_no_matching_file_at_all_the_error_stays(load, downloads, streaming):
    for name in ("train_matching.txt", "val_matching.txt", "test_matching.txt"):
        os.remove(downloads / name)
    with pytest.raises(ConnectionError, match="Could not download train_matching.txt"):
        load("paired", downloads, streaming=streaming)


def test_annotation_files_are_found_at_any_depth(load, downloads):
    os.makedirs(downloads / "IMEMNet-C")
    for name in ("image_va.csv", "music_va.csv"):
        shutil.move(downloads / name, downloads / "IMEMNet-C" / name)
    assert load("image", downloads)["train"].num_rows == 16


@MODES
def test_ids_stay_strings_as_written_and_columns_match_by_name_in_any_case(load, downloads, streaming):
    write(
        downloads / "image_va.csv",
        "\ufeffimage,Arousal,VALENCE\r\n"  # a BOM, CRLF, another order, another case, no index column
        "1001,0.25,0.75\r\n"
        "01002,0.5,0.5\r\n",
    )
    shutil.copy(downloads / "IAPS 1-20 Images" / "1002.JPG", downloads / "IAPS 1-20 Images" / "01002.JPG")
    rows = consume(load("image", downloads, streaming=streaming))["train"]
    assert sorted((e["image_id"], e["valence"], e["arousal"]) for e in rows) == [
        ("01002", 0.5, 0.5),
        ("1001", 0.75, 0.25),
    ]


@pytest.mark.parametrize(
    "name,text,expected",
    [
        ("image_va.csv", "", "image_va.csv is empty"),
        ("image_va.csv", ",img,valence,arousal\r\n", "image_va.csv has a header but no rows"),
        ("val_matching.txt", "\n\n", "val_matching.txt holds no pairs"),
        ("image_va.csv", ",img,val,arousal\n0,1001,0.5,0.5\n", "lacks valence"),
        ("image_va.csv", ",img,valence,arousal\n0,1001,,0.5\n", "line 2: valence is '', expected a number in [0, 1]"),
        ("image_va.csv", ",img,valence\n0,1001,0.5\n", "lacks arousal"),
        ("music_va.csv", ",clip,valence,arousal,text\n0,3001-9,0.5,0.5,calm\n", "lacks caption"),
        (
            "image_va.csv",
            ",img,valence,arousal\n0,1001,0.5,0.5\n1,1002,high,0.5\n",
            "line 3: valence is 'high', expected a number in [0, 1]",
        ),
        (
            "image_va.csv",
            ",img,valence,arousal\n0,1001,0.5,1.5\n",
            "line 2: arousal is 1.5, expected a number in [0, 1]",
        ),
        ("val_matching.txt", "3001-9 1001 0.5\n3001-9 1001\n", "line 2: 2 fields, expected 3"),
        ("val_matching.txt", "3001-9 1001 0.5\n\n3001-9 1001 strong\n", "line 3: matching_score is 'strong'"),
        (  # an unquoted comma in a caption
            "music_va.csv",
            ",clip,valence,arousal,caption\n0,3001-9,0.5,0.5,calm\n1,3001-10,0.5,0.5,calm, then bright\n",
            "line 3: 6 fields, expected 5 as in the header. A field holding a comma (a caption, say) must be quoted",
        ),
        ("image_va.csv", "valence,arousal\n0.5,0.5\n", "lacks an id column"),
        ("image_va.csv", "valence,img,arousal\n0.5,1001,0.5\n", "lacks an id column"),
        ("music_va.csv", ",Caption,clip,valence,arousal\n0,calm,3001-9,0.5,0.5\n", "lacks an id column"),
    ],
)
@MODES
def test_malformed_annotations_are_named_with_file_and_line(
    load, downloads, name, text, expected, streaming, prepared_splits
):
    write(downloads / name, text)
    with pytest.raises(ValueError) as error:
        load("paired", downloads, streaming=streaming)  # the load call itself: streamed, before any iteration
    assert str(downloads / name) in str(error.value) and expected in str(error.value)
    assert prepared_splits == []  # prepared: before any split is written


@MODES
def test_blank_lines_and_crlf_in_matching_files_are_ignored(load, downloads, streaming):
    lines = (downloads / "val_matching.txt").read_text().splitlines()
    write(downloads / "val_matching.txt", "\r\n".join(["", *lines[:3], "   ", "", *lines[3:], "", ""]))
    assert len(consume(load("paired", downloads, streaming=streaming))["validation"]) == len(lines)


SPREADSHEET_ENCODINGS = {  # as a spreadsheet re-saves a file: the bytes named, and the encoding to convert from
    "cp1252": ("0x97", "WINDOWS-1252"),  # the em dash
    "latin-1": ("0xe9", "WINDOWS-1252"),  # é (Latin-1 has no em dash)
    "utf-16": ("ff fe", "UTF-16"),  # with its byte-order mark
}
ON_LINE_2 = {"music_va.csv": "A calm piano piece", "image_va.csv": "0,1001", "val_matching.txt": "3004-21 5301"}


@MODES
@pytest.mark.parametrize("encoding", SPREADSHEET_ENCODINGS)
@pytest.mark.parametrize("name", ON_LINE_2)
def test_an_annotation_file_in_another_encoding_names_file_line_byte_and_how_to_resave_it(
    load, downloads, name, encoding, streaming, prepared_splits
):
    accented = " calme — café" if encoding == "cp1252" else " café"
    text = (downloads / name).read_text(encoding="utf-8").replace(ON_LINE_2[name], ON_LINE_2[name] + accented, 1)
    (downloads / name).write_bytes(text.replace("\n", "\r\n").encode(encoding, errors="replace"))
    named, convert_from = SPREADSHEET_ENCODINGS[encoding]
    with pytest.raises(ValueError) as error:
        consume(load("paired", downloads, streaming=streaming))
    message = str(error.value)
    assert str(downloads / name) in message and f"line {1 if encoding == 'utf-16' else 2}:" in message
    assert named in message and ("UTF-16" in message if encoding == "utf-16" else "is not UTF-8" in message)
    assert "Re-save it as UTF-8" in message and f"iconv -f {convert_from} -t UTF-8" in message
    assert prepared_splits == []


@MODES
@pytest.mark.parametrize("bom", [False, True], ids=["no BOM", "BOM"])
@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_utf8_with_or_without_a_bom_and_with_crlf_loads_unchanged_captions_intact(
    load, downloads, bom, line_end, streaming
):
    path = downloads / "music_va.csv"  # rewritten as a spreadsheet saves it: a row per line end, in-cell breaks kept
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    rows[1][-1] = rows[1][-1].replace("A calm piano piece", "Café — 明るい")
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        csv.writer(f, lineterminator=line_end).writerows(rows)
    expected = [row[-1] for row in rows[1:]]
    captions = [e["caption"] for e in consume(load("music_annotations", downloads, streaming=streaming))["train"]]
    assert captions == expected and "Café — 明るい" in captions[0]
