"""IMEMNet-C: images, music clips and music captions in valence-arousal space (MMVA, AAAI 2025)."""

import atexit
import bz2
import collections
import contextlib
import csv
import dataclasses
import errno
import functools
import hashlib
import importlib
import io
import json
import lzma
import operator
import os
import re
import shutil
import sys
import tarfile
import threading
import uuid
import wave
import zipfile
import zlib
from typing import NamedTuple

import datasets
import filelock
import numpy
import PIL.Image
import pyarrow
import rapidgzip
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

# Pinned to commits (a newer one gets a prepared cache of its own); music_va.csv and
# train_matching.txt stay on their branch until a commit of them is verified.
ANNOTATION_URLS = {
    "image_va.csv": "https://raw.githubusercontent.com/schoi828/IMEMNet-C/450647d45c175d94cbc83cfedd33234855b690a6/image_va.csv",
    "music_va.csv": "https://raw.githubusercontent.com/schoi828/IMEMNet-C/main/music_va.csv",
    "train_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/master/train_matching.txt",
    "val_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/17580fa810d3fac1bb87d3a245ca3548d2d0fb77/val_matching.txt",
    "test_matching.txt": "https://raw.githubusercontent.com/linkAmy/IMEMNet/17580fa810d3fac1bb87d3a245ca3548d2d0fb77/test_matching.txt",
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
any that are absent are downloaded from GitHub. Check the folder (a report per source; each archive
is read once, and the load reuses that), then load:
  imemnet-c check /path/to/that/folder
  load_dataset("imemnet_c.py", "paired", data_dir="/path/to/that/folder", trust_remote_code=True)
  (datasets 4 and newer: imemnet_c.load("paired", data_dir="/path/to/that/folder"))
"""

_MISSING_MEDIA_CHOICES = ("error", "skip")

logger = datasets.logging.get_logger(__name__)

# The public seam: what imemnet_c_tools, the examples and the benchmarks may use, each documented
# where it is defined. Every name with a leading underscore is this file's own and may change.
__all__ = [
    # loading
    "ImemnetC",
    "ImemnetCConfig",
    "load",
    "audio_backend_problem",
    "without_media",
    "DATASETS_RUNS_SCRIPTS",
    # what a load reads, found before anything is generated
    "make_plan",
    "data_dir_files",
    "DataDirFiles",
    "Plan",
    "Media",
    "Location",
    # annotations
    "ANNOTATION_URLS",
    "MEDIA_ID_FIELDS",
    "Table",
    "Row",
    "Pair",
    "read_va_table",
    "read_pairs",
    "image_source",
    "song_of",
    # media files
    "IMAGES",
    "AUDIO",
    "media_file_id",
    "media_problem",
    # archives: listed once, the listing kept in the cache; members read in place
    "ARCHIVE_CACHE",
    "Archive",
    "MemberReader",
    "has_size",
    "progress",
]


class _Modality(NamedTuple):
    name: str
    extensions: tuple
    sources: str  # what to download when files are missing


IMAGES = _Modality("image", (".jpg", ".jpeg", ".png"), "IAPS, NAPS and EMOTIC")
AUDIO = _Modality("audio", (".wav", ".flac", ".mp3"), "IMEMNet's DEAM clips")

_ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")

# What media the rows of each annotation table need: {modality: the row field holding the id}.
MEDIA_ID_FIELDS = {"images": {IMAGES: "id"}, "clips": {AUDIO: "id"}, "pairs": {AUDIO: "clip_id", IMAGES: "image_id"}}


@dataclasses.dataclass
class ImemnetCConfig(datasets.BuilderConfig):
    """One IMEMNet-C config: its features and, per split, the annotation file behind each input.

    `splits` maps a split name to `{argument: annotation file}`, where the argument (`images`,
    `clips` or `pairs`) says how the file is parsed and what the config's generator receives.
    `missing_media` is the user's choice for annotated items whose media file is missing from
    `data_dir` or unreadable: `"error"` (default) or `"skip"` (leave those examples out, counted in
    a warning). `rows_per_shard` sets how finely the work is split for `num_proc` and for streaming
    workers.
    """

    features: datasets.Features | None = None
    splits: dict | None = None
    missing_media: str = "error"
    rows_per_shard: int = 2000

    def create_config_id(self, config_kwargs, custom_features=None):
        """datasets' id and a digest of what a load reads (`_inputs_digest`): changed inputs get a
        prepared cache of their own instead of the one made before."""
        config_id = super().create_config_id(config_kwargs, custom_features)
        return f"{config_id}-{_inputs_digest(self)}"

    @property
    def annotation_files(self):
        return sorted({name for inputs in self.splits.values() for name in inputs.values()})

    def own_input(self, split):
        """(argument, annotation file) whose rows make the split's examples: the first of its inputs;
        the others are looked up (a pair's clip and image rows)."""
        return next(iter(self.splits[split].items()))

    @property
    def modalities(self):
        """The media this config needs: its Image and Audio columns."""
        return [modality for modality in (IMAGES, AUDIO) if modality.name in self.features]

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


def _inputs_digest(config):
    """A digest of what a load of `config` reads, made before its plan: each annotation file's origin
    and content (data_dir's copy: its path and a digest of its bytes; else the URL it is downloaded
    from: three of them pinned to a commit, music_va.csv and train_matching.txt following their
    branch, whose new content needs download_mode="force_redownload") and, for the media configs, every media file and archive in data_dir
    (path, size, modification time: media are too large to read here), found as the load finds them
    (`data_dir_files`: linked folders followed). The files a load never reads (dotfiles, `.git`,
    names that are no media, archive or annotation file) are left out."""
    found = []
    if config.data_dir:
        folder = os.path.abspath(os.path.expanduser(config.data_dir))
        found = data_dir_files(folder).paths
    local, inputs = _local_annotation_files(found), []
    for name in config.annotation_files:
        if name in local:
            with open(local[name], "rb") as f:
                content = hashlib.sha256(f.read()).hexdigest()
            inputs.append((name, os.path.relpath(local[name], folder), content))
        else:
            inputs.append((name, ANNOTATION_URLS[name]))
    media = [
        path
        for path in found
        if config.needs_media
        and (path.lower().endswith(_ARCHIVE_EXTENSIONS) or any(media_file_id(path, m) for m in config.modalities))
    ]
    for path in media:
        stat = os.stat(path)
        inputs.append((os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns))
    return _digest(*inputs)


def without_media(features):
    """The features without their Image and Audio columns: what the annotation files alone give."""
    return datasets.Features(
        {name: f for name, f in features.items() if not isinstance(f, (datasets.Image, datasets.Audio))}
    )


@contextlib.contextmanager
def _module_globals_kept(builder_class):
    """Puts the globals of the builder's module back as they were. datasets patches `open`, `os`,
    `glob` and more in a builder's module for streaming whenever a builder is made or unpickled, and
    never undoes it; on datasets 4 and newer that module is the imported imemnet_c, whose plans,
    checks and pairs would run on the patched functions for the rest of the process."""
    module_globals = vars(sys.modules[builder_class.__module__])
    kept = dict(module_globals)
    try:
        yield
    finally:
        for name in module_globals.keys() - kept.keys():  # `open`, and the flag saying it is patched
            del module_globals[name]
        module_globals.update(kept)


class ImemnetC(datasets.ArrowBasedBuilder):
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

    _absent_splits = frozenset()  # the splits left out, once the plan is made

    def __init__(self, *args, **kwargs):
        with _module_globals_kept(type(self)):
            super().__init__(*args, **kwargs)

    def __setstate__(self, state):
        with _module_globals_kept(type(self)):
            super().__setstate__(state)

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
        if AUDIO in self.config.modalities and (problem := audio_backend_problem()):
            raise ImportError(problem)  # now, not after the archives are listed and half the examples written
        plan = self._plan(dl_manager, extract=not dl_manager.is_streaming)
        if plan.media and plan.media.extracted:
            self._record_extractions(plan.media.archives.values())
        split_generators = []
        for split, tables in plan.tables.items():
            argument = self.config.own_input(split)[0]
            gen_kwargs = {  # the lookups, made once: {id: its first row}
                name: table.first_row_per_id() for name, table in tables.items() if name != argument
            }
            if plan.media:
                gen_kwargs.update(
                    shards=plan.media.shards(plan.located(split), self.config.rows_per_shard), media=plan.media
                )
            else:
                gen_kwargs.update(shards=_chunks(tables[argument].rows, self.config.rows_per_shard))
            split_generators.append(datasets.SplitGenerator(name=split, gen_kwargs=gen_kwargs))
        return split_generators

    def _record_extractions(self, archives):
        """A prepared dataset stores its media by path, into the archives' extractions: records which,
        in the dataset (see download_and_prepare) and in each extraction (see Archive._keep)."""
        for archive in archives:
            archive._record_reader(self.cache_dir)
        with io.open(os.path.join(self._output_dir, _EXTRACTIONS), "w", encoding="utf-8") as f:  # noqa: UP020
            json.dump(sorted(archive.folder for archive in archives), f)

    def _plan(self, dl_manager, extract, unreadable_archives=None):
        """What a load reads, found before anything is generated (see `make_plan`): per split its
        annotation tables, the splits left out (their own annotation file unavailable), and where
        each needed media file lies; with `extract`, the archive members used are extracted into
        the cache (what a prepared load reads). `unreadable_archives` as in `Media.find`; with
        missing_media="skip", an unreadable archive is otherwise left out with a warning naming it."""
        if self.config.missing_media not in _MISSING_MEDIA_CHOICES:
            raise ValueError(f"missing_media={self.config.missing_media!r}: expected one of {_MISSING_MEDIA_CHOICES}.")
        data_dir = self._checked_data_dir()
        found = []
        if data_dir:
            files = data_dir_files(data_dir)
            for link, target in files.dangling_links.items():
                logger.warning(f"{link} is a link to {target}, where nothing is: left out. Restore or remove it.")
            found = files.paths
        annotations = _AnnotationFiles(found, dl_manager)
        absent = {}
        for split in self.config.splits:
            try:
                annotations.read(*self.config.own_input(split))
            except _UnavailableAnnotations as error:
                absent[split] = error
        if len(absent) == len(self.config.splits):
            raise next(iter(absent.values()))
        for split, error in absent.items():
            logger.warning(f"The {split} split of {self.config.name} is left out: {error}")
        tables = {
            split: {argument: annotations.read(argument, name) for argument, name in inputs.items()}
            for split, inputs in self.config.splits.items()
            if split not in absent
        }
        media = None
        if self.config.needs_media:
            needed = collections.defaultdict(set)
            for split, split_tables in tables.items():
                argument = self.config.own_input(split)[0]
                for modality, field in MEDIA_ID_FIELDS[argument].items():
                    needed[modality].update(getattr(row, field) for row in split_tables[argument].rows)
            left_out = {} if unreadable_archives is None and self._skips_bad_media else unreadable_archives
            media = Media.find(found, needed, self._cache_dir_root, extract, left_out)
            if left_out and left_out is not unreadable_archives:  # their media count as missing, below
                logger.warning(
                    f"missing_media='skip': left out {len(left_out)} unreadable archives: "
                    + " ".join(left_out.values())
                )
        self._absent_splits = set(absent)
        return Plan(self.config, tables, absent, annotations.origins, media, self._cache_dir_root)

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
        with _module_globals_kept(type(self)):
            datasets.streaming.extend_dataset_builder_for_streaming(self)  # the plan opens annotation URLs
            try:
                return super().as_streaming_dataset(split, *args, **kwargs)
            except ValueError:
                self._explain_absent_split(split, available=self.config.splits.keys() - self._absent_splits)
                raise

    def _explain_absent_split(self, split, available):
        """Says why a split the config has is not there, when it is asked for."""
        asked = {part.split("[")[0].strip() for part in split.split("+")} if isinstance(split, str) else set()
        for name in sorted(asked & self.config.splits.keys() - set(available)):
            file = self.config.own_input(name)[1]
            raise ValueError(
                f"The {name!r} split of {self.config.name} is absent: its annotation file {file} was neither in "
                f"data_dir nor downloadable from {ANNOTATION_URLS[file]} when the splits were made. Put {file} "
                f"in data_dir (at any depth) and load again. The splits there are: {', '.join(sorted(available))}."
            )

    def _generate_tables(self, shards, **inputs):
        """The config's examples in small Arrow tables, each cast once: datasets 3.6 would otherwise
        cast every streamed example on its own, at about 0.4 ms each (BENCHMARKS.md). The examples are
        in storage form already (media as {"path", "bytes"}), so they go to Arrow without encoding. A
        table holds rows of one shard; where datasets has `Key` (5 and newer) it says which, and
        datasets records each shard's length (an integer key makes it treat the builder as a legacy one)."""
        schema = self.info.features.arrow_schema
        shard_of = {key: index for index, shard in enumerate(shards) for key in shard.keys()}
        examples = getattr(self, f"_generate_{self.config.name}")(shards=shards, **inputs)
        tables_of_shard = collections.Counter()
        for batch in _batches(examples, shard_of=shard_of):
            shard = shard_of[batch[0][0]]
            key = _Key(shard, tables_of_shard[shard]) if _Key else batch[0][0]
            tables_of_shard[shard] += 1
            yield key, pyarrow.Table.from_pylist([example for _, example in batch], schema=schema)

    def _generate_image(self, shards, media):
        for row, files in media.read(shards, skip_unreadable=self._skips_bad_media):
            yield row.key, {**_image_fields(row), **files}

    def _generate_music(self, shards, media):
        for row, files in media.read(shards, skip_unreadable=self._skips_bad_media):
            yield row.key, {**_music_fields(row), **files}

    def _generate_paired(self, shards, media, images, clips):
        for pair, files in media.read(shards, skip_unreadable=self._skips_bad_media):
            yield pair.key, {**_paired_fields(pair, clips, images), **files}

    def _generate_image_annotations(self, shards):
        for shard in shards:
            for row in shard.rows:
                yield row.key, _image_fields(row)

    def _generate_music_annotations(self, shards):
        for shard in shards:
            for row in shard.rows:
                yield row.key, _music_fields(row)

    def _generate_paired_annotations(self, shards, images, clips):
        for shard in shards:
            for pair in shard.rows:
                yield pair.key, _paired_fields(pair, clips, images)

    @property
    def _skips_bad_media(self):
        return self.config.missing_media == "skip"

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

    `options` are config fields (`missing_media="skip"`, `rows_per_shard`) and `load_dataset`'s
    `download_mode`, `verification_mode` and `download_config`; `split`, `streaming` and `num_proc`
    (processes preparing the shards) as in `load_dataset`.
    """
    if data_dir is not None:  # the cache is named after data_dir: make it the same from any working folder
        data_dir = os.path.abspath(os.path.expanduser(data_dir))
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
    with open(__file__, "rb") as script:  # like load_dataset: a changed script gets a new cache
        script_hash = hashlib.sha256(script.read()).hexdigest()
    prepare_options = {name: options.pop(name) for name in _PREPARE_OPTIONS if name in options}
    builder = ImemnetC(config_name=config_name, data_dir=data_dir, cache_dir=cache_dir, hash=script_hash, **options)
    if streaming:  # as load_dataset: the prepare options concern a prepare only
        return builder.as_streaming_dataset(split=split)
    builder.download_and_prepare(num_proc=num_proc, **prepare_options)
    return builder.as_dataset(split=split)


_PREPARE_OPTIONS = ("download_mode", "verification_mode", "download_config")  # load_dataset's, for the prepare


def make_plan(config_name, data_dir=None, *, extract=False, cache_dir=None, unreadable_archives=None, **options):
    """The `Plan` of a config over `data_dir`: what a load of it reads, made as a load makes it
    (annotation files read, absent splits left out, every media file found, each archive listed once
    and its listing kept) but generating no example. With `extract=True` the archive members used
    are also extracted into the datasets cache, as a prepared load does; by default nothing is
    extracted and members are read in place. `options` are config fields (`missing_media`, ...);
    `unreadable_archives` as in `Media.find`."""
    data_dir = data_dir and os.path.abspath(os.path.expanduser(data_dir))
    builder = ImemnetC(config_name=config_name, data_dir=data_dir, cache_dir=cache_dir, **options)
    downloads = datasets.DownloadConfig(cache_dir=os.path.join(builder._cache_dir_root, "downloads"))
    dl_manager = datasets.DownloadManager(dataset_name="imemnet_c", download_config=downloads)
    return builder._plan(dl_manager, extract, unreadable_archives)


def song_of(clip_id):
    """The DEAM song a clip id (`<song>-<segment>`) is a segment of."""
    return clip_id.partition("-")[0]


DATASETS_RUNS_SCRIPTS = int(datasets.__version__.split(".")[0]) < 4

# What decodes (and on datasets 4+ also writes) an Audio column, per datasets line, and how to get it.
_AUDIO_BACKEND = (
    {
        "modules": ("soundfile", "librosa"),
        "install": "pip install soundfile librosa   (the [audio-librosa] extra of imemnet-c)",
    }
    if DATASETS_RUNS_SCRIPTS
    else {
        "modules": ("torch", "torchcodec.decoders"),
        "install": (
            "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu   (plain pip takes a CUDA build)\n"
            '  pip install "torchcodec>=0.12,<0.14"   (the [audio] extra of imemnet-c; 0.14 to 0.17 are CUDA builds)\n'
            "  FFmpeg's shared libraries, e.g. on Debian 12: sudo apt-get install libavcodec59 libavformat59 "
            "libavutil57 libavdevice59 libavfilter8 libswscale6 libswresample4"
        ),
    }
)


def audio_backend_problem():
    """Why the installed datasets cannot decode or write audio (what music and paired need), or None."""
    for module in _AUDIO_BACKEND["modules"]:
        try:
            importlib.import_module(module)
        except Exception as error:  # a missing module, a CUDA-only build, FFmpeg's libraries absent
            reason = (str(error).strip().splitlines() or ["no message"])[0]
            return (
                f"datasets {datasets.__version__} reads audio through {' and '.join(_AUDIO_BACKEND['modules'])}, "
                f"and {module} cannot be imported here ({type(error).__name__}: {reason}). The music and paired "
                f"configs need it. Install it:\n  {_AUDIO_BACKEND['install']}"
            )
    return None


_Key = getattr(datasets.builder, "Key", None)  # datasets 5 and newer


def _batches(examples, shard_of, rows=64, media_bytes=16 << 20):
    """(key, example) pairs in runs of `rows` of one shard (`shard_of` the key's), or fewer when their
    media bytes reach `media_bytes`: small, because an export embeds a table's media files in memory
    (datasets' writer takes 100 media examples at a time) and a streamed table holds its media bytes."""
    batch, size = [], 0
    for key, example in examples:
        if batch and shard_of[key] != shard_of[batch[0][0]]:
            yield batch
            batch, size = [], 0
        batch.append((key, example))
        size += sum(len(value["bytes"] or b"") for value in example.values() if isinstance(value, dict))
        if len(batch) == rows or size >= media_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _image_fields(row):
    return {"image_id": row.id, "valence": row.valence, "arousal": row.arousal, "source": image_source(row.id)}


def _music_fields(row):
    return {
        "clip_id": row.id,
        "song_id": song_of(row.id),
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


_NO_ROW = Row(key=-1, id="", valence=None, arousal=None, caption=None)


class _AnnotationFiles:
    """The annotation files: the user's copy in data_dir if there is one, else the published one.
    `origins` says, per file read, where it came from: its path in data_dir, or the URL it was
    downloaded from."""

    def __init__(self, found, dl_manager):
        self._local = _local_annotation_files(found)
        self._dl_manager = dl_manager
        self._tables = {}
        self.origins = {}

    def read(self, argument, name):
        if name not in self._tables:
            self._tables[name] = self._parse(_PARSERS[argument], name)
        return self._tables[name]

    def _parse(self, parser, name):
        if name in self._local:
            self.origins[name] = self._local[name]
            with open(self._local[name], "rb") as f:
                content_digest = hashlib.sha256(f.read()).hexdigest()
            return _parsed(parser, self._local[name], content_digest)
        url = ANNOTATION_URLS[name]
        try:  # streaming, the download happens when the parser opens the URL
            table = parser(self._dl_manager.download(url))
        except (OSError, ImportError) as error:  # ImportError: datasets 5 without fsspec's http extra
            raise _UnavailableAnnotations(
                f"Could not download {name} from {url} ({type(error).__name__}: {error}). "
                f"Place {name} in data_dir to use it instead of downloading it."
            ) from error
        self.origins[name] = url
        return table


@functools.lru_cache(maxsize=16)
def _parsed(parser, path, content_digest):
    """An annotation file's table, parsed once per process and content: the configs of one check,
    and the epochs of a training run, share it (tables are immutable)."""
    return parser(path)


def _local_annotation_files(found):
    """{file name: its path} of data_dir's files, the shallowest (then first by name) of each name."""
    local = {}
    for path in sorted(found, key=lambda p: (p.count(os.sep), p)):
        local.setdefault(os.path.basename(path), path)
    return local


class _UnavailableAnnotations(ConnectionError):
    """An annotation file neither in data_dir nor downloadable."""


_VA_TABLE_COLUMNS = ("valence", "arousal", "caption")  # found by name; the id column is none of them


def read_va_table(path, with_caption):
    """Rows of image_va.csv or music_va.csv: the first named column is the id (an error if it is
    valence, arousal or caption); valence, arousal (and caption) are found by name,
    case-insensitively; ids stay strings exactly as written. Every row has as many fields as the
    header (an unquoted comma in a caption is an error, not a caption cut short)."""
    name = os.path.basename(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
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


_PARSERS = {
    "images": lambda path: read_va_table(path, with_caption=False),
    "clips": lambda path: read_va_table(path, with_caption=True),
    "pairs": read_pairs,
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


def _describe_missing(modality, ids):
    if modality == IMAGES:
        by_source = collections.defaultdict(list)
        for media_id in ids:
            by_source[image_source(media_id)].append(media_id)
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


class Location(NamedTuple):
    """Where a media file lies: a loose file, or a member of an archive."""

    container: str  # a loose file, or the archive holding the member
    member: str | None  # the member's name in the archive; None for a loose file
    size: int
    offset: int | None = None  # where the member's data lie in its archive (a tar's: in the uncompressed tar)


class Plan(NamedTuple):
    """What a load of one config reads (`make_plan`), found before anything is generated."""

    config: ImemnetCConfig
    tables: dict  # {split: {argument: Table}}: the split's own table (config.own_input) and its lookups
    absent: dict  # {split: why it is left out}: its own annotation file is unavailable
    origins: dict  # {annotation file: its path in data_dir, or the URL it was downloaded from}
    media: "Media | None"  # None for the annotation-only configs
    cache_dir: str  # the datasets cache of this config (its downloads and archive listings)

    def rows(self, split):
        """The rows (`Row`, or `Pair` for paired) whose examples make `split`."""
        return self.tables[split][self.config.own_input(split)[0]].rows

    def located(self, split):
        """(row, {modality: Location}) for each row of `split` whose media files are all in data_dir;
        the others are an error naming them, or with missing_media="skip" left out and counted."""
        table = self.tables[split][self.config.own_input(split)[0]]
        id_fields = MEDIA_ID_FIELDS[self.config.own_input(split)[0]]
        located, missing = [], {modality: set() for modality in id_fields}
        lookups = [
            (modality, operator.attrgetter(field), self.media.locations[modality])
            for modality, field in id_fields.items()
        ]
        for row in table.rows:
            where = {modality: found.get(media_id(row)) for modality, media_id, found in lookups}
            if None in where.values():
                for modality, media_id, _ in lookups:
                    if where[modality] is None:
                        missing[modality].add(media_id(row))
            else:
                located.append((row, where))
        if not any(missing.values()):
            return located
        locked = collections.Counter(  # {encrypted zip: how many of the missing files it holds}
            path
            for path, archive in self.media.listed.items()
            for name in archive.encrypted
            for modality, ids in missing.items()
            if media_file_id(name, modality) in ids
        )
        if self.config.missing_media == "skip":
            logger.warning(
                f"missing_media='skip': left out {len(table.rows) - len(located)} examples of {table.name} whose media are missing"
                + "".join(
                    f"; {count} of their files are in {path}, encrypted" for path, count in sorted(locked.items())
                )
                + "."
            )
            return located
        if locked:
            path, count = min(locked.items())
            raise ValueError(
                f"{path} is encrypted (password-protected): {count} media files named in {table.name} are in it, "
                "and the loader does not take passwords. Extract it into data_dir with its password (e.g. "
                f"`unzip {os.path.basename(path)}` or `7z x {os.path.basename(path)}`, which ask for it) and load "
                'again, or pass missing_media="skip" to leave out the examples whose files are in it.'
            )
        raise FileNotFoundError(
            f"Media files named in {table.name} are missing from data_dir={self.config.data_dir} "
            f"(searched {self.media.searched}):\n"
            + "".join(_describe_missing(modality, sorted(ids)) for modality, ids in missing.items() if ids)
            + 'Add the missing downloads to data_dir (see the dataset card), or pass missing_media="skip" '
            "to leave out the examples whose media are missing."
        )


class _Shard(NamedTuple):
    rows: tuple  # rows, or (row, {modality: location}) where media are needed

    def keys(self):
        """The keys of its rows' examples."""
        return [row.key if isinstance(row, (Row, Pair)) else row[0].key for row in self.rows]


def _chunks(rows, size):
    return [_Shard(tuple(rows[start : start + size])) for start in range(0, len(rows), size)] or [_Shard(())]


class DataDirFiles(NamedTuple):
    """The files of data_dir a load reads from, and the links met on the way (`data_dir_files`)."""

    paths: list  # every file, sorted; hidden ones (a name starting with `.` or `__`) left out, as datasets does
    linked_folders: dict  # {link: the folder it leads to}, walked
    walked_already: dict  # {folder reached through a link: its real folder}, not walked again (a cycle, say)
    dangling_links: dict  # {link: where it points}, where nothing is: left out


def data_dir_files(data_dir):
    """The files below `data_dir`, links to folders followed (data on shared storage, linked in):
    each real folder is walked once, so a link to a folder above it does not loop; a link that
    leads nowhere is left out. A load reads these, and its prepared cache is keyed by them."""
    found, walked = DataDirFiles([], {}, {}, {}), set()
    for parent, folders, names in os.walk(data_dir, followlinks=True):
        real = os.path.realpath(parent)
        if real in walked:
            found.walked_already[parent] = real
            folders.clear()
            continue
        walked.add(real)
        if os.path.islink(parent):
            found.linked_folders[parent] = real
        folders[:] = sorted(folder for folder in folders if not folder.startswith(_HIDDEN))
        for path in (os.path.join(parent, name) for name in names if not name.startswith(_HIDDEN)):
            if _leads_nowhere(path):
                found.dangling_links[path] = os.readlink(path)
            else:
                found.paths.append(path)
    found.paths.sort()
    return found


_HIDDEN = (".", "__")


def _leads_nowhere(path):
    """Whether `path` is a link to nothing (or to a loop of links)."""
    try:
        os.stat(path)
        return False
    except OSError:
        return os.path.islink(path)


def media_file_id(path, modality):
    """The id a media file stands for (its name without extension), or None if it is not one."""
    name = path[max(path.rfind("/"), path.rfind("\\")) + 1 :]  # called for every file and member: no regex
    stem, dot, extension = name.rpartition(".")
    if not dot or f".{extension.lower()}" not in modality.extensions or name.startswith((".", "__")):
        return None
    if "__MACOSX" in path and any(part.startswith("__MACOSX") for part in re.split(r"[\\/]", path)):
        return None
    return stem


class Media:
    """Where the media file of each id the annotations name lies in data_dir (`Media.find`).

    - `needed`: {modality: the ids the annotation files name}; `locations`: {modality: {id: its
      `Location`}} for those found (a loose file, or an archive member);
    - `duplicates`: (modality, id, the file used, another file for that id) where they differ;
    - `archives`: the `Archive`s holding media used, by path; `listed`: every archive listed;
      `loose`: the files outside archives; `searched`: what was searched, for messages;
    - `extracted`: whether the members used were extracted into the cache (a prepared load reads
      those files); otherwise they are read in place (streaming), in the order they lie in.
    """

    def __init__(self, needed, cache_root, extracted):
        self.needed, self.cache_root, self.extracted = needed, cache_root, extracted
        self.locations = {modality: {} for modality in needed}
        self.duplicates, self.archives, self.listed, self.loose, self.searched = [], {}, {}, [], ""
        self._checked = {}  # the problem of each file read, by location: for every shard this process reads

    @classmethod
    def find(cls, found, needed, cache_root, extract, unreadable_archives=None):
        """Finds the `needed` ids among the `found` files of data_dir: loose files in name order,
        then each archive, listed once (its listing kept, see `Archive`); with `extract`, the members
        used are extracted into the cache. An archive that cannot be read is an error, or with a
        dict as `unreadable_archives` recorded there ({path: why})."""
        media = cls(needed, cache_root, extract)
        archive_paths = [path for path in found if path.lower().endswith(_ARCHIVE_EXTENSIONS)]
        media.loose = [path for path in found if not path.lower().endswith(_ARCHIVE_EXTENSIONS)]
        media.searched = f"{len(media.loose)} files" + (
            f" and the archives {', '.join(map(os.path.basename, archive_paths))}" if archive_paths else ""
        )
        for path in media.loose:
            media._add(Location(path, None, os.stat(path).st_size))
        for path in archive_paths:
            archive = media.listed[path] = Archive(path, cache_root)
            try:
                members = archive.members(extract=media._unlocated if extract else None)
                used = [member for member in members if media._add(member)]
                if used:
                    media.archives[path] = archive
                    if extract:
                        archive.extract(used)
            except _UnreadableArchive as error:
                if unreadable_archives is None:
                    raise
                unreadable_archives[path] = str(error)
            except _CacheUnwritable as error:
                if error.errno not in _FULL_DISK:
                    raise
                raise OSError(
                    error.errno,
                    f"{os.strerror(error.errno)} while listing or extracting {path} into the datasets cache "
                    f"({cache_root}). "
                    "Free some space there, or pass cache_dir=<a folder on a larger disk>; the next run keeps "
                    "the members already extracted whole and extracts the rest.",
                ) from error
        return media

    def _unlocated(self, name):
        """Whether an archive member is the media file of a needed id that no earlier file provides."""
        return any(
            media_id in self.needed[modality] and media_id not in self.locations[modality]
            for modality in self.needed
            if (media_id := media_file_id(name, modality))
        )

    def _add(self, location):
        """Records `location` for the needed ids it is the first file of; says whether it was."""
        taken = False
        for modality, located in self.locations.items():
            media_id = media_file_id(location.member or location.container, modality)
            if media_id not in self.needed[modality]:
                continue
            first = located.setdefault(media_id, location)
            taken |= first is location
            if first.size != location.size:  # an archive beside its own extraction holds equal copies
                self.duplicates.append((modality, media_id, first, location))
                logger.warning(
                    f"Two different {modality.name} files for {media_id}: {_describe(first)} and {_describe(location)}; "
                    f"using the first (data_dir's folders in name order, then archives, each in its own order)."
                )
        return taken

    def shards(self, located, rows_per_shard):
        """Rows in chunks: prepared, in the annotation file's order; streamed, in the order their
        media lie in (pairs: by clip, so that each archive is read front to back and each clip once)."""
        if not self.extracted:
            located = sorted(
                located,
                key=lambda row_where: tuple((where.container, where.offset or 0) for where in row_where[1].values()),
            )
        return _chunks(located, rows_per_shard)

    def read(self, shards, skip_unreadable):
        """(row, {modality name: file}) for every row of the shards whose media files are readable."""
        skipped, checked = 0, self._checked  # each file's problem, by location: pairs share their clips and pictures
        members = self.reader()
        for shard in shards:
            for row, where in shard.rows:
                files, problems = {}, []
                for modality, location in where.items():
                    file = files[modality.name] = self.file(location, members)
                    if location not in checked:
                        with _opened(file) as stream:
                            checked[location] = media_problem(stream, location.size, file["path"], modality)
                    problems.append(checked[location])
                if any(problems):
                    if not skip_unreadable:
                        raise ValueError(next(p for p in problems if p) + _UNREADABLE_ADVICE)
                    skipped += 1
                    continue
                yield row, files
        if skipped:
            logger.warning(f"missing_media='skip': left out {skipped} examples whose media files are unreadable.")

    @contextlib.contextmanager
    def checker(self):
        """`with media.checker() as problem:` a function `problem(location, modality)` saying what
        makes the media file at `location` unusable, or None, by the checks `read` makes. A tar's
        members were checked when it was listed; a loose file or zip member is read as far as the
        check needs (its header and, for pictures, its last bytes), and the verdict is kept in the
        cache under what it was made from (the file's size and modification time; the zip's
        listing): an unchanged download is not read again, a changed file is checked anew."""
        verdicts = {}  # the kept verdicts of each folder of loose files and of each zip, read once

        def kept(container, path):
            if container not in verdicts:
                verdicts[container] = _KeptVerdicts(path())
            return verdicts[container]

        members = self.reader()

        def problem(location, modality):
            if location.member is None:
                folder, _, name = location.container.rpartition("/")
                stat = os.stat(location.container)
                return kept(
                    folder, lambda: f"{self.cache_root}/{ARCHIVE_CACHE}/folders/{_digest(folder)}.json"
                ).verdict(name, [stat.st_size, stat.st_mtime_ns], lambda: _problem_of_file(location, modality))
            archive = self.listed[location.container]
            if archive.problems is not None:
                return archive.problems.get(location.member)
            return kept(archive.folder, lambda: f"{archive.folder}/checks.json").verdict(
                location.member,
                [location.size, location.offset],
                lambda: _problem_of_member(location, modality, members),
            )

        yield problem
        for kept_verdicts in verdicts.values():
            kept_verdicts.keep()

    def file(self, location, members):
        """What an Image or Audio column holds for `location`: a local path (extracted, or a loose
        file), or the member's bytes read through `members` (a `MemberReader` of these media)."""
        if location.member is None:
            return {"path": location.container, "bytes": None}
        if self.extracted:
            return {"path": self.archives[location.container].extracted(location.member), "bytes": None}
        return {"path": location.member, "bytes": members.read(location)}

    def reader(self):
        """A `MemberReader` of the archives these media use."""
        return MemberReader(self.archives)


def _problem_of_file(location, modality):
    with io.open(location.container, "rb") as stream:  # noqa: UP020  (see Archives)
        return media_problem(stream, location.size, location.container, modality)


def _problem_of_member(location, modality, members):
    with members.open(location) as stream:
        return media_problem(stream, location.size, location.member, modality)


class _KeptVerdicts:
    """Media checks' verdicts kept in one JSON file of the cache, `{name: [stamp, verdict]}`, where
    the stamp says which version of the file the verdict was made from."""

    def __init__(self, path):
        self.path, self.new = path, {}
        self.kept = self._read()

    def verdict(self, name, stamp, check):
        kept = self.kept.get(name)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        verdict = check()
        self.kept[name] = self.new[name] = [stamp, verdict]
        return verdict

    def keep(self):
        """Writes the new verdicts, with those another process kept meanwhile (whole, then renamed)."""
        if not self.new:
            return
        os.makedirs(self.path.rpartition("/")[0], exist_ok=True)
        partial = f"{self.path}.{uuid.uuid4().hex}.partial"
        with io.open(partial, "w", encoding="utf-8") as f:  # noqa: UP020  (see Archives)
            json.dump({**self._read(), **self.new}, f)
        os.replace(partial, self.path)

    def _read(self):
        try:
            with io.open(self.path, encoding="utf-8") as f:  # noqa: UP020  (see Archives)
                kept = json.load(f)
            return {
                name: [stamp, verdict]
                for name, (stamp, verdict) in kept.items()
                if isinstance(stamp, list) and isinstance(verdict, (str, type(None)))
            }
        except (OSError, ValueError, TypeError, AttributeError):  # none yet, or damaged: checked anew
            return {}


_UNREADABLE_ADVICE = ' Replace it with a good copy (download it again), or pass missing_media="skip" to leave it out.'


def _describe(location):
    return f"{location.member} in {location.container}" if location.member else location.container


def _opened(file):
    """A media file's bytes as a stream: from memory (streamed) or from its path (prepared)."""
    return io.BytesIO(file["bytes"]) if file["bytes"] is not None else io.open(file["path"], "rb")  # noqa: UP020  (see Archives)


def media_problem(stream, size, path, modality):
    """What makes a media file of `size` bytes unusable (empty, not an image or audio file,
    truncated), or None, from its header and, for pictures, its last bytes only: JPEG, PNG and PCM
    WAV by their markers, anything else by Pillow or libsndfile. A readable file in another format
    than its extension says is fine: decoders go by content."""
    where = f"{path} (the {modality.name} of {media_file_id(path, modality)})"
    if not size:
        return f"{where} is empty (0 bytes)."
    try:
        return (_image_problem if modality == IMAGES else _audio_problem)(stream, size, where)
    except (PIL.UnidentifiedImageError, soundfile.LibsndfileError) as error:
        return f"{where} is not a readable {modality.name} file ({type(error).__name__})."
    except (OSError, RuntimeError, EOFError) as error:  # what Pillow says of a picture cut short in its headers
        return f"{where} is a truncated or damaged {modality.name} file ({error})."


_END_MARKERS = {b"\xff\xd8\xff": ("JPEG", b"\xff\xd9"), b"\x89PNG\r\n\x1a\n": ("PNG", b"IEND")}


def _image_problem(stream, size, where):
    head = stream.read(8)
    picture_format, end = next((known for magic, known in _END_MARKERS.items() if head.startswith(magic)), (None, None))
    if picture_format is None:  # not JPEG or PNG: whatever Pillow can identify
        stream.seek(0)
        PIL.Image.open(stream)
        return None
    stream.seek(max(0, size - 1024))
    return None if end in stream.read() else f"{where} is a truncated {picture_format} (its end marker is missing)."


def _audio_problem(stream, size, where):
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


# Archives: each listed once, the listing kept; members read by random access, also in a tar.gz.
# Paths made of member names go through io.open, os.stat and string operations, not open and
# os.path: datasets patches those in this module for URLs, where "::" chains paths.

ARCHIVE_CACHE = "imemnet_c_archives"  # in the datasets cache: per archive its index, media checks and extracted members; folders/: loose files' checks
_EXTRACTIONS = "imemnet_c_extractions.json"  # in a prepared dataset: the archive folders its media paths lead into
_INDEX_VERSION = 4  # 2: a tar's media checks; 3: a name held twice, its last copy; 4: left-out reasons as plain text
_DECOMPRESSORS = {"bzip2": bz2.open, "xz": lzma.open}  # gzip goes through rapidgzip: parallel, seekable
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
_ZIP_ENCRYPTED = 0x1  # the flag bit of a zip entry's header for an encrypted member (ZipCrypto or AES)
_ARCHIVE_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    RuntimeError,
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
)


class Archive:
    """A zip or tar download. Its members (name, size, offset) are listed in one pass and kept in
    the datasets cache, in a folder named after the archive's absolute path, size and modification
    time: a changed archive is listed anew, an unchanged one never again. A tar.gz keeps rapidgzip's
    seek points beside its listing, which read any member without decompressing what comes before.
    Members a prepared config uses are extracted into the same folder, each file whole or absent."""

    def __init__(self, path, cache_root):
        path, stat = os.path.abspath(path), os.stat(path)
        self.path = path
        self.folder = os.path.join(
            cache_root, ARCHIVE_CACHE, f"{_digest(path)}-{_digest(path, stat.st_size, stat.st_mtime_ns)}"
        )
        self.compression = _compression(path)
        # By the leading bytes first: zipfile looks for a zip's end record near the file's end, where a
        # tar whose last member is a small zip holds one.
        self.is_tar = bool(self.compression) or tarfile.is_tarfile(path)
        self.is_zip = not self.is_tar and zipfile.is_zipfile(path)
        self.seek_points = None  # the tar.gz index file, once listed
        self.encrypted = []  # a zip's password-protected members, once listed: left out of the members
        self.problems = None  # a tar's media checks, once listed: {member: what makes it unusable}
        self._members = None

    @contextlib.contextmanager
    def _writing(self, what):
        """A failure to write `what` into the cache folder is the cache's (full, over quota,
        read-only, not permitted, a name too long), not the archive's."""
        try:
            yield
        except OSError as error:
            if error.errno not in _WRITE_ERRNOS:
                raise
            raise _CacheUnwritable(
                error.errno,
                f"{os.strerror(error.errno)}: cannot write {what} of {self.path} into the datasets cache "
                f"folder {self.folder} ({error.filename or error}). Make that folder writable, or pass "
                "cache_dir=<a writable folder with space>. The archive itself is fine.",
            ) from error

    def members(self, extract=None):
        """The members, from the kept listing; without one, from one pass over the archive that also
        extracts the members `extract(name)` picks."""
        if self._members is None:  # asked again (imemnet-c check counts them), the listing is not read again
            kept = self._kept_listing()
            self._members = self._listed(extract) if kept is None else kept
        return self._members

    def extracted(self, name):
        return f"{self.folder}/files/{name}"

    def _extraction_target(self, name):
        """Where a member is extracted, checked to stay inside the folder once links are resolved: a
        link planted in a shared cache must not lead a write, or a prepared load's reads, elsewhere."""
        target, files = self.extracted(name), os.path.join(os.path.realpath(self.folder), "files")
        if not os.path.realpath(target).startswith(files + os.sep):
            raise _UntrustedCache(
                f"{target} leads outside the cache folder {files} (a link put there?): remove {self.folder} "
                "and load again."
            )
        return target

    def extract(self, members):
        """Extracts the members not already extracted whole, reading each by random access."""
        missing = [m for m in members if not has_size(self._extraction_target(m.member), m.size)]
        if not missing:
            return
        if self.compression in _DECOMPRESSORS:  # no seek points: one more pass over the archive
            names = {member.member for member in missing}
            self._listed(lambda name: name in names)
            return
        with contextlib.ExitStack() as stack:
            open_member = self.opener(stack)
            for member in progress(sorted(missing, key=lambda m: m.offset), f"Extracting {self.path}", "files"):
                self._write(member.member, open_member(member))

    def opener(self, stack):
        """A function opening a member, from its location, as a stream; the archive's handles close
        with `stack`. A zip member is inflated as it is read."""
        if self.is_zip:
            archive = stack.enter_context(zipfile.ZipFile(self.path))
            return lambda location: archive.open(location.member)
        if self.compression == "gzip":
            stream = stack.enter_context(rapidgzip.open(self.path, parallelization=0))
            stream.import_index(self.seek_points)
        elif self.compression:  # bzip2, xz: no seek points, so read from the decompressed copy
            stream = stack.enter_context(io.open(self.decompressed(), "rb"))  # noqa: UP020  (see Archives)
        else:
            stream = stack.enter_context(open(self.path, "rb"))

        lock = threading.Lock()  # the opener is shared by the threads of a process (one per process)

        def open_member(location):
            with lock:  # a seek and its read, not interleaved with another thread's
                stream.seek(location.offset)
                return io.BytesIO(stream.read(location.size))

        return open_member

    def decompressed(self):
        """The decompressed tar of a tar.bz2 or tar.xz, made once beside its listing (written whole,
        then renamed) and read by every reader, shard, worker and pass after; readers that start
        together (DataLoader workers) wait for the one making it."""
        path = os.path.join(self.folder, "decompressed.tar")
        if not os.path.exists(path):
            with filelock.FileLock(f"{path}.lock"):
                if not os.path.exists(path):
                    with _DECOMPRESSORS[self.compression](self.path) as tar:
                        self._write(None, tar, target=path)
        return path

    def _kept_listing(self):
        """The kept listing, or None when there is none, or it is partial or unreadable, or it is not
        what a listing of this archive writes (an edited listing in a shared cache is not trusted):
        then the archive is listed again."""
        try:
            with open(os.path.join(self.folder, "index.json"), "rb") as f:
                content = f.read()
            index = _parsed_json(content)
            if index["version"] != _INDEX_VERSION or index["archive"] != self.path:
                return None
            data_size = self._checked_seek_points(index["seek_points"])
            members = _trusted_members(content, self.path, self.is_zip, data_size)
            left_out, problems, encrypted = index["left_out"], index["problems"], index["encrypted"]
            trusted = (
                members is not None
                and all(isinstance(name, str) and isinstance(reason, str) for name, reason in left_out)
                and (problems is None if self.is_zip else _is_text_dict(problems))
                and all(isinstance(name, str) for name in encrypted)
            )
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError):
            return None
        if not trusted:
            return None
        for _, reason in left_out:
            logger.warning(f"{self.path}: {reason}")
        self.problems, self.encrypted = problems, encrypted
        return list(members)

    def _checked_seek_points(self, kept):
        """The size of the data a member's offset and size must fit in (None where it is unknown
        without decompressing: bzip2, xz), after checking the kept seek points of a tar.gz: a bare file
        name in this folder, of the kept size, that rapidgzip imports."""
        if bool(kept) != (self.compression == "gzip"):
            raise ValueError("seek points where none belong, or none where they do")
        if not kept:
            return os.stat(self.path).st_size if not self.compression else None
        name, size = kept
        if not re.fullmatch(r"seek-points-[0-9a-f]{32}\.bin", name) or not has_size(
            os.path.join(self.folder, name), size
        ):
            raise ValueError(f"seek points {name!r} are not this folder's")
        self.seek_points = os.path.join(self.folder, name)
        return _uncompressed_size(self.path, self.seek_points, os.stat(self.seek_points).st_mtime_ns)

    def _listed(self, extract):
        """Lists the archive in one pass, extracting what `extract` picks on the way, and keeps the listing."""
        with self._writing("the listing"):
            os.makedirs(self.folder, exist_ok=True)
        members, left_out, problems = {}, [], None if self.is_zip else {}
        description = f"{'Extracting' if extract else 'Listing'} {self.path}"
        try:
            with (
                contextlib.closing(self._zip_entries() if self.is_zip else self._tar_entries()) as entries,
                progress(None, description, "B", os.path.getsize(self.path)) as bar,
            ):
                for name, size, offset, read, position in entries:
                    bar.update(position - bar.n)
                    reason = _unsafe(name)
                    if reason:
                        logger.warning(f"{self.path}: {reason}")
                        left_out.append((name, reason))
                        continue
                    members.pop(name, None)  # a name held twice (appended by `tar -r`): its last copy
                    members[name] = Location(self.path, name, size, offset)
                    extracted = extract and extract(name)
                    if extracted:
                        self._write(name, read())
                    modality = problems is not None and _modality_of(name)
                    if modality:  # a tar passes by once: check its media now, for `imemnet-c check`
                        problems.pop(name, None)  # an earlier copy's
                        with io.open(self.extracted(name), "rb") if extracted else read() as stream:  # noqa: UP020
                            if problem := media_problem(stream, size, name, modality):
                                problems[name] = problem
        except _ARCHIVE_ERRORS as error:
            if isinstance(error, (_CacheUnwritable, _UntrustedCache)):
                raise
            raise _UnreadableArchive(
                f"{self.path} cannot be read as an archive ({error}). It may be truncated or not an archive "
                "despite its name: download it again, or move it out of data_dir."
            ) from None
        self.problems, listed = problems, list(members.values())
        self._keep(listed, left_out)
        return listed

    def _zip_entries(self):
        self.encrypted = []
        with zipfile.ZipFile(self.path) as archive:
            for info in archive.infolist():
                if info.flag_bits & _ZIP_ENCRYPTED:  # opening it would need the password
                    self.encrypted.append(info.filename)
                elif not info.is_dir():
                    yield (
                        info.filename,
                        info.file_size,
                        info.header_offset,
                        lambda i=info: archive.open(i),
                        info.header_offset,
                    )

    def _tar_entries(self):
        """A tar's regular files in one pass, with how far into the archive file each lies; a tar.gz
        through rapidgzip, whose seek points it keeps."""
        if not self.is_tar:
            raise ValueError("it is neither a zip nor a tar archive")
        with contextlib.ExitStack() as stack:
            if self.compression == "gzip":
                stream = stack.enter_context(rapidgzip.open(self.path, parallelization=0))
                position = lambda: stream.tell_compressed() // 8  # noqa: E731  (rapidgzip counts bits)
            else:
                raw = stack.enter_context(open(self.path, "rb"))
                stream = stack.enter_context(_DECOMPRESSORS[self.compression](raw)) if self.compression else raw
                position = raw.tell
            tar = stack.enter_context(tarfile.open(fileobj=stream, mode="r:"))
            for info in tar:
                if info.isreg():
                    yield info.name, info.size, info.offset_data, lambda i=info: tar.extractfile(i), position()
            if self.compression == "gzip":
                seek_points = os.path.join(self.folder, f"seek-points-{uuid.uuid4().hex}.bin")
                with self._writing("the seek points"):  # whole or absent, as every file of the cache
                    stream.export_index(f"{seek_points}.partial")
                    os.replace(f"{seek_points}.partial", seek_points)
                self.seek_points = seek_points

    def _write(self, name, source, target=None):
        """Writes a member under its name (or as `target`), whole or not at all (a partial file never
        has the name)."""
        target = target or self._extraction_target(name)
        partial = f"{target}.{uuid.uuid4().hex}.partial"
        try:
            with self._writing(f"the member {name}"):
                os.makedirs(target.rpartition("/")[0], exist_ok=True)
                with source, io.open(partial, "wb") as f:  # noqa: UP020  (the builtin is patched)
                    shutil.copyfileobj(source, f, 1 << 20)
                os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)

    def _keep(self, members, left_out):
        """Keeps the listing (written whole, then renamed: readers see all of it or none), and removes
        what the cache holds for earlier versions of the same archive, except the extractions a prepared
        dataset still reads."""
        seek_points = self.seek_points and [os.path.basename(self.seek_points), os.path.getsize(self.seek_points)]
        index = {
            "version": _INDEX_VERSION,
            "archive": self.path,
            "members": [[m.member, m.size, m.offset] for m in members],
            "left_out": left_out,
            "problems": self.problems,
            "seek_points": seek_points,
            "encrypted": self.encrypted,
        }
        partial = os.path.join(self.folder, f"index.json.{uuid.uuid4().hex}.partial")
        with self._writing("the listing"):
            with io.open(partial, "w", encoding="utf-8") as f:  # noqa: UP020
                json.dump(index, f)
            os.replace(partial, os.path.join(self.folder, "index.json"))
        path_digest, parent = os.path.basename(self.folder).split("-")[0], os.path.dirname(self.folder)
        for name in os.listdir(parent):
            other = os.path.join(parent, name)
            if name.startswith(f"{path_digest}-") and other != self.folder and not _read_by_a_prepared_dataset(other):
                shutil.rmtree(other, ignore_errors=True)

    def _record_reader(self, prepared):
        """Records that the prepared dataset in the folder `prepared` reads this archive's extraction."""
        readers = os.path.join(self.folder, "read_by")
        with self._writing("the record of a prepared dataset"):
            os.makedirs(readers, exist_ok=True)
            with io.open(os.path.join(readers, _digest(prepared)), "w", encoding="utf-8") as f:  # noqa: UP020
                f.write(prepared)


class MemberReader:
    """Reads archive members by location; the last member read from each archive is kept, so that
    consecutive pairs of one clip read it once. Each archive is opened once per process and stays
    open until it ends (see `_opener`)."""

    def __init__(self, archives):
        self._archives = archives
        self._last = {}

    def read(self, location):
        last = self._last.get(location.container)
        if last and last[0] == location:
            return last[1]
        with self.open(location) as stream:
            data = stream.read()
        self._last[location.container] = (location, data)
        return data

    def open(self, location):
        return _opener(self._archives[location.container])(location)


_OPENERS = {}  # {(process id, an archive's cache folder): its member opener}
_OPEN_ARCHIVES = {}  # {process id: the ExitStack closing that process's open archives at exit}


def _opener(archive):
    """The archive's member opener, made once per process: a streamed split reads its shards one
    after the other, and opening per shard parsed a zip's directory (0.1 s for EMOTIC's 23K
    pictures) or imported a tar.gz's seek points each time. Keyed by process, as workers forked
    after a read must open their own; closed at exit, as rapidgzip needs its readers closed."""
    key = (os.getpid(), archive.folder)
    if key not in _OPENERS:
        if os.getpid() not in _OPEN_ARCHIVES:
            _OPEN_ARCHIVES[os.getpid()] = contextlib.ExitStack()
            atexit.register(_close_archives, os.getpid())
        _OPENERS[key] = archive.opener(_OPEN_ARCHIVES[os.getpid()])
    return _OPENERS[key]


def _close_archives(process_id):
    if process_id == os.getpid():
        _OPEN_ARCHIVES.pop(process_id).close()


@functools.lru_cache(maxsize=8)
def _parsed_json(content):
    """A kept listing's JSON, parsed once per process and content (every config's plan reads it)."""
    return json.loads(content)


@functools.lru_cache(maxsize=8)
def _trusted_members(content, path, is_zip, data_size):
    """A kept listing's members, or None if one is not what a listing writes (a name the listing's
    filter refuses, an offset or size outside the archive's data): checked once per process and content."""
    members = tuple(Location(path, name, size, offset) for name, size, offset in _parsed_json(content)["members"])
    trusted = all(isinstance(m.member, str) and not _unsafe(m.member) and _fits(m, data_size, is_zip) for m in members)
    return members if trusted else None


@functools.lru_cache(maxsize=8)
def _uncompressed_size(path, seek_points, modified):
    """The size of a tar.gz's data, from its seek points, which must import (damaged ones raise
    "Magic bytes do not match!"): once per process and version of the seek points."""
    with rapidgzip.open(path, parallelization=0) as stream:
        stream.import_index(seek_points)
        return stream.seek(0, io.SEEK_END)


class _UnreadableArchive(ValueError):
    """A download in data_dir that cannot be read as the archive its name says."""


class _CacheUnwritable(OSError):
    """The datasets cache refused a write: the archive is fine, the cache folder is not."""


class _UntrustedCache(RuntimeError):
    """The cache folder holds what a listing or extraction never writes: a link leading outside."""


_FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
_WRITE_ERRNOS = {*_FULL_DISK, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG}


def _read_by_a_prepared_dataset(folder):
    """Whether a prepared dataset that reads this archive folder's extraction is still in the cache
    (or being prepared): then the folder is kept, though its archive changed since."""
    readers = os.path.join(folder, "read_by")
    for name in os.listdir(readers) if os.path.isdir(readers) else ():
        with contextlib.suppress(OSError):
            with io.open(os.path.join(readers, name), encoding="utf-8") as f:  # noqa: UP020
                prepared = f.read()
            if os.path.isdir(prepared) or os.path.isdir(f"{prepared}.incomplete"):
                return True
    return False


def _modality_of(name):
    return next((modality for modality in (IMAGES, AUDIO) if media_file_id(name, modality)), None)


def _unsafe(name):
    """Why a member is left out (its path points outside the extraction, or it is an archive), or None."""
    dotdot = ".." in name and ".." in re.split(r"[\\/]", name)  # split only names that may hold it
    if name.startswith(("/", "\\")) or name[1:2] == ":" and name[:1].isalpha() or dotdot:
        return f"left out the member {name!r}, whose path points outside the archive."
    if name.lower().endswith(_ARCHIVE_EXTENSIONS):
        return f"the archive {name!r} inside it is not opened; extract it into data_dir to use it."
    return None


def _fits(location, data_size, is_zip):
    """Whether a listed member's offset and size are whole numbers within the archive's data (a zip
    member's size is its inflated one: only its offset is bounded)."""
    offset, size = location.offset, location.size
    if not (type(offset) is int and type(size) is int and offset >= 0 and size >= 0):
        return False
    return data_size is None or (offset < data_size if is_zip else offset + size <= data_size)


def _is_text_dict(value):
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _compression(path):
    """`gzip`, `bzip2` or `xz` for a compressed file, by its first bytes; None for any other."""
    with open(path, "rb") as f:
        head = f.read(6)
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def has_size(path, size):
    try:
        return os.stat(path).st_size == size
    except OSError:
        return False


def _digest(*parts):
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def progress(iterable, description, unit, total=None):
    """datasets' progress bar (its switches turn it off), shown only for what lasts over two seconds."""
    return _tqdm(iterable, desc=description, unit=unit, unit_scale=True, total=total, delay=2)


try:  # its home; datasets.utils.logging re-exports it for compatibility only
    from datasets.utils.tqdm import tqdm as _tqdm
except ImportError:
    from datasets.utils.logging import tqdm as _tqdm
