"""Property tests: arbitrary ids, captions and valence-arousal values survive the annotation
parsing and the loader exactly, and any id is matched to its file whatever the extension's case."""

import csv
import os
import tempfile

import numpy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import imemnet_c
from imemnet_c_tools import sample

# Text a CSV cell can hold: anything but NUL and lone surrogates (commas, quotes, line breaks included).
CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)
# An id that is also a file name: no path separators, not hidden, no surrounding space, and not empty.
FILE_ID = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="/\\\x00"),
    min_size=1,
    max_size=40,
).filter(lambda i: not i.startswith((".", "__")) and i not in (".", ".."))
# An id in a matching file: separated by white space, so it holds none.
PAIR_ID = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\x00"),
    min_size=1,
    max_size=30,
)
UNIT = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
CASES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def float32(value):
    return float(numpy.float32(value))


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])


@CASES
@given(st.lists(st.tuples(CELL, UNIT, UNIT, CELL), min_size=1, max_size=20))
def test_music_va_rows_round_trip_through_the_parser(rows):
    rows = [(f"x{clip}", valence, arousal, caption) for clip, valence, arousal, caption in rows]  # ids: non-empty
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "music_va.csv")
        write_csv(path, ["", "clip", "valence", "arousal", "caption"], [(i, *row) for i, row in enumerate(rows)])
        parsed = imemnet_c.read_va_table(path, with_caption=True).rows
    assert [(r.id, r.valence, r.arousal, r.caption) for r in parsed] == [
        (clip, float32(valence), float32(arousal), caption) for clip, valence, arousal, caption in rows
    ]
    assert [r.key for r in parsed] == list(range(len(rows)))


@CASES
@given(st.lists(st.tuples(PAIR_ID, PAIR_ID, UNIT), min_size=1, max_size=20))
def test_matching_lines_round_trip_through_the_parser(pairs):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "val_matching.txt")
        sample.write_annotations(folder, pairs={"val": [(c, i, repr(s)) for c, i, s in pairs]})
        parsed = imemnet_c.read_pairs(path).rows
    assert [(p.clip_id, p.image_id, p.score) for p in parsed] == [(c, i, float32(s)) for c, i, s in pairs]


@CASES
@given(
    FILE_ID,
    st.sampled_from([".jpg", ".jpeg", ".png"]),
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.text("ab/", max_size=8),
)
def test_any_id_is_matched_to_its_file_whatever_the_extension_case(media_id, extension, upper, folder):
    cased = "".join(c.upper() if u else c for c, u in zip(extension, upper, strict=False))
    path = f"{folder}/{media_id}{cased}".lstrip("/")
    assert imemnet_c.media_file_id(path, imemnet_c.IMAGES) == media_id
    assert imemnet_c.media_file_id(path, imemnet_c.AUDIO) is None


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(FILE_ID, UNIT, UNIT), min_size=1, max_size=6, unique_by=lambda row: row[0].lower()))
@example(rows=[("::", 0.0, 0.0), ("a::b", 1.0, 0.5)])  # "::" chains URLs in datasets' patched open and os.path
def test_arbitrary_ids_and_values_round_trip_through_the_loader_with_their_pictures(load, tmp_path_factory, rows):
    data_dir = tmp_path_factory.mktemp("downloads")
    sample.write_annotations(str(data_dir), images=rows)
    sample.write_zip(
        str(data_dir / "pictures.zip"), {f"p/{image_id}.JPG": sample.jpeg_bytes(image_id) for image_id, _, _ in rows}
    )
    for streaming in (False, True):
        loaded = list(load("image", data_dir, streaming=streaming)["train"])
        got = sorted((e["image_id"], e["valence"], e["arousal"], e["image"].tobytes()) for e in loaded)
        expected = [(i, float32(v), float32(a), _pixels(sample.jpeg_bytes(i))) for i, v, a in rows]
        assert got == sorted(expected)


def _pixels(jpeg):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(jpeg)).tobytes()
