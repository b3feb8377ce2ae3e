"""IMEMNet-C: images, music clips and music captions in valence-arousal space (MMVA, AAAI 2025).

The loading script: its constants, the configs as data, the builder, `load` and `make_plan`. Four
sibling modules do the work, each called only from above: imemnet_c_media (what a load reads) reads
the annotation files through imemnet_c_annotations, the downloads through imemnet_c_archives (zip
and tar, listed once), and checks media files through imemnet_c_checks (their kinds and ids, and
whether the decoder a load uses decodes one whole). docs/architecture.md draws them.
"""

import collections
import contextlib
import copy
import dataclasses
import hashlib
import io
import json
import operator
import os
import shutil
import sys
from typing import NamedTuple

import datasets
import pyarrow

if not __package__:  # imported by name (datasets 4 and newer, the tools): be the package of its siblings
    __path__ = [os.path.dirname(os.path.abspath(__file__))]
    __package__ = __name__

from . import imemnet_c_annotations, imemnet_c_archives, imemnet_c_checks, imemnet_c_media
from .imemnet_c_annotations import *
from .imemnet_c_annotations import (
    ANNOTATION_URLS,
    NO_ROW,
    UnavailableAnnotations,
    image_source,
    read_clip_table,
    read_image_table,
    read_pairs,
    song_of,
)
from .imemnet_c_archives import *
from .imemnet_c_checks import *
from .imemnet_c_checks import AUDIO, IMAGES, Modality, audio_backend_problem
from .imemnet_c_media import *
from .imemnet_c_media import batches, chunks, find_in, inputs_digest, make_plans

_SIBLINGS = (imemnet_c_annotations, imemnet_c_media, imemnet_c_checks, imemnet_c_archives)
if __package__ == __name__:  # datasets 2.x and 3.x patch a streamed builder's siblings by their own names
    for _sibling in _SIBLINGS:
        sys.modules.setdefault(_sibling.__name__.rpartition(".")[2], _sibling)

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
any that are absent are downloaded from GitHub. Check the folder (a report per source; each archive
is read once, and the load reuses that), then load:
  imemnet-c check /path/to/that/folder
  load_dataset("imemnet_c.py", "paired", data_dir="/path/to/that/folder", trust_remote_code=True)
  (datasets 4 and newer: imemnet_c.load("paired", data_dir="/path/to/that/folder"))
"""

_MISSING_MEDIA_CHOICES = ("error", "skip")
DATASETS_RUNS_SCRIPTS = int(datasets.__version__.split(".")[0]) < 4  # 4 and newer run the builder class (`load`)
_EXTRACTIONS = "imemnet_c_extractions.json"  # in a prepared dataset: the archive folders its media paths lead into

logger = datasets.logging.get_logger(__name__)

# The public seam: what imemnet_c_tools, the examples and the benchmarks may use, each documented
# where it is defined: this module's names and its siblings' `__all__`. Every name with a leading
# underscore is its module's own and may change.
__all__ = ["ImemnetC", "ImemnetCConfig", "TABLE_KINDS", "load", "make_plan", "DATASETS_RUNS_SCRIPTS"] + [
    name for sibling in _SIBLINGS for name in sibling.__all__
]

_STRING, _FLOAT = datasets.Value("string"), datasets.Value("float32")


class TableKind(NamedTuple):
    """What a kind of annotation table gives: how it is parsed, the media its rows name, the tables
    its rows are joined to, and the columns of its examples. A column is a modality (its media file)
    or (feature, field, optionally a function of the field): the field is the row's, or
    `"<lookup>.<field>"` that of the row it is joined to (VA and caption are null where an id has no
    annotation row)."""

    name: str
    parse: object  # path -> Table
    media: dict  # {modality: the row field holding its id}
    lookups: dict  # {table kind: (its annotation file, the row field holding the id it is joined on)}
    columns: dict  # {column: modality or (feature, field[, function])}


TABLE_KINDS = {
    kind.name: kind
    for kind in [
        TableKind(
            name="images",
            parse=read_image_table,
            media={IMAGES: "id"},
            lookups={},
            columns={
                "image_id": (_STRING, "id"),
                "image": IMAGES,
                "valence": (_FLOAT, "valence"),
                "arousal": (_FLOAT, "arousal"),
                "source": (_STRING, "id", image_source),
            },
        ),
        TableKind(
            name="clips",
            parse=read_clip_table,
            media={AUDIO: "id"},
            lookups={},
            columns={
                "clip_id": (_STRING, "id"),
                "song_id": (_STRING, "id", song_of),
                "audio": AUDIO,
                "caption": (_STRING, "caption"),
                "valence": (_FLOAT, "valence"),
                "arousal": (_FLOAT, "arousal"),
            },
        ),
        TableKind(
            name="pairs",
            parse=read_pairs,
            media={AUDIO: "clip_id", IMAGES: "image_id"},
            lookups={"clips": ("music_va.csv", "clip_id"), "images": ("image_va.csv", "image_id")},
            columns={
                "clip_id": (_STRING, "clip_id"),
                "image_id": (_STRING, "image_id"),
                "audio": AUDIO,
                "image": IMAGES,
                "caption": (_STRING, "clips.caption"),
                "music_valence": (_FLOAT, "clips.valence"),
                "music_arousal": (_FLOAT, "clips.arousal"),
                "image_valence": (_FLOAT, "images.valence"),
                "image_arousal": (_FLOAT, "images.arousal"),
                "matching_score": (_FLOAT, "score"),
            },
        ),
    ]
}
_MEDIA_FEATURES = {IMAGES: datasets.Image, AUDIO: datasets.Audio}

# (name, table kind, {split: the annotation file of its rows}, description); each again as
# <name>_annotations, without its media columns.
_CONFIGS = [
    ("image", "images", {"train": "image_va.csv"}, "One example per row of image_va.csv: the image and its VA."),
    ("music", "clips", {"train": "music_va.csv"}, "One example per row of music_va.csv: the clip, its caption and VA."),
    (
        "paired",
        "pairs",
        {"train": "train_matching.txt", "validation": "val_matching.txt", "test": "test_matching.txt"},
        "One example per line of IMEMNet's matching files: a clip, an image and their matching score.",
    ),
]


@dataclasses.dataclass
class ImemnetCConfig(datasets.BuilderConfig):
    """One IMEMNet-C config: the kind of table its examples come from, and per split its annotation file.

    `media`: whether its examples carry the Image and Audio columns (the `_annotations` configs do
    not). `missing_media` is the user's choice for annotated items whose media file is missing from
    `data_dir` or unreadable: `"error"` (default) or `"skip"` (leave those examples out, counted in
    a warning). `rows_per_shard` sets how finely the work is split for `num_proc` and for streaming
    workers.
    """

    table_kind: str = "images"
    splits: dict | None = None
    media: bool = True
    missing_media: str = "error"
    rows_per_shard: int = 2000

    def create_config_id(self, config_kwargs, custom_features=None):
        """datasets' id and a digest of what a load reads: changed inputs get a prepared cache of
        their own instead of the one made before. data_dir is walked here once, for the key and the plan."""
        config_id = super().create_config_id(config_kwargs, custom_features)
        self.found = find_in(_absolute(self.data_dir))
        return f"{config_id}-{inputs_digest(self.found, self.annotation_files, self.modalities)}"

    @property
    def kind(self):
        return TABLE_KINDS[self.table_kind]

    @property
    def columns(self):
        """{column: (feature, value)} or {column: modality} of its examples, in order."""
        return {name: spec for name, spec in self.kind.columns.items() if self.media or not isinstance(spec, Modality)}

    @property
    def features(self):
        return datasets.Features(
            {
                name: _MEDIA_FEATURES[spec]() if isinstance(spec, Modality) else spec[0]
                for name, spec in self.columns.items()
            }
        )

    @property
    def modalities(self):
        """The media this config needs: its Image and Audio columns."""
        return [spec for spec in self.columns.values() if isinstance(spec, Modality)]

    def inputs(self, split):
        """{table kind: (annotation file, parser)} that make `split`: its own table first, then those
        its rows are joined to."""
        own = {self.kind.name: (self.splits[split], self.kind.parse)}
        return own | {name: (file, TABLE_KINDS[name].parse) for name, (file, _) in self.kind.lookups.items()}

    @property
    def annotation_files(self):
        return sorted({file for split in self.splits for file, _ in self.inputs(split).values()})


def _absolute(data_dir):
    return data_dir and os.path.abspath(os.path.expanduser(data_dir))


@contextlib.contextmanager
def _module_globals_kept(builder_class):
    """Puts the globals of the builder's module and its siblings back as they were. datasets patches
    `open`, `os`, `glob` and more in a builder's modules for streaming whenever a builder is made or
    unpickled, and never undoes it; on datasets 4 and newer those are the imported modules, whose
    plans, checks and pairs would run on the patched functions for the rest of the process."""
    modules = {sys.modules[builder_class.__module__], sys.modules[__name__], *_SIBLINGS}  # a subclass's module too
    kept = [(vars(module), dict(vars(module))) for module in modules]
    try:
        yield
    finally:
        for module_globals, before in kept:
            for name in module_globals.keys() - before.keys():  # `open`, and the flag saying it is patched
                del module_globals[name]
            module_globals.update(before)


class ImemnetC(datasets.ArrowBasedBuilder):
    """IMEMNet-C images, music clips with captions, and their pairs, with valence and arousal."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = ImemnetCConfig
    DEFAULT_CONFIG_NAME = "image"
    BUILDER_CONFIGS = [
        ImemnetCConfig(name=name, description=description, table_kind=kind, splits=splits)
        for name, kind, splits, description in _CONFIGS
    ] + [
        ImemnetCConfig(
            name=f"{name}_annotations",
            description=f"The {name} config without media, from the annotation files alone.",
            table_kind=kind,
            splits=splits,
            media=False,
        )
        for name, kind, splits, _ in _CONFIGS
    ]

    _absent_splits = frozenset()  # the splits left out, once the plan is made
    _split_asked = None  # streaming: the one split asked for, the only one planned

    def __init__(self, *args, **kwargs):
        with _module_globals_kept(type(self)):
            super().__init__(*args, **kwargs)

    def __setstate__(self, state):
        with _module_globals_kept(type(self)):
            super().__setstate__(state)

    @property
    def manual_download_instructions(self):
        return _MANUAL_DOWNLOAD_INSTRUCTIONS if self.config.modalities else None

    def _info(self):
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=self.config.features,
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        if AUDIO in self.config.modalities and (problem := audio_backend_problem()):
            logger.warning(problem)
        download = _annotation_download(dl_manager, self._cache_dir_root)
        splits = None if self._split_asked is None else {self._split_asked}
        extract = not dl_manager.is_streaming
        found = getattr(self.config, "found", None)  # made with the cache key (create_config_id)
        if found is None or found.data_dir != _absolute(self.config.data_dir):  # datasets given a config_id
            found = find_in(_absolute(self.config.data_dir))
        (plan,) = _plans([self.config], found, download, self._cache_dir_root, extract, splits).values()
        self._absent_splits = set(plan.absent)
        if self._split_asked in plan.absent:  # asked alone: say which of the others are there, if any
            available = [split for split in self.config.splits if self._readable(split, found, download)]
            if not available:
                raise plan.absent[self._split_asked]
            self._explain_absent_split(self._split_asked, available)
        if plan.media and plan.media.extracted:
            self._record_extractions(plan.media.archives.values())
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "shards": plan.media.shards(plan.located(split), self.config.rows_per_shard)
                    if plan.media
                    else chunks(plan.rows(split), self.config.rows_per_shard),
                    "lookups": plan.lookups(split),  # made once: {table kind: {id: its first row}}
                    "media": plan.media,
                },
            )
            for split in plan.tables
        ]

    def _readable(self, split, found, download):
        """Whether the split's own annotation file can be had."""
        try:
            found.annotations.read(self.config.splits[split], self.config.kind.parse, download)
            return True
        except UnavailableAnnotations:
            return False

    def _record_extractions(self, archives):
        """A prepared dataset stores its media by path, into the archives' extractions: records which,
        in the dataset (see download_and_prepare) and in each extraction (see Archive.record_reader)."""
        for archive in archives:
            archive.record_reader(self.cache_dir)
        with io.open(os.path.join(self._output_dir, _EXTRACTIONS), "w", encoding="utf-8") as f:  # noqa: UP020
            json.dump(sorted(archive.folder for archive in archives), f)

    def download_and_prepare(self, *args, **kwargs):
        """datasets' prepare, but a prepared dataset is not reused when its extracted media are gone
        (the archive cache deleted to free space: it would point at files that are not), nor when it
        left a split out (its annotation file could not be had: offline, say), so that the split is
        back as soon as its file can be had (downloads and extractions reused)."""
        with contextlib.suppress(FileNotFoundError):
            with io.open(os.path.join(self.cache_dir, _EXTRACTIONS), encoding="utf-8") as f:  # noqa: UP020
                if not all(os.path.isdir(folder) for folder in json.load(f)):
                    shutil.rmtree(self.cache_dir, ignore_errors=True)
        kept, mode = self.info.splits, kwargs.get("download_mode") or datasets.DownloadMode.REUSE_DATASET_IF_EXISTS
        if (
            kept
            and datasets.DownloadMode(mode) == datasets.DownloadMode.REUSE_DATASET_IF_EXISTS
            and self.config.splits.keys() - kept.keys()
        ):
            kwargs["download_mode"] = datasets.DownloadMode.REUSE_CACHE_IF_EXISTS
            self.info.splits = None  # the kept splits, which would be checked against the new ones
        return super().download_and_prepare(*args, **kwargs)

    def as_dataset(self, split=None, *args, **kwargs):
        self._explain_absent_split(split, available=self.info.splits or {})
        return super().as_dataset(split, *args, **kwargs)

    def as_streaming_dataset(self, split=None, *args, **kwargs):
        self._split_asked = str(split) if str(split) in self.config.splits else None  # not "train+test"
        with _module_globals_kept(type(self)):
            datasets.streaming.extend_dataset_builder_for_streaming(self)
            try:
                return super().as_streaming_dataset(split, *args, **kwargs)
            except ValueError:
                self._explain_absent_split(split, available=self.config.splits.keys() - self._absent_splits)
                raise
            finally:
                self._split_asked = None  # a later prepare of this builder plans every split

    def _explain_absent_split(self, split, available):
        """Says why a split the config has is not there, when it is asked for."""
        asked = {part.split("[")[0].strip() for part in split.split("+")} if isinstance(split, str) else set()
        for name in sorted(asked & self.config.splits.keys() - set(available)):
            file = self.config.splits[name]
            raise ValueError(
                f"The {name!r} split of {self.config.name} is absent: its annotation file {file} was neither in "
                f"data_dir nor downloadable from {ANNOTATION_URLS[file]} when the splits were made. Put {file} "
                f"in data_dir (at any depth) and load again. The splits there are: {', '.join(sorted(available))}."
            )

    def _generate_tables(self, shards, lookups, media):
        """The config's examples in small Arrow tables, built column by column from the rows and
        their media files, already in storage form (media as {"path", "bytes"}): no per-example encode
        or cast (datasets 3.6 would cast each streamed example alone, at about 0.4 ms each). A table
        holds rows of one shard; where datasets has `Key` (5 and newer) it says which, and datasets
        records each shard's length (an integer key makes it treat the builder as a legacy one)."""
        schema, columns, joins = self.info.features.arrow_schema, self.config.columns, self.config.kind.lookups
        if media:
            examples = media.read(shards, skip_unreadable=self.config.missing_media == "skip")
        else:
            examples = ((index, row, {}) for index, shard in enumerate(shards) for row in shard)
        tables_of_shard = collections.Counter()
        for shard, batch in batches(examples):
            rows = [row for row, _ in batch]
            joined = {
                name: [lookups[name].get(getattr(row, on), NO_ROW) for row in rows] for name, (_, on) in joins.items()
            }
            table = {
                column: _media_values([files[spec] for _, files in batch], schema.field(column).type)
                if isinstance(spec, Modality)
                else _values(spec, rows, joined)
                for column, spec in columns.items()
            }
            yield (
                _Key(shard, tables_of_shard[shard]) if _Key else rows[0].key,
                pyarrow.Table.from_pydict(table, schema=schema),
            )
            tables_of_shard[shard] += 1


def _values(column, rows, joined):
    """A column's values (see TableKind) for `rows`, given the rows each is `joined` to."""
    _, field, *function = column
    lookup, _, field = field.rpartition(".")
    values = map(operator.attrgetter(field), joined[lookup] if lookup else rows)
    return list(map(function[0], values) if function else values)


def _media_values(files, storage):
    """An Image or Audio column in its `storage` type (a struct of bytes and path) from `Media.file`'s
    dicts: made from its fields' arrays, as pyarrow converts a list of dicts twenty times slower."""
    fields = list(storage)
    return pyarrow.StructArray.from_arrays(
        [pyarrow.array([file[field.name] for file in files], field.type) for field in fields], fields=fields
    )


_Key = getattr(datasets.builder, "Key", None)  # datasets 5 and newer


def _plans(configs, found, download, cache_root, extract, splits=None, unreadable_archives=None, hash_media=False):
    """The configs' plans (`make_plans`) over what was `found` in their data_dir, once the options
    and data_dir are checked."""
    for config in configs:
        if config.missing_media not in _MISSING_MEDIA_CHOICES:
            raise ValueError(f"missing_media={config.missing_media!r}: expected one of {_MISSING_MEDIA_CHOICES}.")
        if config.modalities and config.data_dir is None:
            raise datasets.exceptions.ManualDownloadError(
                f"The IMEMNet-C config {config.name!r} needs the media you downloaded, passed as data_dir.\n"
                + _MANUAL_DOWNLOAD_INSTRUCTIONS
            )
        if config.data_dir is not None and not os.path.isdir(_absolute(config.data_dir)):
            raise FileNotFoundError(
                f"data_dir={config.data_dir} is not a folder. Pass the folder that holds your downloads.\n"
                + _MANUAL_DOWNLOAD_INSTRUCTIONS
            )
    for link, target in found.files.dangling_links.items():
        logger.warning(f"{link} is a link to {target}, where nothing is: left out. Restore or remove it.")
    skip = configs[0].missing_media == "skip"
    left_out = {} if unreadable_archives is None and skip else unreadable_archives
    plans = make_plans(
        configs,
        found,
        download,
        cache_root,
        extract=extract,
        splits=splits,
        unreadable_archives=left_out,
        hash_media=hash_media,
    )
    if left_out and left_out is not unreadable_archives:  # their media count as missing, in Plan.located
        logger.warning(
            f"missing_media='skip': left out {len(left_out)} unreadable archives: " + " ".join(left_out.values())
        )
    return plans


def _annotation_download(dl_manager, cache_root):
    """A published annotation file's local path: downloaded into the cache when streaming too, as
    the parsers read local files (datasets 5 patches no sibling module for URLs)."""
    if not dl_manager.is_streaming:
        return dl_manager.download
    download_config = copy.copy(dl_manager.download_config)
    download_config.cache_dir = os.path.join(cache_root, "downloads")
    return datasets.DownloadManager(dataset_name="imemnet_c", download_config=download_config).download


def load(config_name="image", data_dir=None, *, split=None, streaming=False, cache_dir=None, num_proc=None, **options):
    """What `load_dataset("imemnet_c.py", config_name, data_dir=..., ...)` returns, on every
    `datasets` version: releases before 4 run this file as a loading script; 4 and newer refuse
    scripts, so the builder class is run directly (same configs, options, errors and content).

    `options` are config fields (`missing_media="skip"`, `rows_per_shard`) and `load_dataset`'s
    `download_mode`, `verification_mode` and `download_config`; `split`, `streaming` and `num_proc`
    (processes preparing the shards) as in `load_dataset`.
    """
    data_dir = _absolute(data_dir)  # the cache is named after data_dir: the same from any working folder
    if DATASETS_RUNS_SCRIPTS:
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
    code = hashlib.sha256()  # like load_dataset: a change to the script or a sibling gets a new cache
    for path in [__file__] + [sibling.__file__ for sibling in _SIBLINGS]:
        with open(path, "rb") as f:
            code.update(f.read())
    prepare_options = {name: options.pop(name) for name in _PREPARE_OPTIONS if name in options}
    builder = ImemnetC(
        config_name=config_name, data_dir=data_dir, cache_dir=cache_dir, hash=code.hexdigest(), **options
    )
    if streaming:  # as load_dataset: the prepare options concern a prepare only
        return builder.as_streaming_dataset(split=split)
    builder.download_and_prepare(num_proc=num_proc, **prepare_options)
    return builder.as_dataset(split=split)


_PREPARE_OPTIONS = ("download_mode", "verification_mode", "download_config")  # load_dataset's, for the prepare


def make_plan(
    config_names,
    data_dir=None,
    *,
    extract=False,
    cache_dir=None,
    splits=None,
    unreadable_archives=None,
    hash_media=False,
    **options,
):
    """The `Plan` of a config over `data_dir` (of several, `{name: Plan}`, made together: they share
    one walk of data_dir, the annotation tables, the archives' listings and the media found): what a
    load reads, made as a load makes it (annotation files read, absent splits left out, every media
    file found, each archive listed once and its listing kept) but generating no example. With
    `extract=True` the archive members used are also extracted into the datasets cache, as a
    prepared load does; by default members are read in place. `splits` limits the splits planned;
    `options` are config fields (`missing_media`, ...); `unreadable_archives` and `hash_media` (the
    sha256 of a tar's media, taken as it is listed: see `Media.checker`) as in `Media.find`."""
    names = [config_names] if isinstance(config_names, str) else list(config_names)
    configs = [
        dataclasses.replace(ImemnetC.builder_configs[name], data_dir=_absolute(data_dir), **options) for name in names
    ]
    cache_root = os.path.expanduser(cache_dir or datasets.config.HF_DATASETS_CACHE)
    downloads = datasets.DownloadConfig(cache_dir=os.path.join(cache_root, "downloads"))
    download = datasets.DownloadManager(dataset_name="imemnet_c", download_config=downloads).download
    found = find_in(configs[0].data_dir)
    plans = _plans(configs, found, download, cache_root, extract, splits, unreadable_archives, hash_media)
    return plans[config_names] if isinstance(config_names, str) else plans
