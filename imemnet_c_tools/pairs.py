"""Random image-music pairs scored by the similarity of their valence and arousal (VA), the way MMVA
trains: its abstract says the continuous matching score "allows for random sampling of image-music
pairs during training by computing similarity scores from the valence-arousal values across
different modalities".

    from imemnet_c_tools.pairs import va_pairs

    for epoch in range(epochs):
        pairs = va_pairs("~/imemnet_raw", split="train", seed=0, epoch=epoch)  # a datasets.IterableDataset
        loader = torch.utils.data.DataLoader(pairs, batch_size=32, num_workers=2, collate_fn=...)

Splits hold songs out whole: IMEMNet's clips are segments of DEAM songs (`<song>-<segment>`), and
its validation and test matching files name some segments of a song and not others, so a split by
clip id would put neighbouring seconds of one recording on both sides. A song any of whose clips a
held-out file names belongs to that held-out split, every segment of it; `split_rule="item"` gives
the rule by id. Images are held out by id.

The plan of a split (the annotation files read, every media file found and checked) is made once
per process and kept, so that each epoch after the first costs only its draw. `preprocess` runs a
function once per picture and once per clip and keeps the arrays in the datasets cache; `va_pairs`
then draws the same pairs from it (`items=`), without decoding a file.

The score's formula is not published, and neither paper's code is. The default kernel is an
ASSUMPTION, not MMVA's formula: score = exp(-d / 0.384), d the Euclidean distance between the
image's and the clip's (valence, arousal), both in [0, 1]. It is the one fit that reproduces part
of IMEMNet's published scores (exactly for some clips, not for others; EMOTIC pairs with almost the
same image VA carry different published scores, so IMEMNet probably used other image VA values).
Fits of exp(-d^2/t), 1-d/t and 1-d^2/t leave typical errors of 0.026 to 0.035, with t about 0.25
to 0.5. Pass another named kernel and scale, or a callable, to use another.
"""

import dataclasses
import functools
import importlib.util
import io
import logging
import os
from typing import NamedTuple

import datasets
import numpy
import pyarrow
import soundfile
from datasets.fingerprint import Hasher

import imemnet_c

KERNELS = {  # d: the Euclidean VA distance, in [0, sqrt(2)]; t: the scale
    "exponential": lambda d, t: numpy.exp(-d / t),
    "gaussian": lambda d, t: numpy.exp(-(d**2) / t),
    "linear": lambda d, t: numpy.clip(1 - d / t, 0.0, 1.0),
}
DEFAULT_KERNEL, DEFAULT_SCALE = "exponential", 0.384
HELD_OUT = {"validation": "val_matching.txt", "test": "test_matching.txt"}  # never in a training pair
SPLIT_RULES = ("song", "item")
MAX_BALANCE = 1000  # score bins
REJECTION_ROUNDS = 32  # balanced draws tried at random before an anchor's bin is searched in full

logger = logging.getLogger(__name__)

# Audio decoded to one channel: datasets 3.x's default; 4.4 and newer ask for it (num_channels).
_MONO = {"num_channels": 1} if "num_channels" in {f.name for f in dataclasses.fields(datasets.Audio)} else {}
_SOXR_INSTALLED = importlib.util.find_spec("soxr") is not None


class SoundfileAudio(datasets.Audio):
    """The Audio column of the pairs and of `preprocess`, decoded alike on every datasets line: with
    soundfile to one channel of float32 samples, resampled by soxr (`_soundfile_decoded`). datasets'
    own decoders are slower for this (datasets 3 reads float64 and mixes down with librosa, 4 and
    newer decode through torchcodec); one resamples only where soxr is not installed, into the same
    dict of float32 samples."""

    def decode_example(self, value, token_per_repo_id=None):
        if self.sampling_rate and not _SOXR_INSTALLED and not imemnet_c.audio_backend_problem():
            decoded = super().decode_example(value, token_per_repo_id=token_per_repo_id)
            samples = numpy.asarray(decoded["array"], numpy.float32)
            return {"path": value["path"], "array": samples, "sampling_rate": decoded["sampling_rate"]}
        return _soundfile_decoded(value, self.sampling_rate)


def _soundfile_decoded(audio, sampling_rate):
    """A clip's file (`{"path", "bytes"}`, bytes None for a local path) decoded with soundfile:
    `{"path", "array", "sampling_rate"}`, one channel of float32 samples (the mean of its channels),
    resampled to `sampling_rate` (by soxr, as librosa does) when given."""
    with soundfile.SoundFile(io.BytesIO(audio["bytes"]) if audio["bytes"] is not None else audio["path"]) as clip:
        frames, rate = clip.read(dtype="float32", always_2d=True), clip.samplerate
    # the channels added column by column: numpy's mean over the short channel axis is the same
    # arithmetic but some 20 times slower
    samples = frames[:, 0].copy()
    for channel in range(1, frames.shape[1]):
        samples += frames[:, channel]
    samples /= frames.shape[1]
    if sampling_rate and sampling_rate != rate:
        if not _SOXR_INSTALLED:
            raise ImportError(f"Resampling to {sampling_rate} Hz without torchcodec needs soxr: pip install soxr")
        import soxr

        samples, rate = soxr.resample(samples, rate, sampling_rate), sampling_rate  # float32 stays float32
    return {"path": audio["path"], "array": samples, "sampling_rate": rate}


def va_score(image_va, music_va, kernel=DEFAULT_KERNEL, scale=DEFAULT_SCALE):
    """Scores of images against clips from their VA, arrays of shape (..., 2) that broadcast: a
    named kernel of the Euclidean distance, or `kernel(image_va, music_va)` when it is a callable."""
    image_va, music_va = _floats(image_va), _floats(music_va)
    if callable(kernel):
        return numpy.asarray(kernel(image_va, music_va))
    if kernel not in KERNELS:
        raise ValueError(f"kernel={kernel!r}: expected a callable or one of {sorted(KERNELS)}.")
    valence, arousal = image_va[..., 0] - music_va[..., 0], image_va[..., 1] - music_va[..., 1]
    return KERNELS[kernel](numpy.sqrt(valence * valence + arousal * arousal), scale)


def _floats(values):
    """An array of floats: float32 stays float32 (the balanced draw's speed), anything else float64."""
    values = numpy.asarray(values)
    return values if values.dtype == numpy.float32 else values.astype(numpy.float64)


class Items(NamedTuple):
    """The images and the clips of a split, each id once (its first annotation row, as `paired`
    takes it), with its VA and where its data lie: a media `Location` (decoded pairs) or a row of
    the preprocessed datasets (`preprocess`)."""

    image_ids: tuple
    image_va: numpy.ndarray  # (images, 2) float32
    image_sources: tuple  # per image: a Location, or its row in the preprocessed images
    clip_ids: tuple
    clip_va: numpy.ndarray  # (clips, 2) float32
    clip_sources: tuple
    captions: tuple
    media: tuple  # (image Media, clip Media) for decoded pairs; (images, clips) Arrow-formatted when preprocessed


@dataclasses.dataclass(frozen=True)
class _Planned:
    """A split's items, as a key into this process's kept plans: what datasets fingerprints and what
    a spawned DataLoader worker receives is this key, not the items (a new process plans again)."""

    key: tuple

    def items(self):
        return _planned_items(*self.key)


def va_pairs(
    data_dir,
    split="train",
    *,
    seed=0,
    epoch=0,
    pairs_per_item=1,
    kernel=DEFAULT_KERNEL,
    scale=DEFAULT_SCALE,
    balance=None,
    split_rule="song",
    streaming=False,
    sampling_rate=None,
    num_shards=64,
    cache_dir=None,
    missing_media="error",
    items=None,
):
    """One epoch of random image-music pairs, as a `datasets.IterableDataset` of `num_shards` shards
    (DataLoader workers and `split_dataset_by_node` ranks each take their own shards: every pair
    once; `state_dict()` resumes it). Each image and each clip of the split is the anchor of
    `pairs_per_item` pairs, its partner drawn at random from the other modality; the same
    (seed, epoch) gives the same pairs.

    - `split`: "train" (every item not held out for validation or test), "validation" or "test"
      (the images that split's matching file names, and the clips of the songs it names), or None
      (every item). `split_rule="item"` holds clips out by id instead of by song.
    - `balance`: None draws partners uniformly; an integer k draws each pair's score bin uniformly
      among the k equal bins of [0, 1] that the anchor can reach, then a partner uniformly in it.
      Every score lies in [0, 1] (a callable kernel's too, or it is an error), so every anchor
      reaches at least one bin.
    - `streaming`: read media in place from the archives (by their kept listings) instead of from
      their extraction in the cache. `sampling_rate`: what each clip is resampled to (`SoundfileAudio`).
    - `items`: a `preprocess(...)` result: the pairs carry its arrays instead of decoded media.
    Items whose media are missing or unreadable are an error, as in a load, or with
    missing_media="skip" left out and counted; images named by matching files but not annotated have
    no VA and are not paired."""
    if split is not None and split not in ("train", *HELD_OUT):
        raise ValueError(f"split={split!r}: expected 'train', 'validation', 'test' or None.")
    if split_rule not in SPLIT_RULES:
        raise ValueError(f"split_rule={split_rule!r}: expected one of {SPLIT_RULES}.")
    if items is None:
        planned = _Planned((_absolute(data_dir), split, split_rule, streaming, cache_dir, missing_media))
        features = _features(sampling_rate)
    else:
        planned = items.selected(split, split_rule)
        features = items.pair_features
    drawn = draw_epoch(planned.items(), seed, epoch, pairs_per_item, kernel, scale, balance)
    parts = numpy.array_split(numpy.arange(len(drawn[0])), min(num_shards, len(drawn[0])))
    builder = _PairsBuilder(cache_dir=cache_dir, features=features)
    shards = [tuple(column[part] for column in drawn) for part in parts]
    # the schema made once, not in each shard's generator: tables in it need no cast, row by row, when iterated
    builder.epoch = {"shards": shards, "planned": planned, "schema": features.arrow_schema}
    pairs = builder.as_streaming_dataset(split="train")
    if items is not None:
        return pairs.map(_restore, fn_kwargs={"arrays": items.arrays})
    return pairs


class _PairsBuilder(datasets.ArrowBasedBuilder):
    """One epoch's pairs as small Arrow tables: datasets reads them without converting each pair to
    Python and back (what `IterableDataset.from_generator` does), and shards, resumes and splits them
    by rank as any streamed dataset. `epoch` holds the drawn shards, the plan's key and the tables' schema."""

    epoch = None

    def _info(self):
        return datasets.DatasetInfo()  # the features are given to the constructor

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name="train", gen_kwargs=self.epoch)]

    def _generate_tables(self, shards, planned, schema):
        generate = _generate_preprocessed if isinstance(planned, _PreprocessedSplit) else _generate
        for index, (images, clips, scores) in enumerate(shards):
            for start in range(0, len(images), ROWS_PER_TABLE):
                part = slice(start, start + ROWS_PER_TABLE)
                columns = generate(planned.items(), images[part], clips[part], scores[part])
                yield (index, start), pyarrow.Table.from_pydict(columns, schema=schema)


ROWS_PER_TABLE = 64


def draw_epoch(items, seed, epoch, pairs_per_item=1, kernel=DEFAULT_KERNEL, scale=DEFAULT_SCALE, balance=None):
    """The epoch's pairs as three arrays in their shuffled order: image index, clip index (into
    `items`) and score. Reproducible from (seed, epoch) and the items."""
    if not items.image_ids or not items.clip_ids:
        raise ValueError(f"{len(items.image_ids)} images and {len(items.clip_ids)} clips: nothing to pair.")
    if not isinstance(pairs_per_item, int) or pairs_per_item < 1:
        raise ValueError(f"pairs_per_item={pairs_per_item!r}: expected a positive integer.")

    def score(image_va, clip_va):
        return _checked_scores(va_score(image_va, clip_va, kernel, scale), kernel)

    rng = numpy.random.default_rng([seed, epoch])
    image_va, clip_va = items.image_va, items.clip_va
    if balance is None:
        clips_of_images = rng.integers(len(clip_va), size=(len(image_va), pairs_per_item))
        images_of_clips = rng.integers(len(image_va), size=(len(clip_va), pairs_per_item))
    else:
        reach_of_images, reach_of_clips = _reachable_bins(image_va, clip_va, _checked_balance(balance), kernel, scale)
        clips_of_images = _balanced(image_va, clip_va, reach_of_images, pairs_per_item, rng, score)
        images_of_clips = _balanced(clip_va, image_va, reach_of_clips, pairs_per_item, rng, lambda c, i: score(i, c))
    images = numpy.concatenate([numpy.repeat(numpy.arange(len(image_va)), pairs_per_item), images_of_clips.ravel()])
    clips = numpy.concatenate([clips_of_images.ravel(), numpy.repeat(numpy.arange(len(clip_va)), pairs_per_item)])
    order = rng.permutation(len(images))
    images, clips = images[order].astype(numpy.int32), clips[order].astype(numpy.int32)
    return images, clips, score(image_va[images], clip_va[clips]).astype(numpy.float32)


def _checked_balance(balance):
    if isinstance(balance, bool) or not isinstance(balance, (int, numpy.integer)) or not 1 <= balance <= MAX_BALANCE:
        raise ValueError(f"balance={balance!r}: expected None or an integer number of score bins, 1 to {MAX_BALANCE}.")
    return int(balance)


def _checked_scores(scores, kernel):
    scores = numpy.asarray(scores)
    if scores.size and not (numpy.isfinite(scores).all() and scores.min() >= 0 and scores.max() <= 1):
        raise ValueError(
            f"kernel={kernel!r} gave scores outside [0, 1] (from {numpy.nanmin(scores)} to {numpy.nanmax(scores)}, "
            f"NaN: {int(numpy.isnan(scores).sum())}): a kernel must score every pair in [0, 1]."
        )
    return scores


def _bins(scores, balance):
    return numpy.minimum((scores * balance).astype(numpy.int64), balance - 1)


@functools.lru_cache(maxsize=8)
def reachable_bins_scored(image_va_bytes, clip_va_bytes, balance, kernel, scale):
    """`_reachable_bins`' work, kept per process and arguments (its `cache_info()` says how often it
    was reused): the distinct VA values of the items scored against each other."""
    image_va = numpy.frombuffer(image_va_bytes, numpy.float32).reshape(-1, 2)
    clip_va = numpy.frombuffer(clip_va_bytes, numpy.float32).reshape(-1, 2)
    # distinct VA values only: EMOTIC's images take about a hundred, so this is far smaller than all pairs
    images, image_of = numpy.unique(image_va, axis=0, return_inverse=True)
    clips, clip_of = numpy.unique(clip_va, axis=0, return_inverse=True)
    of_images = numpy.zeros((len(images), balance), bool)
    of_clips = numpy.zeros((len(clips), balance), bool)
    for start in range(0, len(images), 256):
        scores = _checked_scores(va_score(images[start : start + 256, None], clips[None], kernel, scale), kernel)
        bins = _bins(scores, balance)
        of_images[start + numpy.arange(len(bins))[:, None], bins] = True
        of_clips[numpy.arange(len(clips))[None, :], bins] = True
    return of_images[image_of.ravel()], of_clips[clip_of.ravel()]


def _reachable_bins(image_va, clip_va, balance, kernel, scale):
    """Per image and per clip, which of the `balance` score bins its partners can fill; kept per
    process and (items, balance, kernel, scale), so that only the first epoch pays for scoring the
    distinct VA values against each other."""
    return reachable_bins_scored(
        image_va.astype(numpy.float32).tobytes(), clip_va.astype(numpy.float32).tobytes(), balance, kernel, scale
    )


def _balanced(anchor_va, other_va, reachable, count, rng, score):
    """`count` partners per anchor: a bin uniformly among those it reaches, then a partner uniformly
    in the bin, by drawing partners at random until one falls in it (`REJECTION_ROUNDS` tries), then
    by scoring the anchor against every partner."""
    balance = reachable.shape[1]
    anchors = numpy.repeat(numpy.arange(len(anchor_va)), count)
    choice = rng.random(len(anchors)) * reachable.sum(axis=1)[anchors]
    target = numpy.argmax(numpy.cumsum(reachable, axis=1)[anchors] > choice[:, None], axis=1)
    partners, pending = numpy.full(len(anchors), -1, numpy.int64), numpy.arange(len(anchors))
    for _ in range(REJECTION_ROUNDS):
        if not len(pending):
            break
        candidates = rng.integers(len(other_va), size=len(pending))
        hit = _bins(score(anchor_va[anchors[pending]], other_va[candidates]), balance) == target[pending]
        partners[pending[hit]] = candidates[hit]
        pending = pending[~hit]
    for start in range(0, len(pending), 256):
        block = pending[start : start + 256]
        bins = _bins(score(anchor_va[anchors[block], None], other_va[None]), balance)
        keys = rng.random(bins.shape, dtype=numpy.float32)
        partners[block] = numpy.where(bins == target[block, None], keys, -1).argmax(axis=1)
    return partners.reshape(len(anchor_va), count)


def _features(sampling_rate):
    string, number = datasets.Value("string"), datasets.Value("float32")
    return datasets.Features(
        {
            **_ID_FEATURES,
            "image": datasets.Image(),
            "audio": SoundfileAudio(sampling_rate=sampling_rate, **_MONO),
            "caption": string,
            **{name: number for name in _VA_FIELDS},
            "score": number,
        }
    )


_ID_FEATURES = {"image_id": datasets.Value("string"), "clip_id": datasets.Value("string")}
_VA_FIELDS = ("image_valence", "image_arousal", "music_valence", "music_arousal")


def _pair_columns(items, images, clips, scores):
    """The pairs' ids, caption, VA and score, as Arrow columns."""
    return {
        "image_id": pyarrow.array([items.image_ids[i] for i in images.tolist()], pyarrow.string()),
        "clip_id": pyarrow.array([items.clip_ids[c] for c in clips.tolist()], pyarrow.string()),
        "caption": pyarrow.array([items.captions[c] for c in clips.tolist()], pyarrow.string()),
        "image_valence": items.image_va[images, 0],
        "image_arousal": items.image_va[images, 1],
        "music_valence": items.clip_va[clips, 0],
        "music_arousal": items.clip_va[clips, 1],
        "score": scores,
    }


def _generate(items, images, clips, scores):
    """The columns of decoded pairs: their media as paths (extracted) or bytes (read in place)."""
    image_media, clip_media = items.media
    image_members, clip_members = image_media.reader(), clip_media.reader()
    image_files = [image_media.file(items.image_sources[i], image_members) for i in images.tolist()]
    clip_files = [clip_media.file(items.clip_sources[c], clip_members) for c in clips.tolist()]
    return {**_pair_columns(items, images, clips, scores), "image": image_files, "audio": clip_files}


def _generate_preprocessed(items, images, clips, scores):
    """The columns of pairs with their image's and clip's preprocessed arrays, taken from the
    memory-mapped Arrow files a table at a time; each array as its raw bytes, which `_restore`
    turns back into an array in the reader (datasets' numpy formatting would convert each array row
    by row and widen integers to int64: 8x the bytes of a uint8 picture)."""
    columns = _pair_columns(items, images, clips, scores)
    for dataset, rows in ((items.media[0], images), (items.media[1], clips)):
        sources = items.image_sources if dataset is items.media[0] else items.clip_sources
        taken = dataset[[sources[i] for i in rows.tolist()]]
        for name, feature in dataset.features.items():
            if name not in _ITEM_COLUMNS:
                layout = _array_layout(feature)
                columns[name] = _as_bytes(taken.column(name), layout) if layout else taken.column(name)
    return columns


def _array_layout(feature):
    """(dtype, shape) of an array feature (shape None: 1-D of any length); None for a scalar."""
    if hasattr(feature, "shape"):  # Array2D to Array5D
        return feature.dtype, tuple(feature.shape)
    if hasattr(feature, "feature"):  # a sequence of values
        return feature.feature.dtype, None
    return None


def _as_bytes(column, layout):
    """Each row of an array column as the raw bytes of its values (C order)."""
    column = column.combine_chunks()
    values = column.storage if isinstance(column.type, pyarrow.ExtensionType) else column
    if layout[1] is None:
        bounds = column.offsets.to_numpy() - column.offsets[0].as_py()
    while hasattr(values, "flatten"):
        values = values.flatten()
    flat = values.to_numpy(zero_copy_only=False)
    if layout[1] is not None:
        bounds = numpy.arange(len(column) + 1) * (len(flat) // max(len(column), 1))
    flat_bytes, offsets = pyarrow.py_buffer(flat), pyarrow.py_buffer((bounds * flat.itemsize).astype(numpy.int32))
    return pyarrow.Array.from_buffers(pyarrow.binary(), len(column), [None, offsets, flat_bytes])


def _restore(pair, arrays):
    """A pair's preprocessed arrays from their bytes (read-only views, no copy)."""
    return {
        name: numpy.frombuffer(pair[name], numpy.dtype(dtype)).reshape(shape or (-1,))
        for name, (dtype, shape) in arrays.items()
    }


_ITEM_COLUMNS = {"image_id", "clip_id", "song_id", "caption", "valence", "arousal", "source"}


def _absolute(data_dir):
    return data_dir and os.path.abspath(os.path.expanduser(data_dir))


@functools.lru_cache(maxsize=16)
def _planned_items(data_dir, split, split_rule, streaming, cache_dir, missing_media):
    """The items of `split`, found as a load finds them (media located and checked), once per
    process and arguments."""
    held_out = _held_out(data_dir, split, split_rule, cache_dir)
    plans = imemnet_c.make_plan(
        ["image", "music"], data_dir, extract=not streaming, cache_dir=cache_dir, missing_media=missing_media
    )
    found = []
    for config, modality in (("image", imemnet_c.IMAGES), ("music", imemnet_c.AUDIO)):
        plan = plans[config]
        readable = plan.media.readable(plan.located("train"), skip_unreadable=missing_media == "skip")
        found.append(([(row, where[modality]) for row, where in readable], plan.media))
    (image_rows, image_media), (clip_rows, clip_media) = found
    return _select(
        [(row.id, row.valence, row.arousal, location, None) for row, location in image_rows],
        [(row.id, row.valence, row.arousal, location, row.caption) for row, location in clip_rows],
        split,
        held_out,
        (image_media, clip_media),
    )


def forget_plans():
    """Drops the plans this process keeps: the next `va_pairs` reads the annotations and listings again."""
    _planned_items.cache_clear()
    reachable_bins_scored.cache_clear()
    _PREPROCESSED_ITEMS.clear()


def _select(images, clips, split, held_out, media):
    """`Items` of `split` from (id, valence, arousal, source, caption) of every image and clip:
    the first row of each id, and the ids `held_out` says belong to the split."""

    def first_per_id(rows, modality):
        kept = {}
        for row in rows:
            if row[0] not in kept and (held_out is None or held_out(modality, row[0])):
                kept[row[0]] = row
        return list(kept.values())

    if held_out is not None and held_out.split_rule == "song":
        beyond = {
            row[0] for row in clips if row[0] not in held_out.clips and imemnet_c.song_of(row[0]) in held_out.songs
        }
        logger.info(
            f"split={split!r}: the song rule held out {len(beyond)} clips beyond the {len(held_out.clips)} that the "
            "held-out matching files name (every segment of a held-out song)"
            if split == "train"
            else f"split={split!r}: {len(beyond)} clips joined it beyond the {len(held_out.clips)} its matching file names "
            "(every segment of its songs)"
        )
    images, clips = first_per_id(images, imemnet_c.IMAGES), first_per_id(clips, imemnet_c.AUDIO)
    return Items(
        image_ids=tuple(row[0] for row in images),
        image_va=numpy.array([row[1:3] for row in images], numpy.float32).reshape(-1, 2),
        image_sources=tuple(row[3] for row in images),
        clip_ids=tuple(row[0] for row in clips),
        clip_va=numpy.array([row[1:3] for row in clips], numpy.float32).reshape(-1, 2),
        clip_sources=tuple(row[3] for row in clips),
        captions=tuple(row[4] for row in clips),
        media=media,
    )


def _held_out(data_dir, split, split_rule, cache_dir):
    """A `_Membership` of `split` (None: every item), from the matching files."""
    if split is None:
        return None
    paired = imemnet_c.make_plan("paired_annotations", data_dir, cache_dir=cache_dir)
    named = _Membership(split, split_rule, set(), set(), set())
    for name in HELD_OUT if split == "train" else (split,):
        if name not in paired.tables:
            raise ValueError(f"split={split!r} needs {HELD_OUT[name]}, which is unavailable: {paired.absent.get(name)}")
        for pair in paired.rows(name):
            named.images.add(pair.image_id)
            named.clips.add(pair.clip_id)
            named.songs.add(imemnet_c.song_of(pair.clip_id))
    return named


class _Membership(NamedTuple):
    """Which items belong to a split: images by id; clips by song (`split_rule="song"`) or by id.
    For "train", the ids and songs are those the held-out matching files name."""

    split: str
    split_rule: str
    images: set
    clips: set
    songs: set

    def __call__(self, modality, media_id):
        if modality == imemnet_c.IMAGES:
            named = media_id in self.images
        else:
            named = imemnet_c.song_of(media_id) in self.songs if self.split_rule == "song" else media_id in self.clips
        return named != (self.split == "train")


def preprocess(
    data_dir,
    *,
    image=None,
    audio=None,
    sampling_rate=None,
    num_proc=None,
    cache_dir=None,
    missing_media="error",
):
    """Runs `image(picture)` once per picture (a PIL image) and `audio(samples, sampling_rate)` once
    per clip (mono float32 samples, resampled to `sampling_rate` if given), each returning a dict of
    numpy arrays (fixed shapes stack into batches), and keeps the results as Arrow in the datasets
    cache, beside the prepared `image` and `music` configs: `datasets.Dataset.map` with `num_proc`
    processes, made again only when a function (its code, or the arguments a `functools.partial`
    binds), `sampling_rate` or the download changes (datasets' fingerprints). Pass the result as
    `va_pairs(..., items=...)`: the same pairs as decoded ones, with these arrays instead of media."""
    load = functools.partial(imemnet_c.load, data_dir=data_dir, cache_dir=cache_dir, missing_media=missing_media)
    images = load("image", split="train")
    if image is not None:
        images = _mapped(images, "image", _apply_image, image, num_proc)
    clips = load("music", split="train")
    clips = clips.cast_column("audio", SoundfileAudio(sampling_rate=sampling_rate, **_MONO))
    if audio is not None:
        clips = _mapped(clips, "audio", _apply_audio, audio, num_proc)
    return Preprocessed(images, clips, _absolute(data_dir), cache_dir)


def _apply_image(example, function):
    return function(example["image"])


def _apply_audio(example, function):
    return function(example["audio"]["array"], example["audio"]["sampling_rate"])


def _mapped(dataset, column, apply, function, num_proc):
    """`dataset` with `column` replaced by what `function` returns, as datasets' cached `map`."""
    first = apply(dataset[0], function)
    kept = {name: feature for name, feature in dataset.features.items() if name != column}
    features = datasets.Features({**kept, **{name: _feature_of(value) for name, value in first.items()}})
    # the cache's name, from what makes its content: datasets' own hash of map's arguments varied
    # between identical calls here (its Features objects), which would preprocess everything again
    fingerprint = Hasher.hash([dataset._fingerprint, apply.__name__, function, _code_of(function), str(features)])
    return dataset.map(
        apply,
        fn_kwargs={"function": function},
        remove_columns=[column],
        features=features,
        num_proc=num_proc,
        desc=f"Preprocessing each {column}",
        new_fingerprint=fingerprint,
    )


def _code_of(function):
    """The code `function` runs (a partial's function's), for the cache's name: datasets hashes a
    function that a module defines by its name alone, so an edited one would reuse the old cache."""
    while isinstance(function, functools.partial):
        function = function.func
    return getattr(function, "__code__", None)


def _feature_of(value):
    """The datasets feature that stores `value` (a numpy array or a number) without converting it."""
    value = numpy.asarray(value)
    if value.ndim == 0:
        return datasets.Value(str(value.dtype))
    if value.ndim == 1:
        return datasets.Sequence(datasets.Value(str(value.dtype)))
    if value.ndim > 5:
        raise ValueError(f"a preprocessed array of {value.ndim} dimensions: at most 5 are stored (datasets' Array5D).")
    return getattr(datasets, f"Array{value.ndim}D")(shape=value.shape, dtype=str(value.dtype))


class Preprocessed:
    """Each picture and each clip run once through a function (`preprocess`), kept as Arrow in the
    datasets cache: `images` and `clips` are memory-mapped `datasets.Dataset`s, one row per row of
    image_va.csv and music_va.csv, with the function's columns beside the ids, VA and caption."""

    def __init__(self, images, clips, data_dir, cache_dir):
        self.images, self.clips, self.data_dir, self.cache_dir = images, clips, data_dir, cache_dir
        made = {name: f for d in (images, clips) for name, f in d.features.items() if name not in _ITEM_COLUMNS}
        self.arrays = {name: _array_layout(f) for name, f in made.items() if _array_layout(f)}  # {name: (dtype, shape)}
        self.pair_features = datasets.Features(
            {
                **_ID_FEATURES,
                "caption": datasets.Value("string"),
                **{name: datasets.Value("float32") for name in _VA_FIELDS},
                "score": datasets.Value("float32"),
                **{name: datasets.Value("binary") if name in self.arrays else f for name, f in made.items()},
            }
        )

    def selected(self, split, split_rule):
        """The items of `split` as `va_pairs` takes them, kept per process."""
        return _PreprocessedSplit(self, split, split_rule)


@dataclasses.dataclass(frozen=True)
class _PreprocessedSplit:
    preprocessed: Preprocessed  # pickled (and fingerprinted) as its datasets' files, not their rows
    split: str | None
    split_rule: str

    def items(self):
        images, clips = self.preprocessed.images, self.preprocessed.clips
        key = (images._fingerprint, clips._fingerprint, self.split, self.split_rule)
        if key not in _PREPROCESSED_ITEMS:
            held_out = _held_out(self.preprocessed.data_dir, self.split, self.split_rule, self.preprocessed.cache_dir)
            image_rows = images.select_columns(["image_id", "valence", "arousal"]).to_dict()
            clip_rows = clips.select_columns(["clip_id", "valence", "arousal", "caption"]).to_dict()
            _PREPROCESSED_ITEMS[key] = _select(
                [(*row, n, None) for n, row in enumerate(zip(*image_rows.values(), strict=True))],
                [(i, v, a, n, c) for n, (i, v, a, c) in enumerate(zip(*clip_rows.values(), strict=True))],
                self.split,
                held_out,
                (images.with_format("arrow"), clips.with_format("arrow")),  # formatted once: a copy of the dataset
            )
        return _PREPROCESSED_ITEMS[key]


_PREPROCESSED_ITEMS = {}  # this process's items of preprocessed splits
