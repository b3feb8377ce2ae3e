"""`imemnet-c evaluate` (imemnet_c_tools.evaluate), protocol imemnet-c-eval/1: predictions built on
the sample's annotation files and on the real full-count ones (../shared/reference, skipped with
the reason where absent) score as they must; bad input is an error naming the file and the row;
what the JSON holds; and every command that docs/evaluation.md, and docs/training.md for
evaluation, show runs. The held-out items and the expected figures are worked out here from the
files, not with the module's code."""

import csv
import itertools
import json
import os
import re
import shutil
import subprocess
import sys

import numpy
import pytest
from conftest import REFERENCE, ROOT, SAMPLE
from scipy import stats
from sklearn import metrics

import imemnet_c
from imemnet_c_tools import cli, sample
from imemnet_c_tools import evaluate as protocol
from imemnet_c_tools.pairs import va_pairs

MATCHING = {"validation": "val_matching.txt", "test": "test_matching.txt"}
VA_METRICS = ("rmse", "mae", "pearson", "ccc")
SCORE_METRICS = ("rmse", "mae", "spearman", "kendall")
RETRIEVAL_METRICS = ("recall@1", "recall@5", "recall@10", "median_rank", "map", "ndcg@10")


def first_va(path):
    """{id: (valence, arousal)} of image_va.csv or music_va.csv, the first row of a repeated id."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    va = {}
    for row in rows:
        va.setdefault(row[1], (float(row[2]), float(row[3])))
    return va


class HeldOut:
    """A split's items by the documented rule, read here: the annotated images its matching file
    names, every annotated clip of every song it names, and its distinct pairs between them."""

    def __init__(self, folder, split):
        images, clips = first_va(os.path.join(folder, "image_va.csv")), first_va(os.path.join(folder, "music_va.csv"))
        with open(os.path.join(folder, MATCHING[split]), encoding="utf-8") as f:
            lines = [line.split() for line in f if line.strip()]
        named = {image for _, image, _ in lines}
        songs = {clip.split("-")[0] for clip, _, _ in lines}
        self.images = {image: va for image, va in images.items() if image in named}
        self.clips = {clip: va for clip, va in clips.items() if clip.split("-")[0] in songs}
        self.pairs = {}
        for clip, image, score in lines:
            if image in self.images and clip in self.clips:
                self.pairs.setdefault((clip, image), float(score))
        self.annotated = {**images, **clips}


def write_va(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("id", "valence", "arousal"), *rows])
    return str(path)


def write_scores(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("clip_id", "image_id", "score"), *rows])
    return str(path)


def write_embeddings(path, image_ids, image_vectors, clip_ids, clip_vectors):
    numpy.savez(
        path,
        image_ids=numpy.array(image_ids),
        image_embeddings=numpy.asarray(image_vectors),
        clip_ids=numpy.array(clip_ids),
        clip_embeddings=numpy.asarray(clip_vectors),
    )
    return str(path)


def exact_va(held_out):
    return [(item, *va) for item, va in {**held_out.images, **held_out.clips}.items()]


def first_ranked_embeddings(held_out):
    """Embeddings under which every named pair ranks above every pair the file does not name, in
    both directions, with no two similarities equal: one axis per image; a clip points along the
    axes of the images it is paired with (distinct weights), and along one axis of its own."""
    images, clips = list(held_out.images), list(held_out.clips)
    image_vectors = numpy.eye(len(images), len(images) + len(clips))
    clip_vectors = numpy.zeros((len(clips), len(images) + len(clips)))
    for n, (clip, image) in enumerate(held_out.pairs):
        clip_vectors[clips.index(clip), images.index(image)] = 1 + n / 100
    clip_vectors[:, len(images) :] = numpy.eye(len(clips))  # and keeps the weights apart after normalising
    return images, image_vectors, clips, clip_vectors


def evaluated(split="test", folder=SAMPLE, **predictions):
    return protocol.evaluate(split, annotations=str(folder), **predictions)


@pytest.mark.parametrize("split", MATCHING)
def test_exact_va_scores_rmse_0_and_ccc_1_and_a_constant_ccc_0(tmp_path, split):
    held_out = HeldOut(SAMPLE, split)  # validation holds the repeated IAPS id: its first row counts
    exact = evaluated(split, va=write_va(tmp_path / "exact.csv", exact_va(held_out)))["va"]
    constant = evaluated(split, va=write_va(tmp_path / "half.csv", [(i, 0.5, 0.5) for i, *_ in exact_va(held_out)]))
    for modality, dimension in itertools.product(("image", "music"), ("valence", "arousal")):
        assert exact[modality][dimension]["rmse"] == 0 and exact[modality][dimension]["mae"] == 0
        assert exact[modality][dimension]["ccc"] == pytest.approx(1) == exact[modality][dimension]["pearson"]
        assert exact[modality][dimension]["rmse_ci"] == [0, 0]
        assert constant["va"][modality][dimension]["ccc"] == pytest.approx(0, abs=1e-12)
        assert constant["va"][modality][dimension]["pearson"] is None  # undefined for a constant
        assert constant["va"][modality][dimension]["pearson_ci"] is None  # in every resample too
    assert exact["image"]["items"] == len(held_out.images) and exact["music"]["items"] == len(held_out.clips)


def test_ccc_is_lins_an_affine_prediction_has_r_1_and_a_ccc_below_it_worked_by_hand(tmp_path):
    held_out = HeldOut(SAMPLE, "test")
    shrunk = [(item, 0.5 * valence + 0.25, 0.5 * arousal + 0.25) for item, valence, arousal in exact_va(held_out)]
    result = evaluated(va=write_va(tmp_path / "shrunk.csv", shrunk))["va"]
    for modality, annotated in (("image", held_out.images), ("music", held_out.clips)):
        for column, dimension in enumerate(("valence", "arousal")):
            truth = numpy.array([va[column] for va in annotated.values()])
            predicted = 0.5 * truth + 0.25
            by_hand = (
                2
                * numpy.cov(truth, predicted, bias=True)[0, 1]
                / (truth.var() + predicted.var() + (truth.mean() - predicted.mean()) ** 2)
            )
            assert result[modality][dimension]["pearson"] == pytest.approx(1)
            assert result[modality][dimension]["ccc"] == pytest.approx(by_hand) and by_hand < 0.99


def test_imemnet_own_scores_give_spearman_1_and_so_does_any_increasing_function_of_them(tmp_path):
    held_out = HeldOut(SAMPLE, "test")
    scores = write_scores(tmp_path / "scores.csv", [(*pair, score) for pair, score in held_out.pairs.items()])
    result = evaluated(scores=scores)["scores"]
    assert result["spearman"] == pytest.approx(1) and result["kendall"] == pytest.approx(1)
    assert result["rmse"] == 0 and result["pairs"] == len(held_out.pairs)
    squared = write_scores(tmp_path / "squared.csv", [(*pair, score**2) for pair, score in held_out.pairs.items()])
    result = evaluated(scores=squared)["scores"]
    assert result["spearman"] == pytest.approx(1) and result["kendall"] == pytest.approx(1)
    by_hand = numpy.sqrt(numpy.mean([(score - score**2) ** 2 for score in held_out.pairs.values()]))
    assert result["rmse"] == pytest.approx(by_hand) and by_hand > 0


def test_recall_at_1_when_every_named_pair_ranks_first_is_the_figure_counted_by_hand(tmp_path):
    held_out = HeldOut(SAMPLE, "test")
    embeddings = write_embeddings(tmp_path / "e.npz", *first_ranked_embeddings(held_out))
    result = evaluated(embeddings=embeddings)["retrieval"]
    partners = {"image_to_music": {}, "music_to_image": {}}
    for clip, image in held_out.pairs:
        partners["image_to_music"].setdefault(image, set()).add(clip)
        partners["music_to_image"].setdefault(clip, set()).add(image)
    for direction, named in partners.items():
        by_hand = sum(1 / len(others) for others in named.values()) / len(named)  # 1 of its n partners in first place
        assert result[direction]["recall@1"] == pytest.approx(by_hand)
        assert result[direction]["queries"] == len(named) and result[direction]["median_rank"] == 1
        assert result[direction]["map"] == pytest.approx(1)  # every relevant candidate before any other
    assert partners["music_to_image"].keys() <= held_out.clips.keys()  # segments no pair names: candidates only
    assert result["music_to_image"]["queries_without_relevant"] == len(held_out.clips) - len(partners["music_to_image"])


@pytest.fixture(scope="module")
def full_count(tmp_path_factory):
    """The real image_va.csv and matching files (linked, not copied) and a music_va.csv of every
    segment 9 to 21 of every song they name (and every clip they name), with invented VA."""
    if not os.path.isdir(REFERENCE):
        pytest.skip(f"the real annotation files are not at {REFERENCE}")
    folder = tmp_path_factory.mktemp("full-count")
    for name in ("image_va.csv", *MATCHING.values()):
        os.symlink(os.path.join(REFERENCE, name), folder / name)
    segments = {}
    for name in MATCHING.values():
        with open(folder / name, encoding="utf-8") as f:
            for clip in (line.split()[0] for line in f if line.strip()):
                song, segment = clip.split("-")
                segments.setdefault(song, {9, *range(10, 22)}).add(int(segment))
    rng = numpy.random.default_rng(0)
    clips = [f"{song}-{segment}" for song in sorted(segments) for segment in sorted(segments[song])]
    sample.write_annotations(str(folder), clips=[(clip, *numpy.round(rng.random(2), 6), "A clip.") for clip in clips])
    return folder


def test_the_full_count_test_split_scores_exact_va_constant_va_and_imemnet_scores_as_they_must(full_count, tmp_path):
    held_out = HeldOut(full_count, "test")
    va = write_va(tmp_path / "va.csv", exact_va(held_out))
    constant = write_va(tmp_path / "constant.csv", [(i, 0.5, 0.5) for i, *_ in exact_va(held_out)])
    scores = write_scores(tmp_path / "scores.csv", [(*pair, score) for pair, score in held_out.pairs.items()])
    exact = json.loads(command("--annotations", full_count, "--va", va, "--scores", scores, "--json").stdout)
    assert exact["items"]["images"] == len(held_out.images) == 4937 - 155  # the 155 named without VA left out
    assert exact["items"]["clips"] == len(held_out.clips) and exact["items"]["songs"] == 360
    for modality, dimension in itertools.product(("image", "music"), ("valence", "arousal")):
        assert exact["va"][modality][dimension]["rmse"] == 0
        assert exact["va"][modality][dimension]["ccc"] == pytest.approx(1)
    assert exact["scores"]["spearman"] == pytest.approx(1) and exact["scores"]["pairs"] == len(held_out.pairs)
    flat = evaluated("test", full_count, va=constant)["va"]
    assert all(
        flat[m][d]["ccc"] == pytest.approx(0, abs=1e-12) for m in ("image", "music") for d in ("valence", "arousal")
    )


def test_the_full_count_test_split_scores_recall_at_1_as_counted_by_hand_when_every_named_pair_ranks_first(
    full_count, tmp_path
):
    held_out = HeldOut(full_count, "test")
    images, clips = list(held_out.images), list(held_out.clips)
    image_at, clip_at = {image: n for n, image in enumerate(images)}, {clip: n for n, clip in enumerate(clips)}
    rng = numpy.random.default_rng(0)  # an image a random direction of 512 (nearly apart), not an axis of 4,782 own
    axes = rng.normal(size=(len(images), 512))
    axes /= numpy.linalg.norm(axes, axis=1, keepdims=True)
    partners = {"image_to_music": {}, "music_to_image": {}}
    for clip, image in held_out.pairs:
        partners["image_to_music"].setdefault(image, set()).add(clip)
        partners["music_to_image"].setdefault(clip, set()).add(image)
    clip_vectors = rng.normal(scale=1e-3, size=(len(clips), 512))
    for clip, named in partners["music_to_image"].items():
        clip_vectors[clip_at[clip]] += sum(axes[image_at[image]] for image in named)
    result = evaluated(
        "test", full_count, embeddings=write_embeddings(tmp_path / "e.npz", images, axes, clips, clip_vectors)
    )
    # music -> image: a clip's named images score about 1/sqrt(n), any other about 0: the first is named
    named = partners["music_to_image"]
    assert result["retrieval"]["music_to_image"]["recall@1"] == pytest.approx(
        sum(1 / len(others) for others in named.values()) / len(named)
    )
    assert result["retrieval"]["music_to_image"]["queries"] == len(named)


def command(*arguments, cwd=ROOT):
    """`python -m imemnet_c_tools.cli evaluate ...` as a user runs it; fails the test on an error."""
    result = subprocess.run(
        [sys.executable, "-m", "imemnet_c_tools.cli", "evaluate", *map(str, arguments)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_the_command_prints_what_the_function_returns(tmp_path):
    held_out = HeldOut(SAMPLE, "test")
    files = {
        "va": write_va(tmp_path / "va.csv", exact_va(held_out)),
        "scores": write_scores(tmp_path / "scores.csv", [(*pair, 0.5) for pair in held_out.pairs]),
        "embeddings": write_embeddings(tmp_path / "e.npz", *first_ranked_embeddings(held_out)),
    }
    options = [f"--{name}={path}" for name, path in files.items()]
    printed = json.loads(command("--annotations", SAMPLE, *options, "--json").stdout)
    assert printed == protocol.as_json(evaluated(**files))
    table = command("--annotations", SAMPLE, *options).stdout
    assert "protocol imemnet-c-eval/1, split test" in table and "ASSUMPTION" in table
    for reference in ("mean predictor", "chance", "VA oracle"):
        assert reference in table


def json_paths(value, prefix=""):
    if isinstance(value, dict):
        return {path for key, inner in value.items() for path in json_paths(inner, f"{prefix}{key}.")}
    return {prefix[:-1]}


def test_the_json_object_holds_every_metric_beside_its_interval_at_the_documented_paths(tmp_path):
    held_out = HeldOut(SAMPLE, "test")
    result = protocol.as_json(
        evaluated(
            va=write_va(tmp_path / "va.csv", exact_va(held_out)),
            scores=write_scores(tmp_path / "scores.csv", [(*pair, 0.5) for pair in held_out.pairs]),
            embeddings=write_embeddings(tmp_path / "e.npz", *first_ranked_embeddings(held_out)),
        )
    )
    assert result["protocol"] == "imemnet-c-eval/1" and result["split"] == "test"
    wanted = {
        *(f"va.{m}.{d}.{metric}" for m in ("image", "music") for d in ("valence", "arousal") for metric in VA_METRICS),
        *(f"scores.{metric}" for metric in SCORE_METRICS),
        *(f"retrieval.{d}.{metric}" for d in ("image_to_music", "music_to_image") for metric in RETRIEVAL_METRICS),
        *(f"retrieval_va_kernel.{d}.{m}" for d in ("image_to_music", "music_to_image") for m in RETRIEVAL_METRICS),
    }
    paths = json_paths(result)
    assert wanted <= paths and {f"{path}_ci" for path in wanted} <= paths
    intervals = [value for path in wanted for value in [_at(result, f"{path}_ci")] if value is not None]
    assert intervals and all(len(interval) == 2 and interval[0] <= interval[1] for interval in intervals)
    assert result["scores"]["spearman_ci"] is None is result["scores"]["kendall_ci"]  # documented: no interval
    assert "ASSUMPTION" in result["retrieval_va_kernel"]["relevance"]
    for point, sections in {
        "mean_predictor": {"va", "scores"},
        "va_oracle": {"scores", "retrieval", "retrieval_va_kernel"},
    }.items():
        assert set(result["reference"][point]) == sections


def _at(value, path):
    for key in path.split("."):
        value = value[key]
    return value


def test_predictions_outside_the_split_are_ignored_and_counted(tmp_path):
    held_out = HeldOut(SAMPLE, "test")
    outside = [item for item in held_out.annotated if item not in held_out.images and item not in held_out.clips]
    va = write_va(tmp_path / "va.csv", exact_va(held_out) + [(item, 0.5, 0.5) for item in outside[:3]])
    result = evaluated(va=va)["va"]
    assert result["outside_split"] == 3 and result["image"]["valence"]["rmse"] == 0
    train_pair = next(pair for pair in HeldOut(SAMPLE, "validation").pairs if pair not in held_out.pairs)
    scores = [(*pair, score) for pair, score in held_out.pairs.items()] + [(*train_pair, 0.5)]
    assert evaluated(scores=write_scores(tmp_path / "s.csv", scores))["scores"]["outside_split"] == 1


def test_a_missing_prediction_is_an_error_naming_it_unless_allow_missing_which_counts_it(tmp_path, capsys):
    held_out = HeldOut(SAMPLE, "test")
    left_out = list(held_out.clips)[0]
    va = write_va(tmp_path / "va.csv", [row for row in exact_va(held_out) if row[0] != left_out])
    assert cli.main(["evaluate", "--annotations", SAMPLE, "--va", va]) == 2
    out, err = capsys.readouterr()
    assert out == "" and va in err and left_out in err and "--allow-missing" in err
    result = evaluated(va=va, allow_missing=True)["va"]
    assert result["music"]["missing"] == 1 and result["music"]["items"] == len(held_out.clips) - 1
    assert result["music"]["valence"]["rmse"] == 0
    images = list(held_out.images)[1:]
    embeddings = write_embeddings(
        tmp_path / "e.npz", images, numpy.eye(len(images)), ["3001-9"], numpy.ones((1, len(images)))
    )
    with pytest.raises(protocol.BadInput, match=re.escape(list(held_out.images)[0])):
        evaluated(embeddings=embeddings)
    retrieval = evaluated(embeddings=embeddings, allow_missing=True)["retrieval"]
    assert retrieval["missing_images"] == 1 and retrieval["missing_clips"] == len(held_out.clips) - 1
    (first_pair, _), *others = held_out.pairs.items()
    scores = write_scores(tmp_path / "s.csv", [(*pair, score) for pair, score in others])
    with pytest.raises(protocol.BadInput, match=" ".join(first_pair)):
        evaluated(scores=scores)
    assert evaluated(scores=scores, allow_missing=True)["scores"]["missing"] == 1


VA_ROWS = [("1001", "0.5", "0.5"), ("3001-9", "0.5", "0.5")]
BAD_INPUT = {  # case: (file kind, its content, what the error says)
    "nan": ("va", [*VA_ROWS, ("1002", "nan", "0.5")], r"line 4: valence is NaN, expected a number in \[0, 1\]"),
    "above 1": ("va", [*VA_ROWS, ("1002", "0.5", "1.5")], r"line 4: arousal is 1.5, expected a number in \[0, 1\]"),
    "below 0": ("va", [*VA_ROWS, ("1002", "-0.1", "0.5")], r"line 4: valence is -0.1, expected"),
    "not a number": ("va", [*VA_ROWS, ("1002", "high", "0.5")], r"line 4: valence is 'high', expected a number"),
    "duplicated id": ("va", [*VA_ROWS, ("1001", "0.5", "0.5")], r"line 4: id '1001' again \(first on line 2\)"),
    "unknown id": ("va", [*VA_ROWS, ("1001.0", "0.5", "0.5")], r"line 4: id '1001.0' is no image or clip"),
    "bad header": (
        "va",
        "image,valence,arousal\n1001,0.5,0.5\n",
        r"header \['image', 'valence', 'arousal'\], expected id,valence",
    ),
    "short row": ("va", [("1001", "0.5")], r"line 2: 2 fields, expected 3"),
    "score nan": ("scores", [("3001-9", "1001", "nan")], r"line 2: score is NaN"),
    "score above 1": ("scores", [("3001-9", "1001", "2")], r"line 2: score is 2.0, expected a number in \[0, 1\]"),
    "duplicated pair": ("scores", [("3001-9", "1001", "0.5")] * 2, r"line 3: the pair 3001-9 1001 again"),
    "unknown clip": ("scores", [("3001-99", "1001", "0.5")], r"line 2: clip_id '3001-99' is no clip"),
    "embedding nan": (
        "embeddings",
        {"image_embeddings": [[1, 0], [numpy.nan, 1]]},
        r"image_embeddings row 1 \(id '1002'\) holds NaN",
    ),
    "embedding zero": (
        "embeddings",
        {"clip_embeddings": [[0, 0]]},
        r"clip_embeddings row 0 \(id '3001-9'\) is all zeros",
    ),
    "embedding duplicated id": ("embeddings", {"image_ids": ["1001", "1001"]}, r"image_ids row 1: id '1001' again"),
    "embedding unknown id": ("embeddings", {"clip_ids": ["9999-1"]}, r"clip_ids row 0: '9999-1' is no clip"),
    "embedding absent array": ("embeddings", {"clip_ids": None}, r"has no array clip_ids"),
    "unknown image": ("scores", [("3001-9", "9999", "0.5")], r"line 2: image_id '9999' is no image"),
    "embedding infinity": (
        "embeddings",
        {"clip_embeddings": [[numpy.inf, 1]]},
        r"clip_embeddings row 0 \(id '3001-9'\) holds NaN or infinity",
    ),
    "embedding unknown image": ("embeddings", {"image_ids": ["1001", "9999"]}, r"image_ids row 1: '9999' is no image"),
    "embedding widths differ": (
        "embeddings",
        {"clip_embeddings": [[1, 1, 1]]},
        r"image and clip embeddings differ in width \(\[2, 3\]\)",
    ),
    "embedding rows short": ("embeddings", {"image_embeddings": [[1, 0]]}, r"expected numbers of shape \(2, width\)"),
    "embedding ids not text": (
        "embeddings",
        {"clip_ids": [3001]},
        r"clip_ids is a int64 array of shape \(1,\), expected",
    ),
}


def write_bad(tmp_path, kind, content):
    if isinstance(content, str):  # the whole file
        (tmp_path / f"{kind}.csv").write_text(content)
        return str(tmp_path / f"{kind}.csv")
    if kind == "va":
        return write_va(tmp_path / "va.csv", content)
    if kind == "scores":
        return write_scores(tmp_path / "scores.csv", content)
    arrays = {
        "image_ids": ["1001", "1002"],
        "image_embeddings": [[1, 0], [0, 1]],
        "clip_ids": ["3001-9"],
        "clip_embeddings": [[1, 1]],
    }
    arrays = {name: numpy.asarray(value) for name, value in {**arrays, **content}.items() if value is not None}
    numpy.savez(tmp_path / "embeddings.npz", **arrays)
    return str(tmp_path / "embeddings.npz")


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_an_error_naming_the_file_and_the_row_and_prints_nothing_else(case, tmp_path, capsys):
    kind, content, says = BAD_INPUT[case]
    path = write_bad(tmp_path, kind, content)
    assert cli.main(["evaluate", "--annotations", SAMPLE, f"--{kind}", path, "--allow-missing"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no half-written output
    assert err.startswith(f"error: {path}") and re.search(says, err), err


def test_the_held_out_items_are_those_va_pairs_draws_from(tmp_path):
    for split in MATCHING:
        items = protocol.split_items(split, annotations=SAMPLE)
        pairs = list(va_pairs(SAMPLE, split, pairs_per_item=4, cache_dir=str(tmp_path / "cache")).decode(False))
        assert set(items.image_ids) == {pair["image_id"] for pair in pairs}
        assert set(items.clip_ids) == {pair["clip_id"] for pair in pairs}


def test_the_annotation_files_come_from_a_folder_a_data_dir_at_any_depth_or_a_download(tmp_path, network):
    va = write_va(tmp_path / "va.csv", exact_va(HeldOut(SAMPLE, "test")))
    nested = tmp_path / "downloads" / "annotations" / "2025"
    shutil.copytree(SAMPLE, tmp_path / "downloads", ignore=shutil.ignore_patterns("*_matching.txt", "*.csv"))
    os.makedirs(nested)
    for name in ("image_va.csv", "music_va.csv", "test_matching.txt"):
        shutil.copy(os.path.join(SAMPLE, name), nested / name)
    for name, url in imemnet_c.ANNOTATION_URLS.items():
        network[url] = os.path.join(SAMPLE, name)
    cache = str(tmp_path / "cache")
    from_folder = protocol.evaluate("test", va=va, annotations=SAMPLE)
    from_data_dir = protocol.evaluate("test", va=va, data_dir=str(tmp_path / "downloads"), cache_dir=cache)
    downloaded = protocol.evaluate("test", va=va, cache_dir=cache)
    assert from_data_dir["annotations"]["music_va.csv"] == str(nested / "music_va.csv")
    assert downloaded["annotations"]["music_va.csv"] == imemnet_c.ANNOTATION_URLS["music_va.csv"]
    assert from_folder["va"] == from_data_dir["va"] == downloaded["va"]
    with pytest.raises(protocol.BadInput, match=r"annotations holds no .*test_matching.txt: it names a folder holding"):
        protocol.evaluate("test", va=va, annotations=str(nested.parent))


def test_the_bootstrap_replicates_are_the_libraries_metrics_of_the_resampled_items():
    rng = numpy.random.default_rng(1)
    truth, predicted = rng.random(40), rng.random(40)
    predicted[:5] = predicted[5]  # ties
    weights = rng.integers(0, 3, (6, 40)).astype(float)
    regression = protocol.regression_replicates(truth, predicted, weights)
    scores = protocol.score_replicates(truth, predicted, weights)
    for row, drawn in enumerate(weights.astype(int)):
        t, p = numpy.repeat(truth, drawn), numpy.repeat(predicted, drawn)
        assert regression[row, 0] == pytest.approx(metrics.root_mean_squared_error(t, p))
        assert regression[row, 1] == pytest.approx(metrics.mean_absolute_error(t, p))
        assert regression[row, 2] == pytest.approx(stats.pearsonr(t, p).statistic)
        assert regression[row, 3] == pytest.approx(protocol.ccc(t, p))
        assert scores[row, :2] == pytest.approx(regression[row, :2]) and numpy.isnan(scores[row, 2:]).all()
        values = rng.integers(1, 9, (40, 6)).astype(float)
        weighted_median = protocol.retrieval_replicates(values, weights[row : row + 1])[0, 3]
        assert weighted_median == numpy.median(numpy.repeat(values[:, 3], drawn))
    alone = 3 * numpy.eye(40)  # each item drawn alone three times: constants, whose r is undefined, not rounding's
    assert numpy.isnan(protocol.regression_replicates(truth, predicted, alone)[:, 2]).all()


def per_query_as_sklearn(similarities, grades):
    """The per-query metrics of queries x candidates `similarities` and relevance `grades`, having
    checked that their average precision and nDCG@10 are scikit-learn's."""
    queries, candidates = numpy.nonzero(grades)
    table = protocol.Relevance.of(queries, candidates, grades[queries, candidates])
    (placed,) = protocol.relevant_ranks(lambda q, c: q, similarities, numpy.zeros(similarities.shape[1]), [table])
    values = protocol.per_query(table, placed)
    for query, (relevant, similarity) in enumerate(zip(grades > 0, similarities, strict=True)):
        assert values[query, 4] == pytest.approx(metrics.average_precision_score(relevant, similarity))
        assert values[query, 5] == pytest.approx(metrics.ndcg_score(grades[[query]], similarities[[query]], k=10))
    return values


def test_the_per_query_metrics_are_sklearns_and_chance_is_their_expectation():
    rng = numpy.random.default_rng(2)
    similarities = rng.random((7, 30))
    grades = numpy.where(rng.random((7, 30)) < 0.2, rng.random((7, 30)), 0.0)
    grades[:, 0] = 0.5  # every query has a relevant candidate
    values = per_query_as_sklearn(similarities, grades)
    for query in range(7):
        relevant = grades[query] > 0
        order = numpy.argsort(-similarities[query])
        assert values[query, 0] == numpy.sum(relevant[order[:1]]) / relevant.sum()
        assert values[query, 3] == 1 + numpy.flatnonzero(relevant[order])[0]
    # chance: the mean over every ordering of 6 candidates, 2 of them relevant
    table = protocol.Relevance.of(numpy.zeros(2, int), numpy.array([1, 4]), numpy.array([0.9, 0.3]))
    every = numpy.array(
        [
            protocol.per_query(table, numpy.column_stack([numpy.array(order, float)[[1, 4]], numpy.ones(2)]))[0]
            for order in itertools.permutations(range(1, 7))
        ]
    )
    expected = protocol.chance(table, 6)[0]
    assert expected[[0, 1, 2, 4, 5]] == pytest.approx(every.mean(axis=0)[[0, 1, 2, 4, 5]])
    assert expected[3] == pytest.approx(every[:, 3].mean())  # the first relevant rank's expectation


def test_tied_similarities_are_scored_as_sklearn_scores_them_and_as_every_order_of_the_tied_would_be():
    """Coarse similarities (EMOTIC's VA lie on a grid of ninths: the VA oracle ties by the hundred):
    average precision and nDCG@10 are scikit-learn's, which take ties as such; recall@k and the first
    relevant rank are their mean over every order of the tied candidates."""
    rng = numpy.random.default_rng(5)
    similarities = rng.integers(0, 3, (9, 7)) / 2  # three values among 7 candidates
    grades = numpy.where(rng.random((9, 7)) < 0.35, rng.integers(1, 4, (9, 7)) / 3, 0.0)
    grades[:, 3] = 1.0
    values = per_query_as_sklearn(similarities, grades)
    for query in range(9):
        relevant = grades[query] > 0
        orders = {  # every order of the candidates that keeps their similarities' order
            tuple(sorted(range(7), key=lambda c, p=p: (-similarities[query, c], p[c])))
            for p in itertools.permutations(range(7))
        }
        recalls = [[relevant[list(order[:k])].sum() / relevant.sum() for k in (1, 5, 10)] for order in orders]
        firsts = [1 + numpy.flatnonzero(relevant[list(order)])[0] for order in orders]
        assert values[query, :3] == pytest.approx(numpy.mean(recalls, axis=0))
        assert values[query, 3] == pytest.approx(numpy.mean(firsts))


def test_a_tie_is_neither_the_best_nor_the_worst_of_its_places():
    table = protocol.Relevance.of(numpy.zeros(1, int), numpy.array([2]), numpy.ones(1))
    (placed,) = protocol.relevant_ranks(
        lambda q, c: q, numpy.array([[0.9, 0.5, 0.5, 0.5, -0.0]]), numpy.zeros(5), [table]
    )
    assert placed.tolist() == [[2.0, 3.0]]  # 1 above it, and 3 at its similarity: places 2, 3 and 4
    recall_at_1, recall_at_5, _, first_rank, average_precision, _ = protocol.per_query(table, placed)[0]
    assert (recall_at_1, recall_at_5, first_rank) == (0, 1, 3)
    assert average_precision == pytest.approx(1 / 4)  # scikit-learn's: one relevant among the 4 up to the tie's end


def documented_commands(page, selected=lambda line: True):
    """The command lines of a page's bash blocks (comments left out) that `selected` keeps."""
    with open(os.path.join(ROOT, "docs", page), encoding="utf-8") as f:
        blocks = re.findall(r"```bash\n(.*?)```", f.read(), flags=re.S)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and selected(line)]


def run_documented(line, cwd):
    """A documented command line, run by bash in `cwd` (where data/ and examples/ lead to the
    repository's), `imemnet-c` and `python` being this environment's."""
    shims = cwd / "bin"
    shims.mkdir(exist_ok=True)
    for name, runs in (("imemnet-c", f"{sys.executable} -m imemnet_c_tools.cli"), ("python", sys.executable)):
        (shims / name).write_text(f'#!/bin/sh\nexec {runs} "$@"\n')
        (shims / name).chmod(0o755)
    for linked in ("data", "examples"):
        if not (cwd / linked).exists():
            os.symlink(os.path.join(ROOT, linked), cwd / linked)
    environment = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "PYTHONPATH": ROOT}
    result = subprocess.run(["bash", "-c", line], cwd=cwd, env=environment, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{line}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def test_every_command_the_evaluation_page_shows_runs(tmp_path):
    """On predictions for every annotated item of the sample, written where the page's commands read them."""
    folder = tmp_path / "predictions"
    folder.mkdir()
    validation, test = (HeldOut(SAMPLE, split) for split in MATCHING)
    write_va(folder / "va.csv", [(item, *va) for item, va in test.annotated.items()])
    write_scores(folder / "scores.csv", [(*pair, score) for pair, score in {**validation.pairs, **test.pairs}.items()])
    images = list(first_va(os.path.join(SAMPLE, "image_va.csv")))
    clips = list(first_va(os.path.join(SAMPLE, "music_va.csv")))
    rng = numpy.random.default_rng(3)
    write_embeddings(
        folder / "embeddings.npz", images, rng.random((len(images), 4)), clips, rng.random((len(clips), 4))
    )
    commands = documented_commands("evaluation.md")
    assert len(commands) >= 3 and all(line.startswith("imemnet-c evaluate") for line in commands)
    for line in commands:
        run_documented(line, tmp_path)
    written = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    assert written and all(result["protocol"] == "imemnet-c-eval/1" for result in written)


def test_the_training_example_writes_predictions_that_evaluate_reads_as_the_training_page_shows(tmp_path):
    commands = documented_commands("training.md", lambda line: "--predictions" in line or "imemnet-c evaluate" in line)
    assert len(commands) == 2
    trained, evaluated_ = (run_documented(line, tmp_path) for line in commands)
    assert "predictions for the test split written to predictions" in trained.stdout
    assert "mean loss" in trained.stdout and "VA regression: predictions/va.csv" in evaluated_.stdout
    held_out = HeldOut(SAMPLE, "test")
    with open(tmp_path / "predictions" / "scores.csv", encoding="utf-8") as f:
        assert {tuple(row[:2]) for row in list(csv.reader(f))[1:]} == set(held_out.pairs)
    for section in ("Matching scores: predictions/scores.csv", "Retrieval: predictions/embeddings.npz"):
        assert section in evaluated_.stdout
