"""IMEMNet-C's annotation layer: where each published annotation file comes from, its parsers, the
rows they give, and the rules read from ids (an image's source, a clip's song)."""

import csv
import functools
import hashlib
import io
import os
import re
from typing import NamedTuple

import numpy

__all__ = [
    "ANNOTATION_URLS",
    "Table",
    "Row",
    "Pair",
    "read_va_table",
    "read_pairs",
    "image_source",
    "song_of",
]  # the public names, which the loading script exports

# Three are pinned to a commit (a newer one gets a prepared cache of its own); music_va.csv and
# train_matching.txt follow their branch until a commit of them is verified (a change there reaches
# a prepared cache only with download_mode="force_redownload").
ANNOTATION_URLS = {
    "image_va.csv": "https://raw.githubusercontent.com/schoi828/IMEMNet-C/450647d45c175d94cbc83cfedd33234855b690a6/image_va.csv",
    "music_va.csv": "https://raw.githubusercontent.com/schoi828/IMEMNet-C/main/music_va.csv",
    "train_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/master/train_matching.txt",
    "val_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/17580fa810d3fac1bb87d3a245ca3548d2d0fb77/val_matching.txt",
    "test_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/17580fa810d3fac1bb87d3a245ca3548d2d0fb77/test_matching.txt",
}


class Row(NamedTuple):
    """A row of image_va.csv or music_va.csv (`caption` for clips only); `key`: its place in the file."""

    key: int
    id: str
    valence: float
    arousal: float
    caption: str | None = None


class Pair(NamedTuple):
    """A line of a matching file; `key`: its line number."""

    key: int
    clip_id: str
    image_id: str
    score: float


class Table(NamedTuple):
    """An annotation file's rows (`Row` or `Pair`), and its name for messages."""

    name: str  # where it was read from, for messages
    rows: tuple

    def first_row_per_id(self):
        """{id: its first row}: where an id repeats, the pairs take its first row."""
        first = {}
        for row in self.rows:
            first.setdefault(row.id, row)
        return first


NO_ROW = Row(key=-1, id="", valence=None, arousal=None, caption=None)


class AnnotationFiles:
    """The annotation files a load reads: the user's copy in data_dir if there is one (the
    shallowest, then first by path, of each name among `paths`, data_dir's files), else the
    published one, downloaded. Each local file is hashed once (`digest`: the cache key and the parse
    share it) and each file parsed once per process and content. `origins` says, per file read,
    where it came from: its path in data_dir, or the URL it was downloaded from."""

    def __init__(self, paths):
        self.local = {}  # {file name: its path in data_dir}
        for path in sorted(paths, key=lambda p: (p.count(os.sep), p)):
            self.local.setdefault(os.path.basename(path), path)
        self.origins = {}
        self._digests, self._downloaded = {}, {}

    def digest(self, name):
        """The sha256 of data_dir's copy of `name`."""
        if name not in self._digests:
            with open(self.local[name], "rb") as f:
                self._digests[name] = hashlib.sha256(f.read()).hexdigest()
        return self._digests[name]

    def read(self, name, parse, download):
        """The `Table` of the file `name`, parsed by `parse(path)`; `download(url)` gives the local
        path of a published file (an error becomes `UnavailableAnnotations`)."""
        if name in self.local:
            self.origins[name] = self.local[name]
            return _parsed(parse, self.local[name], self.digest(name))
        if name in self._downloaded:  # each config of a plan, and each split, reads the lookups again
            return self._downloaded[name]
        url = ANNOTATION_URLS[name]
        try:
            table = parse(download(url))
        except (OSError, ImportError) as error:  # ImportError: datasets 5 without fsspec's http extra
            raise UnavailableAnnotations(
                f"Could not download {name} from {url} ({type(error).__name__}: {error}). "
                f"Place {name} in data_dir to use it instead of downloading it."
            ) from error
        self.origins[name] = url
        self._downloaded[name] = table
        return table


@functools.lru_cache(maxsize=16)
def _parsed(parse, path, content_digest):
    """An annotation file's table, parsed once per process and content: the configs of one check,
    and the epochs of a training run, share it (tables are immutable)."""
    return parse(path)


class UnavailableAnnotations(ConnectionError):
    """An annotation file neither in data_dir nor downloadable."""


_VA_TABLE_COLUMNS = ("valence", "arousal", "caption")  # found by name; the id column is none of them


def read_va_table(path, with_caption):
    """Rows of image_va.csv or music_va.csv: the first named column is the id (an error if it is
    valence, arousal or caption); valence, arousal (and caption) are found by name,
    case-insensitively; ids stay strings exactly as written. Every row has as many fields as the
    header (an unquoted comma in a caption is an error, not a caption cut short)."""
    name = os.path.basename(path)
    with io.StringIO(_text(path), newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path} is empty: expected a header with an id column, valence and arousal.")
        columns = {cell.strip().lower(): i for i, cell in reversed(list(enumerate(header)))}  # first of a name wins
        wanted = _VA_TABLE_COLUMNS if with_caption else _VA_TABLE_COLUMNS[:2]
        absent = [column for column in wanted if column not in columns]
        named = [i for i, cell in enumerate(header) if cell.strip()]
        id_column = named[0] if named else None
        if absent or id_column is None or header[id_column].strip().lower() in _VA_TABLE_COLUMNS:
            raise ValueError(
                f"{path}: header {header} lacks {', '.join(absent) or 'an id column'}; expected an id column "
                f"followed by {', '.join(wanted)} (any case). Fix the header or use the published {name}."
            )
        rows, line = [], reader.line_num
        for cells in reader:
            row_line, line = line + 1, reader.line_num
            if not cells:
                continue
            if len(cells) != len(header):
                raise ValueError(
                    f"{path}, line {row_line}: {len(cells)} fields, expected {len(header)} as in the header. "
                    'A field holding a comma (a caption, say) must be quoted: "calm, then bright".'
                )
            rows.append(
                Row(
                    key=len(rows),
                    id=cells[id_column],
                    valence=_unit_interval_value(cells[columns["valence"]], path, row_line, "valence"),
                    arousal=_unit_interval_value(cells[columns["arousal"]], path, row_line, "arousal"),
                    caption=cells[columns["caption"]] if with_caption else None,
                )
            )
    if not rows:
        raise ValueError(
            f"{path} has a header but no rows: expected one row per {'clip' if with_caption else 'image'}."
        )
    return Table(name=name, rows=tuple(rows))


def read_pairs(path):
    """Lines `music_clip_id image_id matching_score` of IMEMNet's matching files; blank lines are ignored."""
    rows = []
    with io.StringIO(_text(path)) as f:
        for line_number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise ValueError(
                    f"{path}, line {line_number}: {len(fields)} fields, expected 3 "
                    "(music_clip_id image_id matching_score, separated by spaces)."
                )
            clip_id, image_id, score = fields
            rows.append(
                Pair(
                    key=line_number,
                    clip_id=clip_id,
                    image_id=image_id,
                    score=_unit_interval_value(score, path, line_number, "matching_score"),
                )
            )
    if not rows:
        raise ValueError(f"{path} holds no pairs: expected lines `music_clip_id image_id matching_score`.")
    return Table(name=os.path.basename(path), rows=tuple(rows))


def _text(path):
    """An annotation file's text: UTF-8, with or without a byte-order mark. Another encoding (a
    spreadsheet's Windows-1252 or Latin-1, UTF-16) is an error naming the line and byte: a guessed
    encoding could garble a caption."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        line, found, encoding = 1, f"bytes {data[:2].hex(' ')} begin UTF-16 text", "UTF-16"
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            found = f"byte {error.start} of the file, 0x{data[error.start]:02x}, is not UTF-8"
            encoding = "WINDOWS-1252"  # what a spreadsheet saves in, and Latin-1's superset
    published = ANNOTATION_URLS.get(os.path.basename(path))
    raise ValueError(
        f"{path}, line {line}: {found}. Annotation files are UTF-8 text, and this one was saved in another "
        f'encoding ({encoding}, say). Re-save it as UTF-8: in Excel as "CSV UTF-8 (Comma delimited)", in '
        f'LibreOffice as "Text CSV" with the character set "Unicode (UTF-8)", or with `iconv -f {encoding} '
        "-t UTF-8`" + (f"; or use the published file, {published}." if published else ".")
    )


def read_image_table(path):
    """image_va.csv's rows (see `read_va_table`)."""
    return read_va_table(path, with_caption=False)


def read_clip_table(path):
    """music_va.csv's rows, with their captions (see `read_va_table`)."""
    return read_va_table(path, with_caption=True)


def _unit_interval_value(text, path, line, column):
    """A number in [0, 1], as the float32 it is stored as: streamed examples, which on datasets 5
    skip the Arrow cast, then equal prepared ones."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}, line {line}: {column} is {text!r}, expected a number in [0, 1].") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{path}, line {line}: {column} is {value}, expected a number in [0, 1].")
    return float(numpy.float32(value))


def image_source(image_id, emotic_part=False):
    """`iaps`, `naps` or `emotic`, from the id pattern (IAPS ids are numbers, NAPS ids `Category_001_h`);
    with `emotic_part`, EMOTIC's as `emotic/<the part of its download>` (mscoco, framesdb, ade20k,
    emodb_small)."""
    if re.fullmatch(r"\d+(\.\d+)?", image_id):
        return "iaps"
    if re.fullmatch(r"[A-Za-z]+_\d+_[hv]", image_id):
        return "naps"
    if not emotic_part:
        return "emotic"
    return "emotic/" + next(
        (part for prefix, part in _EMOTIC_PARTS.items() if image_id.startswith(prefix)), "emodb_small"
    )


_EMOTIC_PARTS = {"COCO_": "mscoco", "frame_": "framesdb", "sun_": "ade20k", "labelme_": "ade20k"}


def song_of(clip_id):
    """The DEAM song a clip id (`<song>-<segment>`) is a segment of."""
    return clip_id.partition("-")[0]
