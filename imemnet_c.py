"""IMEMNet-C: images, music clips and music captions in valence-arousal space (MMVA, AAAI 2025)."""

import bz2
import collections
import csv
import dataclasses
import errno
import gzip
import hashlib
import io
import lzma
import os
import re
import shutil
import tarfile
import tempfile
import wave
import zipfile
import zlib
from typing import NamedTuple

import datasets
import numpy
import PIL.Image
import soundfile

_CITATION = """\
@article{choi2025mmva,
  title   = {{MMVA}: Multimodal Matching Based on Valence and Arousal across Images, Music, and Musical Captions},
  author  = {Choi, Suhwan and Kim, Kyu Won and Kang, Myungjoo},
  journal = {arXiv preprint arXiv:2501.01094},
  note    = {AI for Music workshop at AAAI 2025},
  year    = {2025}
}
@inproceedings{zhao2020imemnet,
  title     = {Emotion-Based End-to-End Matching Between Image and Music in Valence-Arousal Space},
  author    = {Zhao, Sicheng and Li, Yaxian and Yao, Xingxu and Nie, Weizhi and Xu, Pengfei and Yang, Jufeng and Keutzer, Kurt},
  booktitle = {Proceedings of the 28th ACM International Conference on Multimedia},
  year      = {2020},
  note      = {arXiv:2009.05103}
}
"""

_DESCRIPTION = """\
IMEMNet-C pairs about 25K images (IAPS, NAPS, EMOTIC) with about 26K music clips (DEAM, as cut by
IMEMNet), each clip with an English caption, and every image and clip with valence and arousal in
[0, 1]. IMEMNet's matching files pair clips with images and give each pair a matching score. Only
the annotations are public: the media are downloaded by each user, with permission, from their
sources, and read from `data_dir`.
"""

_HOMEPAGE = "https://github.com/schoi828/IMEMNet-C"

_LICENSE = (
    "Annotations: as published by IMEMNet-C and IMEMNet. Media: the licence of each source dataset "
    "(IAPS, NAPS and EMOTIC on request for non-commercial research; DEAM under Creative Commons)."
)

_ANNOTATION_URLS = {
    "image_va.csv": "https://raw.githubusercontent.com/schoi828/IMEMNet-C/main/image_va.csv",
    "music_va.csv": "https://raw.githubusercontent.com/schoi828/IMEMNet-C/main/music_va.csv",
    "train_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/master/train_matching.txt",
    "val_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/master/val_matching.txt",
    "test_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/master/test_matching.txt",
}

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
IMEMNet-C publishes annotations only. Put the media you obtained from each source, as they arrived
(zip, tar, tar.gz or extracted folders, nested at any depth), into one folder:
  1. Music: IMEMNet's clips (`<song>-<segment>.wav`, https://github.com/linkAmy/IMEMNet), cut
     from DEAM (https://cvml.unige.ch/databases/DEAM/).
  2. IAPS: request it from CSEA, University of Florida (https://csea.phhp.ufl.edu/media.html).
  3. NAPS: request it from the Nencki Institute (https://lobi.nencki.edu.pl/research/8/);
     IMEMNet-C uses the 510 pictures of its NAPS BE subset.
  4. EMOTIC: request it from its authors (https://github.com/rkosti/emotic).
Optionally add the annotation files (image_va.csv, music_va.csv, {train,val,test}_matching.txt);
any that are absent are downloaded from GitHub. Then:
  load_dataset("imemnet_c.py", "paired", data_dir="/path/to/that/folder", trust_remote_code=True)
"""

_MISSING_MEDIA_CHOICES = ("error", "skip")

logger = datasets.logging.get_logger(__name__)


class _Modality(NamedTuple):
    name: str
    extensions: tuple
    sources: str  # what to download when files are missing


_IMAGES = _Modality("image", (".jpg", ".jpeg", ".png"), "IAPS, NAPS and EMOTIC")
_AUDIO = _Modality("audio", (".wav", ".flac", ".mp3"), "IMEMNet's DEAM clips")

_ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")

# What media the rows of each annotation table need: {modality: the row field holding the id}.
_MEDIA_IDS = {"images": {_IMAGES: "id"}, "clips": {_AUDIO: "id"}, "pairs": {_AUDIO: "clip_id", _IMAGES: "image_id"}}


@dataclasses.dataclass
class ImemnetCConfig(datasets.BuilderConfig):
    """One IMEMNet-C config: its features and, per split, the annotation file behind each input.

    `splits` maps a split name to `{argument: annotation file}`, where the argument (`images`,
    `clips` or `pairs`) says how the file is parsed and what the config's generator receives.
    `missing_media` is the user's choice for annotated items whose media file is missing from
    `data_dir` or unreadable: `"error"` (default) or `"skip"` (leave those examples out, counted in
    a warning). `rows_per_shard` sets how finely the work is split for `num_proc` and for streaming
    workers (a streamed compressed tar, read in one pass, is always one shard).
    """

    features: datasets.Features | None = None
    splits: dict | None = None
    missing_media: str = "error"
    rows_per_shard: int = 2000

    @property
    def modalities(self):
        """The media this config needs: its Image and Audio columns."""
        return [modality for modality in (_IMAGES, _AUDIO) if modality.name in self.features]

    @property
    def needs_media(self):
        return bool(self.modalities)


_STRING, _FLOAT = datasets.Value("string"), datasets.Value("float32")
_IMAGE_FEATURES = datasets.Features(
    {"image_id": _STRING, "image": datasets.Image(), "valence": _FLOAT, "arousal": _FLOAT, "source": _STRING}
)
_MUSIC_FEATURES = datasets.Features(
    {
        "clip_id": _STRING,
        "song_id": _STRING,
        "audio": datasets.Audio(),
        "caption": _STRING,
        "valence": _FLOAT,
        "arousal": _FLOAT,
    }
)
_PAIRED_FEATURES = datasets.Features(
    {
        "clip_id": _STRING,
        "image_id": _STRING,
        "audio": datasets.Audio(),
        "image": datasets.Image(),
        "caption": _STRING,
        "music_valence": _FLOAT,
        "music_arousal": _FLOAT,
        "image_valence": _FLOAT,
        "image_arousal": _FLOAT,
        "matching_score": _FLOAT,
    }
)
_PAIRED_SPLITS = {
    split: {"pairs": matching_file, "images": "image_va.csv", "clips": "music_va.csv"}
    for split, matching_file in {
        "train": "train_matching.txt",
        "validation": "val_matching.txt",
        "test": "test_matching.txt",
    }.items()
}


def without_media(features):
    """The features without their Image and Audio columns: what the annotation files alone give."""
    return datasets.Features(
        {name: f for name, f in features.items() if not isinstance(f, (datasets.Image, datasets.Audio))}
    )


class ImemnetC(datasets.GeneratorBasedBuilder):
    """IMEMNet-C images, music clips with captions, and their pairs, with valence and arousal."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = ImemnetCConfig
    DEFAULT_CONFIG_NAME = "image"
    BUILDER_CONFIGS = [
        ImemnetCConfig(
            name="image",
            description="One example per row of image_va.csv: the image and its valence and arousal.",
            features=_IMAGE_FEATURES,
            splits={"train": {"images": "image_va.csv"}},
        ),
        ImemnetCConfig(
            name="music",
            description="One example per row of music_va.csv: the clip, its caption, valence and arousal.",
            features=_MUSIC_FEATURES,
            splits={"train": {"clips": "music_va.csv"}},
        ),
        ImemnetCConfig(
            name="paired",
            description="One example per line of IMEMNet's matching files: a clip, an image and their score.",
            features=_PAIRED_FEATURES,
            splits=_PAIRED_SPLITS,
        ),
    ]
    BUILDER_CONFIGS += [  # each config again without its Image and Audio columns: no licensed media needed
        ImemnetCConfig(
            name=f"{config.name}_annotations",
            description=f"The {config.name} config without media, from the annotation files alone.",
            features=without_media(config.features),
            splits=config.splits,
        )
        for config in BUILDER_CONFIGS
    ]

    @property
    def manual_download_instructions(self):
        return _MANUAL_DOWNLOAD_INSTRUCTIONS if self.config.needs_media else None

    def _info(self):
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=self.config.features,
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        if self.config.missing_media not in _MISSING_MEDIA_CHOICES:
            raise ValueError(f"missing_media={self.config.missing_media!r}: expected one of {_MISSING_MEDIA_CHOICES}.")
        data_dir = self._checked_data_dir()
        found = sorted(dl_manager.iter_files(data_dir)) if data_dir else []
        annotations = _AnnotationFiles(found, dl_manager)
        media = (
            _Media(found, dl_manager, self._cache_dir_root, self.config.modalities) if self.config.needs_media else None
        )
        split_generators = []
        for split, inputs in self.config.splits.items():
            (argument, table), *lookups = ((arg, annotations.read(arg, name)) for arg, name in inputs.items())
            if media:
                rows = self._rows_with_media(table, _MEDIA_IDS[argument], media)
                gen_kwargs = {"shards": media.shards(rows, self.config.rows_per_shard), "media": media}
            else:
                gen_kwargs = {"shards": _chunks(table.rows, self.config.rows_per_shard)}
            split_generators.append(datasets.SplitGenerator(name=split, gen_kwargs={**gen_kwargs, **dict(lookups)}))
        return split_generators

    def _generate_examples(self, **inputs):
        return getattr(self, f"_generate_{self.config.name}")(**inputs)

    def _generate_image(self, shards, media):
        for row, files in media.read(shards, skip_unreadable=self._skips_bad_media):
            yield row.key, {**_image_fields(row), **files}

    def _generate_music(self, shards, media):
        for row, files in media.read(shards, skip_unreadable=self._skips_bad_media):
            yield row.key, {**_music_fields(row), **files}

    def _generate_paired(self, shards, media, images, clips):
        image_rows, clip_rows = images.first_row_per_id(), clips.first_row_per_id()
        for pair, files in media.read(shards, skip_unreadable=self._skips_bad_media):
            yield pair.key, {**_paired_fields(pair, clip_rows, image_rows), **files}

    def _generate_image_annotations(self, shards):
        for shard in shards:
            for row in shard.rows:
                yield row.key, _image_fields(row)

    def _generate_music_annotations(self, shards):
        for shard in shards:
            for row in shard.rows:
                yield row.key, _music_fields(row)

    def _generate_paired_annotations(self, shards, images, clips):
        image_rows, clip_rows = images.first_row_per_id(), clips.first_row_per_id()
        for shard in shards:
            for pair in shard.rows:
                yield pair.key, _paired_fields(pair, clip_rows, image_rows)

    @property
    def _skips_bad_media(self):
        return self.config.missing_media == "skip"

    def _rows_with_media(self, table, id_fields, media):
        """(row, {modality: location}) for each row whose media files are all in data_dir; the others
        are an error, before anything is generated, or with missing_media="skip" left out and counted."""
        located, missing = [], {modality: set() for modality in id_fields}
        for row in table.rows:
            where = {
                modality: media.locations[modality].get(getattr(row, field)) for modality, field in id_fields.items()
            }
            for modality, location in where.items():
                if location is None:
                    missing[modality].add(getattr(row, id_fields[modality]))
            if all(where.values()):
                located.append((row, where))
        if not any(missing.values()):
            return located
        if self._skips_bad_media:
            logger.warning(
                f"missing_media='skip': left out {len(table.rows) - len(located)} examples of {table.name} whose media are missing."
            )
            return located
        raise FileNotFoundError(
            f"Media files named in {table.name} are missing from data_dir={self.config.data_dir} "
            f"(searched {media.searched}):\n"
            + "".join(_describe_missing(modality, sorted(ids)) for modality, ids in missing.items() if ids)
            + 'Add the missing downloads to data_dir (see the dataset card), or pass missing_media="skip" '
            "to leave out the examples whose media are missing."
        )

    def _checked_data_dir(self):
        """The absolute data_dir; None only for configs that need no media."""
        if self.config.data_dir is None:
            if not self.config.needs_media:
                return None
            raise datasets.exceptions.ManualDownloadError(
                f"The IMEMNet-C config {self.config.name!r} needs the media you downloaded, passed as data_dir.\n"
                + _MANUAL_DOWNLOAD_INSTRUCTIONS
            )
        data_dir = os.path.abspath(os.path.expanduser(self.config.data_dir))
        if not os.path.isdir(data_dir):
            raise FileNotFoundError(
                f"data_dir={self.config.data_dir} is not a folder. Pass the folder that holds your downloads.\n"
                + _MANUAL_DOWNLOAD_INSTRUCTIONS
            )
        return data_dir


def load(config_name="image", data_dir=None, *, split=None, streaming=False, cache_dir=None, num_proc=None, **options):
    """What `load_dataset("imemnet_c.py", config_name, data_dir=..., ...)` returns, on every
    `datasets` version: releases before 4 run this file as a loading script; 4 and newer refuse
    scripts, so the builder class is run directly (same configs, options, errors and content).

    `options` are config fields (`missing_media="skip"`, `rows_per_shard`); `split`, `streaming`
    and `num_proc` (processes preparing the shards) as in `load_dataset`.
    """
    if data_dir is not None:  # the cache is named after data_dir: make it the same from any working folder
        data_dir = os.path.abspath(os.path.expanduser(data_dir))
    if _DATASETS_RUNS_SCRIPTS:
        return datasets.load_dataset(
            __file__,
            config_name,
            data_dir=data_dir,
            split=split,
            streaming=streaming,
            cache_dir=cache_dir,
            num_proc=num_proc,
            trust_remote_code=True,
            **options,
        )
    with open(__file__, "rb") as script:  # like load_dataset: a changed script gets a new cache
        script_hash = hashlib.sha256(script.read()).hexdigest()
    builder = ImemnetC(config_name=config_name, data_dir=data_dir, cache_dir=cache_dir, hash=script_hash, **options)
    if streaming:
        return builder.as_streaming_dataset(split=split)
    builder.download_and_prepare(num_proc=num_proc)
    return builder.as_dataset(split=split)


_DATASETS_RUNS_SCRIPTS = int(datasets.__version__.split(".")[0]) < 4


def _image_fields(row):
    return {"image_id": row.id, "valence": row.valence, "arousal": row.arousal, "source": _image_source(row.id)}


def _music_fields(row):
    return {
        "clip_id": row.id,
        "song_id": row.id.partition("-")[0],
        "caption": row.caption,
        "valence": row.valence,
        "arousal": row.arousal,
    }


def _paired_fields(pair, clip_rows, image_rows):
    """A pair's fields but its media; VA and caption are null where an id has no annotation row."""
    clip, image = clip_rows.get(pair.clip_id, _NO_ROW), image_rows.get(pair.image_id, _NO_ROW)
    return {
        "clip_id": pair.clip_id,
        "image_id": pair.image_id,
        "caption": clip.caption,
        "music_valence": clip.valence,
        "music_arousal": clip.arousal,
        "image_valence": image.valence,
        "image_arousal": image.arousal,
        "matching_score": pair.score,
    }


# Annotations


class _Row(NamedTuple):
    key: int
    id: str
    valence: float
    arousal: float
    caption: str | None = None


class _Pair(NamedTuple):
    key: int
    clip_id: str
    image_id: str
    score: float


class _Table(NamedTuple):
    name: str  # where it was read from, for messages
    rows: tuple

    def first_row_per_id(self):
        """{id: its first row}: where an id repeats, the pairs take its first row."""
        first = {}
        for row in self.rows:
            first.setdefault(row.id, row)
        return first


_NO_ROW = _Row(key=-1, id="", valence=None, arousal=None, caption=None)


class _AnnotationFiles:
    """The annotation files: the user's copy in data_dir if there is one, else the published one."""

    def __init__(self, found, dl_manager):
        self._local = {}
        for path in sorted(found, key=lambda p: (p.count(os.sep), p)):
            self._local.setdefault(os.path.basename(path), path)
        self._dl_manager = dl_manager
        self._tables = {}

    def read(self, argument, name):
        if name not in self._tables:
            self._tables[name] = self._parse(_PARSERS[argument], name)
        return self._tables[name]

    def _parse(self, parser, name):
        if name in self._local:
            return parser(self._local[name])
        url = _ANNOTATION_URLS[name]
        try:
            return parser(self._dl_manager.download(url))
        except (OSError, ImportError) as error:  # ImportError: datasets 5 without fsspec's http extra
            raise ConnectionError(
                f"Could not download {name} from {url} ({type(error).__name__}: {error}). "
                f"Place {name} in data_dir to use it instead of downloading it."
            ) from error


def _read_va_table(path, with_caption):
    """Rows of image_va.csv or music_va.csv: the first named column is the id; valence, arousal
    (and caption) are found by name, case-insensitively; ids stay strings exactly as written."""
    name = os.path.basename(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path} is empty: expected a header with an id column, valence and arousal.")
        columns = {cell.strip().lower(): i for i, cell in reversed(list(enumerate(header)))}  # first of a name wins
        wanted = ("valence", "arousal", "caption") if with_caption else ("valence", "arousal")
        absent = [column for column in wanted if column not in columns]
        named = [i for i, cell in enumerate(header) if cell.strip()]
        if absent or not named:
            raise ValueError(
                f"{path}: header {header} lacks {', '.join(absent) or 'an id column'}; expected an id column "
                f"followed by {', '.join(wanted)} (any case). Fix the header or use the published {name}."
            )
        id_column = named[0]
        rows, line = [], reader.line_num
        for cells in reader:
            row_line, line = line + 1, reader.line_num
            if not cells:
                continue
            if len(cells) < len(header):
                raise ValueError(
                    f"{path}, line {row_line}: {len(cells)} fields, expected {len(header)} as in the header."
                )
            rows.append(
                _Row(
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
    return _Table(name=name, rows=tuple(rows))


def _read_pairs(path):
    """Lines `music_clip_id image_id matching_score` of IMEMNet's matching files; blank lines are ignored."""
    rows = []
    with open(path, encoding="utf-8-sig") as f:
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
                _Pair(
                    key=line_number,
                    clip_id=clip_id,
                    image_id=image_id,
                    score=_unit_interval_value(score, path, line_number, "matching_score"),
                )
            )
    if not rows:
        raise ValueError(f"{path} holds no pairs: expected lines `music_clip_id image_id matching_score`.")
    return _Table(name=os.path.basename(path), rows=tuple(rows))


_PARSERS = {
    "images": lambda path: _read_va_table(path, with_caption=False),
    "clips": lambda path: _read_va_table(path, with_caption=True),
    "pairs": _read_pairs,
}


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


def _image_source(image_id):
    """`iaps`, `naps` or `emotic`, from the id pattern (IAPS ids are numbers, NAPS ids `Category_001_h`)."""
    if re.fullmatch(r"\d+(\.\d+)?", image_id):
        return "iaps"
    if re.fullmatch(r"[A-Za-z]+_\d+_[hv]", image_id):
        return "naps"
    return "emotic"


def _describe_missing(modality, ids):
    if modality == _IMAGES:
        by_source = collections.defaultdict(list)
        for media_id in ids:
            by_source[_image_source(media_id)].append(media_id)
    else:
        by_source = {"deam": ids}
    return (
        "".join(
            f"  {len(source_ids)} {source} {modality.name} files, e.g. {', '.join(source_ids[:5])}\n"
            for source, source_ids in sorted(by_source.items())
        )
        + f"  (looked for <id>{'/'.join(modality.extensions)} in any case, from {modality.sources})\n"
    )


# Media


class _Location(NamedTuple):
    container: str  # a loose file, or the archive holding the member
    member: str | None  # the member's name in the archive; None for a loose file
    size: int
    offset: int | None = None  # where the member lies in its archive (tar: its data, in the uncompressed tar)


class _Shard(NamedTuple):
    rows: tuple  # rows, or (row, {modality: location}) where media are needed
    archive: str | None = None  # the compressed tar a streamed image or music shard reads in one pass


def _only(where):
    (location,) = where.values()
    return location


def _chunks(rows, size):
    return [_Shard(tuple(rows[start : start + size])) for start in range(0, len(rows), size)] or [_Shard(())]


def _media_id(path, modality):
    """The id a media file stands for (its name without extension), or None if it is not one."""
    parts = re.split(r"[\\/]", path)
    if any(part.startswith("__MACOSX") for part in parts) or parts[-1].startswith((".", "__")):
        return None
    stem, extension = os.path.splitext(parts[-1])
    return stem if extension.lower() in modality.extensions else None


class _Media:
    """Where each media file of data_dir lies, by modality and id, found before anything is
    generated. Prepared, archives are extracted into the datasets cache (an interrupted extraction
    is redone) and every location is a local file; streaming, archive members are read in place."""

    def __init__(self, found, dl_manager, scratch_dir, modalities):
        self.streaming = dl_manager.is_streaming
        self.scratch_dir = scratch_dir
        self.locations = {modality: {} for modality in modalities}
        archives = [path for path in found if path.lower().endswith(_ARCHIVE_EXTENSIONS)]
        loose = [path for path in found if not path.lower().endswith(_ARCHIVE_EXTENSIONS)]
        self.searched = f"{len(loose)} files" + (
            f" and the archives {', '.join(map(os.path.basename, archives))}" if archives else ""
        )
        for path in loose:
            self._add(_Location(path, None, os.path.getsize(path)))
        self.archives = {}
        self.compressed_tars = {path for path in archives if _compression(path)}
        for archive in archives:
            members = _archive_members(archive)
            if not any(_media_id(member.member, modality) for member in members for modality in modalities):
                continue  # nothing this config needs: not worth extracting
            if self.streaming:
                if archive in self.compressed_tars:  # read in one pass (the others by random access)
                    self.archives[archive] = dl_manager.iter_archive(archive)
                for member in members:
                    self._add(member)
            else:
                root = _extracted(archive, members, dl_manager)
                for member in members:
                    self._add(_Location(os.path.join(root, member.member), None, member.size))

    def _add(self, location):
        for modality, located in self.locations.items():
            media_id = _media_id(location.member or location.container, modality)
            if media_id is None:
                continue
            first = located.setdefault(media_id, location)
            if first.size != location.size:  # an archive beside its own extraction holds equal copies
                logger.warning(
                    f"Two different {modality.name} files for {media_id}: {_describe(first)} and {_describe(location)}; "
                    f"using the first (data_dir's folders in name order, then archives, each in its own order)."
                )

    def shards(self, located, rows_per_shard):
        """Rows in chunks; streaming image or music rows of an archive in runs of neighbouring
        members, each read front to back (a compressed tar, which has no random access: one pass)."""
        by_archive = collections.defaultdict(list)
        for row, where in located:
            (location,) = where.values() if len(where) == 1 and self.streaming else (None,)
            by_archive[location.container if location and location.member else None].append((row, where))
        shards = _chunks(by_archive.pop(None, []), rows_per_shard)
        for archive, rows in by_archive.items():
            if archive in self.compressed_tars:
                shards.append(_Shard(tuple(rows), archive))
            else:
                shards += _chunks(sorted(rows, key=lambda row_where: _only(row_where[1]).offset), rows_per_shard)
        return [shard for shard in shards if shard.rows] or [_Shard(())]

    def read(self, shards, skip_unreadable):
        """(row, {modality name: file}) for every row of the shards whose media files are readable."""
        skipped, checked = 0, {}  # each file's problem, by path: pairs share their clips and pictures

        def problem(modality, file):
            if file["path"] not in checked:
                checked[file["path"]] = _media_problem(file, modality)
            return checked[file["path"]]

        with _RandomAccess(self.scratch_dir) as random_access:
            for shard in shards:
                pairs = self._read_in_one_pass(shard) if shard.archive else random_access.read_rows(shard.rows)
                for row, files in pairs:
                    problems = [problem(modality, file) for modality, file in files]
                    if any(problems):
                        if not skip_unreadable:
                            raise ValueError(next(p for p in problems if p) + _UNREADABLE_ADVICE)
                        skipped += 1
                        continue
                    yield row, {modality.name: file for modality, file in files}
        if skipped:
            logger.warning(f"missing_media='skip': left out {skipped} examples whose media files are unreadable.")

    def _read_in_one_pass(self, shard):
        wanted = collections.defaultdict(list)
        for row, where in shard.rows:
            ((modality, location),) = where.items()
            wanted[location.member].append(row)
        for member, f in self.archives[shard.archive]:
            if member in wanted:
                file = {"path": member, "bytes": f.read()}
                for row in wanted.pop(member):
                    yield row, [(modality, file)]
        if wanted:
            raise FileNotFoundError(
                f"{shard.archive} no longer holds {', '.join(list(wanted)[:5])}: it changed while being read. Load again."
            )


_UNREADABLE_ADVICE = ' Replace it with a good copy (download it again), or pass missing_media="skip" to leave it out.'


def _describe(location):
    return f"{location.member} in {location.container}" if location.member else location.container


def _archive_members(path):
    """The regular files of a zip or tar archive, as locations; names that would land outside the
    extraction (absolute, `..`) and archives inside the archive are left out with a warning."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                entries = [(i.filename, i.file_size, i.header_offset) for i in archive.infolist() if not i.is_dir()]
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                entries = [(info.name, info.size, info.offset_data) for info in archive if info.isreg()]
        else:
            raise ValueError("it is neither a zip nor a tar archive")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError) as error:
        raise ValueError(
            f"{path} cannot be read as an archive ({error}). It may be truncated or not an archive despite its name: "
            "download it again, or move it out of data_dir."
        ) from None
    members = []
    for name, size, offset in entries:
        parts = re.split(r"[\\/]", name)
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
            logger.warning(f"{path}: left out the member {name!r}, whose path points outside the archive.")
        elif name.lower().endswith(_ARCHIVE_EXTENSIONS):
            logger.warning(f"{path}: the archive {name!r} inside it is not opened; extract it into data_dir to use it.")
        else:
            members.append(_Location(path, name, size, offset))
    return members


def _extracted(archive, members, dl_manager):
    """The folder `archive` is extracted to in the datasets cache; an extraction that an interrupted
    run left incomplete (datasets would reuse it) is done again."""
    try:
        root = dl_manager.extract(archive)
        if all(os.path.isfile(os.path.join(root, member.member)) for member in members):
            return root
        force_extract = dl_manager.download_config.force_extract
        dl_manager.download_config.force_extract = True
        try:
            return dl_manager.extract(archive)
        finally:
            dl_manager.download_config.force_extract = force_extract
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise OSError(
            errno.ENOSPC,
            f"No space left on device while extracting {archive} into the datasets cache "
            f"({dl_manager.download_config.cache_dir or datasets.config.HF_DATASETS_CACHE}). Free some space there, "
            "or pass cache_dir=<a folder on a larger disk>; the next run redoes the extraction.",
        ) from error


def _media_problem(file, modality):
    """What makes a media file unusable (empty, not an image or audio file, truncated), or None,
    from its header and its last bytes only: JPEG, PNG and PCM WAV by their markers, anything else
    by Pillow or libsndfile. A readable file in another format than its extension says is fine:
    decoders go by content."""
    where = f"{file['path']} (the {modality.name} of {_media_id(file['path'], modality)})"
    with io.BytesIO(file["bytes"]) if file["bytes"] is not None else open(file["path"], "rb") as stream:
        size = stream.seek(0, io.SEEK_END)
        if not size:
            return f"{where} is empty (0 bytes)."
        stream.seek(max(0, size - 1024))
        tail = stream.read()
        stream.seek(0)
        try:
            return (_image_problem if modality == _IMAGES else _audio_problem)(stream, size, tail, where)
        except (PIL.UnidentifiedImageError, soundfile.LibsndfileError) as error:
            return f"{where} is not a readable {modality.name} file ({type(error).__name__})."
        except (OSError, RuntimeError) as error:  # what Pillow says of a picture cut short in its headers
            return f"{where} is a truncated or damaged {modality.name} file ({error})."


_END_MARKERS = {b"\xff\xd8\xff": ("JPEG", b"\xff\xd9"), b"\x89PNG\r\n\x1a\n": ("PNG", b"IEND")}


def _image_problem(stream, size, tail, where):
    head = stream.read(8)
    picture_format, end = next((known for magic, known in _END_MARKERS.items() if head.startswith(magic)), (None, None))
    if picture_format is None:  # not JPEG or PNG: whatever Pillow can identify
        stream.seek(0)
        PIL.Image.open(stream)
        return None
    return None if end in tail else f"{where} is a truncated {picture_format} (its end marker is missing)."


def _audio_problem(stream, size, tail, where):
    try:  # a PCM WAV: its header says how many frames follow (libsndfile quietly reads fewer)
        with wave.open(stream) as header:
            declared, frame_size = header.getnframes(), header.getsampwidth() * header.getnchannels()
            frames = min(declared, (size - stream.tell()) // frame_size)
    except (wave.Error, EOFError):  # another format, or WAV in another encoding
        stream.seek(0)
        declared, frames = None, soundfile.info(stream).frames
    if frames == 0 or (declared is not None and frames < declared):
        return f"{where} is truncated: {frames} of {declared if declared is not None else 'some'} audio frames."
    return None


class _RandomAccess:
    """Reads media by location without rescanning archives: loose files by path, zip members
    through the zip's directory, tar members at their offset (a compressed tar is first decompressed
    once into an anonymous temporary file in the datasets cache: gzip has no random access)."""

    def __init__(self, scratch_dir):
        self._scratch_dir = scratch_dir
        self._archives = {}
        self._open = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in reversed(self._open):
            handle.close()

    def read_rows(self, rows):
        for row, where in rows:
            yield row, [(modality, self.read(location)) for modality, location in where.items()]

    def read(self, location):
        if location.member is None:
            return {"path": location.container, "bytes": None}
        archive = self._archives.get(location.container) or self._opened(location.container)
        if isinstance(archive, zipfile.ZipFile):
            return {"path": location.member, "bytes": archive.read(location.member)}
        archive.seek(location.offset)
        return {"path": location.member, "bytes": archive.read(location.size)}

    def _opened(self, path):
        if zipfile.is_zipfile(path):
            archive = self._keep(zipfile.ZipFile(path))
        elif decompressor := _compression(path):
            os.makedirs(self._scratch_dir, exist_ok=True)
            archive = self._keep(tempfile.TemporaryFile(dir=self._scratch_dir))
            with decompressor(path) as stream:
                shutil.copyfileobj(stream, archive, 1 << 20)
        else:
            archive = self._keep(open(path, "rb"))
        self._archives[path] = archive
        return archive

    def _keep(self, handle):
        self._open.append(handle)
        return handle


_DECOMPRESSORS = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


def _compression(path):
    """The opener that decompresses a compressed tar, or None for any other file."""
    with open(path, "rb") as f:
        head = f.read(6)
    return next((opener for magic, opener in _DECOMPRESSORS.items() if head.startswith(magic)), None)
