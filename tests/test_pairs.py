"""MMVA-style training pairs (imemnet_c_tools.pairs): random image-music pairs, reproducible from
(seed, epoch), restricted to a split, scored by the documented kernel, partitioned exactly across
DataLoader workers and ranks, and the example that trains on them."""

import collections
import math
import os
import re
import subprocess
import sys

import numpy
import pytest
import torch
from conftest import ROOT, SAMPLE
from datasets.distributed import split_dataset_by_node

from imemnet_c_tools import pairs as pairs_module
from imemnet_c_tools import sample
from imemnet_c_tools.pairs import va_pairs, va_score


@pytest.fixture
def pairs(tmp_path):
    """pairs(**options): the ids and score of every pair of an epoch over the sample, in order."""

    def pairs(split="train", **options):
        dataset = va_pairs(SAMPLE, split, cache_dir=str(tmp_path / "cache"), **options)
        return [(p["image_id"], p["clip_id"], p["score"]) for p in dataset.decode(False)]

    return pairs


def matching_ids(name):
    _, _, pairs = sample.sample_annotations()
    return {clip for clip, _, _ in pairs[name]}, {image for _, image, _ in pairs[name]}


def test_the_same_seed_and_epoch_give_the_same_pairs_and_another_epoch_others(pairs):
    first = pairs(seed=3, epoch=0, pairs_per_item=4)
    assert first == pairs(seed=3, epoch=0, pairs_per_item=4)
    assert first != pairs(seed=3, epoch=1, pairs_per_item=4)
    assert first != pairs(seed=4, epoch=0, pairs_per_item=4)


def test_every_item_of_the_split_anchors_pairs_per_item_pairs(pairs):
    images, clips = va_items("train")
    got = pairs(pairs_per_item=3)
    assert len(got) == 3 * (len(images) + len(clips))
    assert {image for image, _, _ in got} >= set(images) and {clip for _, clip, _ in got} >= set(clips)


def test_images_without_va_are_not_paired_and_missing_media_are_an_error_or_skipped(pairs, downloads, tmp_path):
    everything = pairs(None, pairs_per_item=16)
    assert sample.NAPS_UNANNOTATED_ID not in {image for image, _, _ in everything}  # in the matching files only
    os.remove(downloads / "NAPS_BE.tar.gz")
    with pytest.raises(FileNotFoundError, match="naps image files"):
        va_pairs(str(downloads), None, cache_dir=str(tmp_path / "cache"))
    skipped = va_pairs(str(downloads), None, pairs_per_item=16, missing_media="skip", cache_dir=str(tmp_path / "cache"))
    images = {pair["image_id"] for pair in skipped.decode(False)}
    assert images and not images & set(sample.NAPS_IDS)


def test_audio_comes_mono_at_the_sampling_rate_asked_for(tmp_path):
    pair = next(iter(va_pairs(SAMPLE, None, sampling_rate=8000, cache_dir=str(tmp_path / "cache"))))
    samples = numpy.asarray(pair["audio"]["array"])
    assert pair["audio"]["sampling_rate"] == 8000
    assert samples.squeeze().ndim == 1 and samples.size == 2000  # the sample's 0.25 s clips, made at 16 kHz


def va_items(split):
    """The sample's images and clips of a split, by the documented rule, with their VA."""
    images, clips, _ = sample.sample_annotations()
    held_out = [matching_ids(name) for name in (("val", "test") if split == "train" else (split,))]
    in_files = [set().union(*(ids[i] for ids in held_out)) for i in (0, 1)]

    def keep(media_id, position):
        return media_id not in in_files[position] if split == "train" else media_id in in_files[position]

    return (
        {row[0]: row[1:3] for row in images if keep(row[0], 1)},
        {row[0]: row[1:3] for row in clips if keep(row[0], 0)},
    )


def test_restricted_to_train_no_validation_or_test_item_is_in_a_pair(pairs):
    got = pairs(pairs_per_item=8)
    val_clips, val_images = matching_ids("val")
    test_clips, test_images = matching_ids("test")
    assert not {clip for _, clip, _ in got} & (val_clips | test_clips)
    assert not {image for image, _, _ in got} & (val_images | test_images)
    assert got  # the sample has training items (in no matching file: training items, as documented)


def test_restricted_to_validation_only_its_items_are_paired(pairs):
    got = pairs("validation", pairs_per_item=2)
    clips, images = matching_ids("val")
    assert {clip for _, clip, _ in got} <= clips and {image for image, _, _ in got} <= images


def test_the_scores_equal_the_documented_kernel_on_the_vas(tmp_path):
    dataset = va_pairs(SAMPLE, None, pairs_per_item=4, cache_dir=str(tmp_path / "cache")).decode(False)
    for pair in dataset:
        distance = math.dist(
            (pair["image_valence"], pair["image_arousal"]), (pair["music_valence"], pair["music_arousal"])
        )
        assert pair["score"] == pytest.approx(math.exp(-distance / 0.384), abs=1e-6)


def test_another_kernel_or_a_callable_scores_with_it(pairs):
    linear = pairs(None, kernel="linear", scale=1.0)
    mine = pairs(None, kernel=lambda image_va, music_va: numpy.abs(image_va - music_va).sum(axis=-1) / 2)
    assert [pair[:2] for pair in linear] == [pair[:2] for pair in mine]  # the same draws, other scores
    assert [s for *_, s in linear] != [s for *_, s in mine]
    assert va_score([0.2, 0.2], [0.5, 0.6], "gaussian", 0.5) == pytest.approx(math.exp(-0.25 / 0.5))
    with pytest.raises(ValueError, match="kernel='cosine'"):
        va_score([0, 0], [1, 1], "cosine")


def test_balance_draws_low_and_high_scores_alike(pairs):
    uniform = [score for *_, score in pairs(None, pairs_per_item=64)]
    balanced = [score for *_, score in pairs(None, pairs_per_item=64, balance=2)]
    share = lambda scores: sum(score >= 0.5 for score in scores) / len(scores)  # noqa: E731
    assert abs(share(balanced) - 0.5) < abs(share(uniform) - 0.5) / 2
    # where every anchor can reach both bins, exactly as many of each, up to chance
    rng = numpy.random.default_rng(0)
    anchors, grid = (
        rng.random((300, 2)),
        numpy.stack(numpy.meshgrid(*[numpy.linspace(0, 1, 21)] * 2), -1).reshape(-1, 2),
    )
    items = pairs_module.Items(
        image_ids=tuple(map(str, range(len(anchors)))),
        image_va=anchors.astype(numpy.float32),
        image_sources=(),
        clip_ids=tuple(map(str, range(len(grid)))),
        clip_va=grid.astype(numpy.float32),
        clip_sources=(),
        captions=(),
        media=(),
    )
    _, _, scores = pairs_module.draw_epoch(items, seed=0, epoch=0, pairs_per_item=20, balance=2)
    assert abs((scores >= 0.5).mean() - 0.5) < 0.02


def test_streamed_pairs_are_the_prepared_pairs_read_in_place(tmp_path):
    def epoch(streaming):
        dataset = va_pairs(SAMPLE, None, pairs_per_item=2, streaming=streaming, cache_dir=str(tmp_path / "cache"))
        return [
            (
                p["image_id"],
                p["clip_id"],
                p["score"],
                p["image"].tobytes(),
                numpy.asarray(p["audio"]["array"]).tobytes(),
            )
            for p in dataset
        ]

    assert epoch(streaming=True) == epoch(streaming=False)


def test_two_workers_and_two_ranks_partition_an_epoch_exactly(tmp_path):
    dataset = va_pairs(SAMPLE, None, pairs_per_item=8, num_shards=8, cache_dir=str(tmp_path / "cache")).decode(False)
    whole = collections.Counter((p["image_id"], p["clip_id"]) for p in dataset)
    loader = torch.utils.data.DataLoader(
        dataset.select_columns(["image_id", "clip_id"]), batch_size=None, num_workers=2
    )
    assert collections.Counter((p["image_id"], p["clip_id"]) for p in loader) == whole
    ranks = [
        collections.Counter((p["image_id"], p["clip_id"]) for p in split_dataset_by_node(dataset, rank, 2))
        for rank in (0, 1)
    ]
    assert ranks[0] + ranks[1] == whole and all(ranks)


def test_the_training_example_runs_with_two_workers_and_its_loss_goes_down(tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "train_mmva.py"), "--epochs", "4", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    losses = [float(loss) for loss in re.findall(r"mean loss (\S+)", result.stdout)]
    assert len(losses) == 4 and losses[-1] < losses[0], result.stdout
