"""MMVA-style training pairs (imemnet_c_tools.pairs): random image-music pairs, reproducible from
(seed, epoch), restricted to a split, scored by the documented kernel, partitioned exactly across
DataLoader workers and ranks, and the example that trains on them."""

import collections
import functools
import importlib
import io
import logging
import math
import os
import re
import subprocess
import sys

import numpy
import pytest
import soundfile
import torch
from conftest import ROOT, SAMPLE, file_events
from datasets.distributed import split_dataset_by_node

import imemnet_c
from imemnet_c_tools import pairs as pairs_module
from imemnet_c_tools import sample
from imemnet_c_tools.check import check, render
from imemnet_c_tools.pairs import SoundfileAudio, preprocess, va_pairs, va_score


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


def test_a_pairs_audio_is_a_dict_of_float32_samples_on_every_datasets_line(tmp_path):
    for pair in va_pairs(SAMPLE, None, cache_dir=str(tmp_path / "cache")):
        assert isinstance(pair["audio"], dict) and set(pair["audio"]) == {"path", "array", "sampling_rate"}
        assert pair["audio"]["array"].dtype == numpy.float32 and pair["audio"]["array"].ndim == 1


def test_a_stereo_clip_decodes_to_the_mean_of_its_channels_resampled_as_asked():
    stereo = sample.wav_bytes(0, 0.25, 16000, channels=2, noise=900)  # noise: the channels differ
    frames, _ = soundfile.read(io.BytesIO(stereo), dtype="float32", always_2d=True)
    decoded = SoundfileAudio().decode_example({"path": "clip.wav", "bytes": stereo})
    assert decoded["sampling_rate"] == 16000 and decoded["array"].dtype == numpy.float32
    assert numpy.array_equal(decoded["array"], frames.mean(axis=1))
    resampled = SoundfileAudio(sampling_rate=8000).decode_example({"path": "clip.wav", "bytes": stereo})
    assert resampled["sampling_rate"] == 8000 and resampled["array"].dtype == numpy.float32
    assert abs(len(resampled["array"]) - len(frames) // 2) <= 1


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


def annotated_items(split):
    """({image id: (valence, arousal)}, {clip id: (valence, arousal, caption)}) of a split, by the
    documented rule, read from the annotation files: an id's first row; validation and test hold the
    images their matching file names and every clip of the songs it names; train holds the rest."""
    images, clips, pairs = sample.sample_annotations()
    if split is None:
        keep_image = keep_clip = lambda _: True  # noqa: E731
    else:
        named = [pairs[name] for name in (("val", "test") if split == "train" else (MATCHING[split],))]
        named_images = {image for lines in named for _, image, _ in lines}
        named_songs = {imemnet_c.song_of(clip) for lines in named for clip, _, _ in lines}
        in_split = split != "train"
        keep_image = lambda image: (image in named_images) == in_split  # noqa: E731
        keep_clip = lambda clip: (imemnet_c.song_of(clip) in named_songs) == in_split  # noqa: E731
    image_rows, clip_rows = {}, {}
    for image, valence, arousal in images:
        if keep_image(image):
            image_rows.setdefault(image, (valence, arousal))
    for clip, valence, arousal, caption in clips:
        if keep_clip(clip):
            clip_rows.setdefault(clip, (valence, arousal, caption))
    return image_rows, clip_rows


MATCHING = {"validation": "val", "test": "test"}


@pytest.mark.parametrize("split", ["train", "test", None])
def test_each_pair_carries_the_annotation_files_ids_va_caption_and_score_and_every_item_anchors_its_pairs(
    tmp_path, split
):
    images, clips = annotated_items(split)
    assert images and clips
    per_item = 3
    got = list(va_pairs(SAMPLE, split, pairs_per_item=per_item, cache_dir=str(tmp_path / "cache")).decode(False))
    assert len(got) == per_item * (len(images) + len(clips))  # each item anchors per_item pairs...
    pairs_of_image = collections.Counter(pair["image_id"] for pair in got)
    pairs_of_clip = collections.Counter(pair["clip_id"] for pair in got)
    assert set(pairs_of_image) <= set(images) and set(pairs_of_clip) <= set(clips)  # ... of its split
    assert all(pairs_of_image[image] >= per_item for image in images)
    assert all(pairs_of_clip[clip] >= per_item for clip in clips)
    f32 = lambda value: float(numpy.float32(value))  # noqa: E731
    for pair in got:
        image_va, (music_valence, music_arousal, caption) = images[pair["image_id"]], clips[pair["clip_id"]]
        assert (pair["image_valence"], pair["image_arousal"]) == tuple(map(f32, image_va))
        assert (pair["music_valence"], pair["music_arousal"]) == (f32(music_valence), f32(music_arousal))
        assert pair["caption"] == caption
        distance = math.dist(image_va, (music_valence, music_arousal))
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


def run_example(tmp_path, *options, torchrun=False):
    """examples/train_mmva.py as its docstring shows it, from tmp_path; the pairs each rank trained on."""
    logs = tmp_path / "pairs-seen"
    logs.mkdir(exist_ok=True)
    launcher = [os.path.join(os.path.dirname(sys.executable), "torchrun"), "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run(
        [*(launcher if torchrun else [sys.executable]), os.path.join(ROOT, "examples", "train_mmva.py")]
        + ["--log-pairs", str(logs), *map(str, options)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    seen = collections.Counter()
    for log in logs.iterdir():
        seen.update(tuple(line.split()) for line in log.read_text().splitlines())
    return result.stdout, seen


def epoch_pairs(epoch, **options):
    """The (epoch, image id, clip id) of every pair of the example's epoch, as va_pairs draws it."""
    pairs = va_pairs(SAMPLE, "train", seed=0, epoch=epoch, pairs_per_item=8, **options).decode(False)
    return collections.Counter((str(epoch), p["image_id"], p["clip_id"]) for p in pairs)


def test_the_training_example_runs_with_two_workers_and_its_loss_goes_down(tmp_path):
    stdout, seen = run_example(tmp_path, "--epochs", 4, "--workers", 2)
    losses = [float(loss) for loss in re.findall(r"mean loss (\S+)", stdout)]
    assert len(losses) == 4 and losses[-1] < losses[0], stdout
    assert seen == sum((epoch_pairs(epoch) for epoch in range(4)), collections.Counter())


def test_torchrun_two_ranks_of_two_workers_see_the_epoch_exactly(tmp_path):
    # as docs/training.md shows it: from the preprocessed cache, with checkpoints
    options = ["--cache", "--checkpoints", tmp_path / "ckpt", "--checkpoint-every", 100]
    stdout, seen = run_example(tmp_path, "--epochs", 1, "--workers", 2, *options, torchrun=True)
    assert "rank 0 epoch 0" in stdout and "rank 1 epoch 0" in stdout
    assert {path.name for path in (tmp_path / "ckpt").iterdir()} == {"rank-0.pt", "rank-1.pt"}
    assert seen == epoch_pairs(0)  # the union of the four readers: every pair once
    assert all((tmp_path / "pairs-seen" / f"rank-{rank}.txt").stat().st_size for rank in (0, 1))


def test_a_stopped_run_resumes_its_epoch_with_exactly_the_pairs_not_yet_seen(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    stdout, before = run_example(tmp_path, "--epochs", 1, "--checkpoints", checkpoints, "--stop-after-steps", 3)
    assert "stopped after 3 steps" in stdout and sum(before.values()) == 3 * 8
    stdout, both = run_example(tmp_path, "--epochs", 1, "--checkpoints", checkpoints)
    assert "resuming epoch 0 mid-epoch" in stdout
    assert both == epoch_pairs(0) and not any(count > 1 for count in (both - epoch_pairs(0)).values())


def test_the_example_trains_from_the_preprocessed_cache_on_the_same_pairs(tmp_path):
    stdout, seen = run_example(tmp_path, "--epochs", 2, "--workers", 2, "--cache")
    assert seen == epoch_pairs(0) + epoch_pairs(1)
    losses = [float(loss) for loss in re.findall(r"mean loss (\S+)", stdout)]
    assert len(losses) == 2 and losses[-1] < losses[0], stdout


@pytest.fixture
def split_songs(downloads):
    """The sample with song 3001 named once in validation (3001-9) and song 3002 once in test."""
    (downloads / "val_matching.txt").write_text("3001-9 1001 0.5\n")
    (downloads / "test_matching.txt").write_text("3002-12 1002 0.5\n")
    return downloads


def test_no_clip_of_a_held_out_song_is_in_a_training_pair_unless_split_by_item(split_songs, tmp_path, caplog):
    def clips(**options):
        pairs = va_pairs(str(split_songs), "train", pairs_per_item=16, cache_dir=str(tmp_path / "cache"), **options)
        return {pair["clip_id"] for pair in pairs.decode(False)}

    with caplog.at_level(logging.INFO, logger="imemnet_c_tools.pairs"):
        by_song = clips()
    assert by_song and not {clip for clip in by_song if clip.split("-")[0] in ("3001", "3002")}
    assert "the song rule held out 1 clips beyond the 2" in caplog.text  # 3001-10
    by_item = clips(split_rule="item")
    assert "3001-10" in by_item and not by_item & {"3001-9", "3002-12"}
    validation = va_pairs(str(split_songs), "validation", pairs_per_item=4, cache_dir=str(tmp_path / "cache"))
    assert {pair["clip_id"] for pair in validation.decode(False)} == {"3001-9", "3001-10"}  # the song, whole


def test_check_counts_train_pairs_sharing_a_song_with_validation_or_test(tmp_path):
    _, _, matching = sample.sample_annotations()
    held_out = {clip.split("-")[0] for name in ("val", "test") for clip, _, _ in matching[name]}
    expected = sum(clip.split("-")[0] in held_out for clip, _, _ in matching["train"])
    report = check(SAMPLE, ["paired"], cache_dir=str(tmp_path / "cache"))
    assert expected and report["configs"]["paired"]["train_pairs_sharing_a_song"] == expected
    assert f"{expected} train pairs hold a clip of a song" in render(report)


ANNOTATION_FILES = ["image_va.csv", "music_va.csv", "train_matching.txt", "val_matching.txt", "test_matching.txt"]


def test_a_second_epoch_reuses_the_plan_and_reads_no_annotation_file_or_listing(tmp_path, monkeypatch):
    pairs_module.forget_plans()
    va_pairs(SAMPLE, "train", epoch=0, cache_dir=str(tmp_path / "cache"), balance=2)
    plans, annotation_files = [], [os.path.join(SAMPLE, name) for name in ANNOTATION_FILES]
    monkeypatch.setattr(imemnet_c, "make_plan", lambda *a, **k: plans.append(a) or pytest.fail("planned again"))
    with file_events() as events:
        second = va_pairs(SAMPLE, "train", epoch=1, cache_dir=str(tmp_path / "cache"), balance=2)
        assert list(second.decode(False)) and not plans
    read = [path for path in events.opened if path in annotation_files or os.path.basename(path) == "index.json"]
    assert read == []  # no annotation file, and no archive's kept listing
    kept = pairs_module.reachable_bins_scored.cache_info()  # the balanced draw's reachable bins, scored once
    assert kept.hits == 1 and kept.misses == 1


def test_the_preprocessed_cache_is_reused_and_made_again_when_the_function_or_download_changes(downloads, tmp_path):
    calls = tmp_path / "calls.txt"

    def made(side):
        function = functools.partial(counted_pixels, side=side, calls=str(calls))
        items = preprocess(str(downloads), image=function, cache_dir=str(tmp_path / "cache"))
        runs = len(calls.read_text().splitlines()) if calls.exists() else 0
        calls.unlink(missing_ok=True)
        return items, runs

    first, runs = made(side=4)
    assert runs == len(first.images) + 1  # once per picture, and once to learn the arrays' shape
    assert made(side=4)[1] == 1  # nothing changed: read from the cache (one call learns the shape)
    assert made(side=6)[1] == len(first.images) + 1  # another argument
    csv = downloads / "image_va.csv"
    csv.write_text(csv.read_text().replace("0.844422", "0.844421"))
    assert made(side=4)[1] == len(first.images) + 1  # a changed download
    assert first.images.with_format("numpy")[0]["pixels"].shape == (4, 4, 3)


def test_the_preprocessed_cache_is_made_again_for_another_sampling_rate_or_an_edited_function(
    downloads, tmp_path, monkeypatch
):
    calls, module = tmp_path / "calls.txt", tmp_path / "user_functions.py"
    monkeypatch.syspath_prepend(str(tmp_path))

    def made(level, sampling_rate):  # the user's own module, as edited between two runs
        module.write_text(
            "import numpy\n\n\ndef features(samples, sampling_rate, calls):\n"
            "    open(calls, 'a').write('call\\n')\n"
            f"    return {{'level': numpy.asarray([{level}], numpy.float32)}}\n"
        )
        sys.modules.pop("user_functions", None)
        importlib.invalidate_caches()
        function = functools.partial(importlib.import_module("user_functions").features, calls=str(calls))
        items = preprocess(str(downloads), audio=function, sampling_rate=sampling_rate, cache_dir=str(tmp_path / "c"))
        runs = len(calls.read_text().splitlines()) if calls.exists() else 0
        calls.unlink(missing_ok=True)
        return items, runs

    first, runs = made("samples.mean()", 8000)
    clips = len(first.clips)
    assert runs == clips + 1
    assert made("samples.mean()", 8000)[1] == 1  # nothing changed: read from the cache
    assert made("samples.mean()", 16000)[1] == clips + 1  # another sampling rate
    assert made("abs(samples).max()", 16000)[1] == clips + 1  # the function's code edited


def counted_pixels(picture, side, calls):
    with open(calls, "a", encoding="utf-8") as log:
        log.write("call\n")
    return {"pixels": numpy.asarray(picture.convert("RGB").resize((side, side)), numpy.uint8)}


def test_cached_and_decoded_epochs_give_the_same_pairs(tmp_path):
    items = preprocess(
        SAMPLE,
        image=functools.partial(counted_pixels, side=4, calls=str(tmp_path / "calls.txt")),
        cache_dir=str(tmp_path / "cache"),
    )
    for options in ({"seed": 1, "epoch": 2}, {"seed": 0, "epoch": 0, "balance": 2, "split": None}):
        options = {"split": "train", "pairs_per_item": 4, **options}
        cached = [(p["image_id"], p["clip_id"], float(p["score"])) for p in va_pairs(SAMPLE, items=items, **options)]
        decoded = va_pairs(SAMPLE, cache_dir=str(tmp_path / "cache"), **options).decode(False)
        assert cached == [(p["image_id"], p["clip_id"], p["score"]) for p in decoded]


def test_cached_pairs_carry_each_items_arrays_as_made_with_their_dtype_and_shape(tmp_path):
    def spectrum(samples, sampling_rate):  # a 1-D array of the clip's own length, and a fixed 2-D one
        return {
            "samples": (samples * 1000).astype(numpy.int16),
            "grid": numpy.full((2, 3), len(samples), numpy.float32),
        }

    items = preprocess(
        SAMPLE,
        image=functools.partial(counted_pixels, side=4, calls=str(tmp_path / "calls.txt")),
        audio=spectrum,
        sampling_rate=8000,
        cache_dir=str(tmp_path / "cache"),
    )
    images = {row["image_id"]: row for row in items.images.with_format("numpy")}
    clips = {row["clip_id"]: row for row in items.clips.with_format("numpy")}
    pairs = list(va_pairs(SAMPLE, None, pairs_per_item=4, items=items))
    assert len(pairs) == 4 * (len(set(images)) + len(clips))
    for pair in pairs:
        assert pair["pixels"].dtype == numpy.uint8 and pair["pixels"].shape == (4, 4, 3)
        assert numpy.array_equal(pair["pixels"], images[pair["image_id"]]["pixels"])
        assert pair["samples"].dtype == numpy.int16 and pair["samples"].shape == (2000,)  # 0.25 s at 8 kHz
        assert numpy.array_equal(pair["samples"], clips[pair["clip_id"]]["samples"])
        assert pair["grid"].dtype == numpy.float32 and numpy.array_equal(pair["grid"], clips[pair["clip_id"]]["grid"])


def test_a_repeated_image_id_anchors_pairs_with_its_first_row_as_paired_does(pairs):
    images, _, _ = sample.sample_annotations()
    first = next(row for row in images if row[0] == sample.REPEATED_IAPS_ID)
    got = va_pairs(SAMPLE, None, pairs_per_item=16).decode(False)
    repeated = [p for p in got if p["image_id"] == sample.REPEATED_IAPS_ID]
    assert len(repeated) >= 16  # it anchors its 16 pairs once, as one item
    assert {(p["image_valence"], p["image_arousal"]) for p in repeated} == {
        tuple(float(numpy.float32(va)) for va in first[1:3])
    }


def test_an_unreadable_medium_is_an_error_before_the_epoch_or_left_out(downloads, tmp_path):
    picture = downloads / "IAPS 1-20 Images" / "1001.JPG"
    picture.write_bytes(picture.read_bytes()[:200])  # a truncated JPEG
    with pytest.raises(ValueError, match="1001.JPG.*truncated"):
        va_pairs(str(downloads), None, cache_dir=str(tmp_path / "cache"))
    skipped = va_pairs(str(downloads), None, pairs_per_item=8, cache_dir=str(tmp_path / "cache"), missing_media="skip")
    images = {pair["image_id"] for pair in skipped.decode(False)}
    assert images and "1001" not in images


def test_balance_and_scores_are_validated(pairs):
    assert len(pairs(None, balance=129)) == len(pairs(None))  # more bins than an int8 holds
    for balance in (0, 1001, 2.5, True, "2"):
        with pytest.raises(ValueError, match="balance="):
            pairs(None, balance=balance)
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        pairs(None, kernel=lambda image_va, music_va: image_va[..., 0] - music_va[..., 0] - 2)
