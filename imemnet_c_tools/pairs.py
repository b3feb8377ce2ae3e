"""Random image-music pairs scored by the similarity of their valence and arousal (VA), the way MMVA
trains: its abstract says the continuous matching score "allows for random sampling of image-music
pairs during training by computing similarity scores from the valence-arousal values across
different modalities".

    from imemnet_c_tools.pairs import va_pairs

    for epoch in range(epochs):
        pairs = va_pairs("~/imemnet_raw", split="train", seed=0, epoch=epoch)  # a datasets.IterableDataset
        loader = torch.utils.data.DataLoader(pairs, batch_size=32, num_workers=2, collate_fn=...)

The score's formula is not published, and neither paper's code is. The default kernel is an
ASSUMPTION, not MMVA's formula: score = exp(-d / 0.384), d the Euclidean distance between the
image's and the clip's (valence, arousal), both in [0, 1]. It is the one fit that reproduces part
of IMEMNet's published scores (exactly for some clips, not for others; EMOTIC pairs with almost the
same image VA carry different published scores, so IMEMNet probably used other image VA values).
Fits of exp(-d^2/t), 1-d/t and 1-d^2/t leave typical errors of 0.026 to 0.035, with t about 0.25
to 0.5. Pass another named kernel and scale, or a callable, to use another.
"""

import dataclasses
import itertools
from typing import NamedTuple

import datasets
import numpy

import imemnet_c

KERNELS = {  # d: the Euclidean VA distance, in [0, sqrt(2)]; t: the scale
    "exponential": lambda d, t: numpy.exp(-d / t),
    "gaussian": lambda d, t: numpy.exp(-(d**2) / t),
    "linear": lambda d, t: numpy.clip(1 - d / t, 0.0, 1.0),
}
DEFAULT_KERNEL, DEFAULT_SCALE = "exponential", 0.384
MATCHING_SPLITS = ("validation", "test")  # held out: their images and clips never enter training pairs


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


class _Item(NamedTuple):
    id: str
    va: tuple  # (valence, arousal)
    location: object  # where its media file lies (imemnet_c._Location)
    caption: str | None = None


@dataclasses.dataclass(frozen=True)
class _Items:  # not a list: datasets shards the lists of gen_kwargs
    images: tuple
    clips: tuple
    image_media: object  # the loader's _Media of each config: it gives a location's file
    clip_media: object


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
    streaming=False,
    sampling_rate=None,
    num_shards=64,
    cache_dir=None,
    missing_media="error",
):
    """One epoch of random image-music pairs, as a `datasets.IterableDataset` of `num_shards` shards
    (DataLoader workers and `split_dataset_by_node` ranks each take their own shards: every pair
    once). Each image and each clip of the split is the anchor of `pairs_per_item` pairs, its
    partner drawn at random from the other modality; the same (seed, epoch) gives the same pairs.

    - `split`: "train" (the items that neither IMEMNet's validation nor its test matching file names:
      items in no matching file are training items), "validation" or "test" (the items that file
      names), or None (every item).
    - `balance`: None draws partners uniformly; an integer k draws each pair's score bin uniformly
      among k equal bins of [0, 1] (those the anchor can reach), so that low and high scores are as
      frequent.
    - `streaming`: read media in place from the archives (by their kept listings) instead of from
      the prepared extraction in the cache.
    - `sampling_rate`: what datasets' Audio feature resamples to when decoding.
    Items the annotation files name but whose media are missing are an error, as in a load, or with
    missing_media="skip" left out; images named by matching files but not annotated have no VA and
    are not paired."""
    items = _items(data_dir, split, streaming, cache_dir, missing_media)
    if not items.images or not items.clips:
        raise ValueError(
            f"split={split!r} holds {len(items.images)} images and {len(items.clips)} clips: nothing to pair."
        )
    image_va = numpy.array([item.va for item in items.images])
    clip_va = numpy.array([item.va for item in items.clips])
    rng = numpy.random.default_rng([seed, epoch])
    clips_of_images = _partners(
        image_va, clip_va, pairs_per_item, rng, balance, lambda i, c: va_score(i, c, kernel, scale)
    )
    images_of_clips = _partners(
        clip_va, image_va, pairs_per_item, rng, balance, lambda c, i: va_score(i, c, kernel, scale)
    )
    pairs = numpy.concatenate(
        [
            numpy.stack([numpy.repeat(numpy.arange(len(image_va)), pairs_per_item), clips_of_images.ravel()], axis=1),
            numpy.stack([images_of_clips.ravel(), numpy.repeat(numpy.arange(len(clip_va)), pairs_per_item)], axis=1),
        ]
    )
    pairs = pairs[rng.permutation(len(pairs))]
    scores = va_score(image_va[pairs[:, 0]], clip_va[pairs[:, 1]], kernel, scale)
    shards = [
        [(int(i), int(c), float(s)) for i, c, s in zip(pairs[part, 0], pairs[part, 1], scores[part], strict=True)]
        for part in numpy.array_split(numpy.arange(len(pairs)), min(num_shards, len(pairs)))
    ]
    return datasets.IterableDataset.from_generator(
        _generate, features=_features(sampling_rate), gen_kwargs={"shards": shards, "items": items}
    )


def _features(sampling_rate):
    string, number = datasets.Value("string"), datasets.Value("float32")
    mono = {"num_channels": 1} if "num_channels" in {f.name for f in dataclasses.fields(datasets.Audio)} else {}
    return datasets.Features(
        {
            "image_id": string,
            "clip_id": string,
            "image": datasets.Image(),
            "audio": datasets.Audio(sampling_rate=sampling_rate, **mono),  # mono: 3.x's default, 4.4+'s num_channels
            "caption": string,
            "image_valence": number,
            "image_arousal": number,
            "music_valence": number,
            "music_arousal": number,
            "score": number,
        }
    )


def _generate(shards, items):
    """The pairs of the shards a worker or rank was given: (image index, clip index, score) each."""
    archives = {**items.image_media.archives, **items.clip_media.archives}
    with imemnet_c._RandomAccess(archives, None) as members:
        for image_index, clip_index, score in itertools.chain.from_iterable(shards):
            image, clip = items.images[image_index], items.clips[clip_index]
            yield {
                "image_id": image.id,
                "clip_id": clip.id,
                "image": items.image_media._file(image.location, members),
                "audio": items.clip_media._file(clip.location, members),
                "caption": clip.caption,
                "image_valence": image.va[0],
                "image_arousal": image.va[1],
                "music_valence": clip.va[0],
                "music_arousal": clip.va[1],
                "score": score,
            }


def _partners(anchor_va, other_va, count, rng, balance, score):
    """For each anchor, `count` partner indices into `other_va`: uniform, or balanced over the bins
    of `score(anchor_va, other_va)`."""
    if not balance:
        return rng.integers(len(other_va), size=(len(anchor_va), count))
    partners = numpy.empty((len(anchor_va), count), numpy.int64)
    anchor_va, other_va = anchor_va.astype(numpy.float32), other_va.astype(numpy.float32)
    for start in range(0, len(anchor_va), 256):  # 256 anchors against every partner at a time
        scores = score(anchor_va[start : start + 256, None], other_va[None])
        bins = numpy.minimum((scores * balance).astype(numpy.int8), balance - 1)
        reached = numpy.stack([(bins == b).any(axis=1) for b in range(balance)], axis=1)  # anchors x bins
        for slot in range(count):
            # a bin among those the anchor reaches, then the partner in it with the largest random key
            choice = rng.random((len(bins), 1)) * reached.sum(axis=1, keepdims=True)
            target = numpy.argmax(numpy.cumsum(reached, axis=1) > choice, axis=1)
            keys = rng.random(bins.shape, dtype=numpy.float32)
            partners[start : start + len(bins), slot] = numpy.where(bins == target[:, None], keys, -1).argmax(axis=1)
    return partners


def _items(data_dir, split, streaming, cache_dir, missing_media):
    """The images and clips of `split` with their VA and media, found as a load finds them."""
    named = _named_by_matching_files(data_dir, split, cache_dir) if split else None

    def wanted(modality, media_id):
        return named is None or (media_id in named[modality]) != (split == "train")

    found = []
    for config, modality in (("image", imemnet_c._IMAGES), ("music", imemnet_c._AUDIO)):
        builder, plan = imemnet_c._planned(config, data_dir, streaming, cache_dir, missing_media=missing_media)
        ((argument, table),) = plan.splits["train"]
        located = builder._rows_with_media(table, imemnet_c._MEDIA_IDS[argument], plan.media)
        items = tuple(
            _Item(row.id, (row.valence, row.arousal), where[modality], row.caption)
            for row, where in located
            if wanted(modality, row.id)
        )
        found.append((items, plan.media))
    (images, image_media), (clips, clip_media) = found
    return _Items(images, clips, image_media, clip_media)


def _named_by_matching_files(data_dir, split, cache_dir):
    """{modality: the ids} that the matching files of `split` name ("train": validation's and test's)."""
    _, paired = imemnet_c._planned("paired_annotations", data_dir, True, cache_dir)
    fields = imemnet_c._MEDIA_IDS["pairs"]
    named = {modality: set() for modality in fields}
    for name in MATCHING_SPLITS if split == "train" else (split,):
        if name not in paired.splits:
            raise ValueError(
                f"split={split!r} needs {name}'s matching file, which is unavailable: {paired.absent.get(name)}"
            )
        for pair in paired.splits[name][0][1].rows:
            for modality, field in fields.items():
                named[modality].add(getattr(pair, field))
    return named
