"""The real published annotation files (../shared/reference), with a tiny generated media file
for every id they name: the loader returns every example they describe. Skipped, with the
reason, where the reference folder is absent."""

import collections
import csv
import os

import pytest
from conftest import REFERENCE

from imemnet_c_tools import sample

pytestmark = pytest.mark.skipif(
    not os.path.isdir(REFERENCE), reason=f"the real annotation files are not at {REFERENCE}"
)


def real(name):
    return os.path.join(REFERENCE, name)


def tiny_jpeg():
    return sample.jpeg_bytes("tiny", size=(4, 4))


@pytest.fixture(scope="module")
def image_rows():
    with open(real("image_va.csv"), newline="") as f:
        return list(csv.reader(f))[1:]


def test_image_config_over_the_real_image_va_csv(load, tmp_path, image_rows):
    data_dir = tmp_path / "downloads"
    os.makedirs(data_dir)
    os.symlink(real("image_va.csv"), data_dir / "image_va.csv")
    picture = tiny_jpeg()
    ids = sorted({row[1] for row in image_rows})
    sample.write_zip(str(data_dir / "images.zip"), {f"images/{i}.jpg": picture for i in ids})

    train = load("image", data_dir)["train"]
    assert train.num_rows == 24758
    assert len(set(train["image_id"])) == 24744
    assert train["image_id"] == [row[1] for row in image_rows]  # strings as written, in file order
    assert collections.Counter(train["source"]) == {"emotic": 16496 + 4780 + 432 + 1366, "iaps": 1174, "naps": 510}
    repeated = collections.Counter(train["image_id"])
    assert {i: n for i, n in repeated.items() if n > 1} == {
        "2345": 2,
        "2352": 3,
        "2745": 2,
        "2900": 3,
        "3550": 3,
        "4664": 3,
        "6250": 3,
        "6570": 3,
    }
    assert 0.0 <= min(train["valence"]) and max(train["arousal"]) <= 1.0


@pytest.mark.parametrize(
    "split,file_split,lines,absent_images,pairs_without_image_va",
    [("validation", "val", 8795, 45, 356), ("test", "test", 26115, 155, 978)],  # 1,334 pairs in all
)
def test_paired_config_over_the_real_matching_files(
    load, tmp_path, split, file_split, lines, absent_images, pairs_without_image_va
):
    with open(real(f"{file_split}_matching.txt")) as f:
        pairs = [line.split() for line in f if line.strip()]
    clips = sorted({clip for clip, _, _ in pairs})
    images = sorted({image for _, image, _ in pairs})
    data_dir = tmp_path / "downloads"
    os.makedirs(data_dir)
    for name in ("image_va.csv", f"{file_split}_matching.txt"):
        os.symlink(real(name), data_dir / name)
    other = "test" if file_split == "val" else "val"
    sample.write_annotations(  # the two files the reference lacks: generated for these clip ids
        str(data_dir),
        clips=[(c, 0.5, 0.5, f"caption of {c}") for c in clips],
        pairs={"train": pairs[:5], other: pairs[:5]},
    )
    sample.write_zip(str(data_dir / "images.zip"), {f"{i}.jpg": tiny_jpeg() for i in images})
    sample.write_tar(str(data_dir / "clips.tar"), {f"{c}.wav": sample.wav_bytes(c, seconds=0.001) for c in clips})

    loaded = load("paired", data_dir)[split]
    assert loaded.num_rows == lines
    without_va = [e for e in loaded.remove_columns(["image", "audio"]) if e["image_valence"] is None]
    assert len({e["image_id"] for e in without_va}) == absent_images
    assert len(without_va) == pairs_without_image_va
    assert [float(s) for _, _, s in pairs[:100]] == pytest.approx(loaded["matching_score"][:100])
