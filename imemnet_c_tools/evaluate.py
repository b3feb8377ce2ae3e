"""Scores predictions on IMEMNet-C's validation or test split by the protocol imemnet-c-eval/1
(docs/evaluation.md): valence and arousal per image and per clip, IMEMNet's matching scores, and
retrieval image->music and music->image; each metric beside its reference points (the mean
predictor, chance, the VA oracle) and, but for the rank correlations, a 95% bootstrap interval.

    imemnet-c evaluate --split test [--annotations DIR | --data-dir DIR] [--va VA.csv]
        [--scores SCORES.csv] [--embeddings EMBEDDINGS.npz] [--allow-missing] [--json]

VA.csv: `id,valence,arousal`, a row per image or clip id. SCORES.csv: `clip_id,image_id,score`, a
row per pair of the split's matching file. EMBEDDINGS.npz: the arrays image_ids, image_embeddings,
clip_ids, clip_embeddings (compared by cosine). Only the annotation files are read, no media:
from --annotations DIR (the files in it), --data-dir (found at any depth, as a load finds them),
or else downloaded as a load downloads them.

Exit status: 0 evaluated; 2 bad usage or bad input (the message names the file, the row and what
to do). Nothing is printed unless the whole evaluation succeeds.
"""

import csv
import json
import math
import os
import sys
import textwrap
import warnings
from typing import NamedTuple

import numpy

import imemnet_c
from imemnet_c_tools.pairs import DEFAULT_SCALE, HELD_OUT, va_score

PROTOCOL = "imemnet-c-eval/1"
SPLITS = tuple(HELD_OUT)  # validation, test
RESAMPLES, SEED, CONFIDENCE = 1000, 0, 0.95
TOP_K = (1, 5, 10)  # recall@k; nDCG is cut at the last
VA_RADIUS = 1 / 18  # relevant within half a step of EMOTIC's VA grid (multiples of 1/9): about the same rating
VA_RELEVANCE = (
    f"ASSUMPTION, not a published ground truth: a candidate is relevant when the Euclidean distance d between its "
    f"annotated (valence, arousal) and the query's is at most 1/18 = {VA_RADIUS:.3f} (half a step of EMOTIC's VA "
    f"grid, multiples of 1/9: about the same rating), graded by exp(-d / {DEFAULT_SCALE}) "
    "(imemnet_c_tools.pairs' default kernel, itself an assumption)"
)
MATCHING_RELEVANCE = (
    "the pairs the split's matching file names, graded by their matching score; any other pair is not relevant"
)
ROWS_PER_CHUNK = 128  # queries ranked at a time (a chunk of similarities is rows x candidates)
REPLICATES_PER_CHUNK = 100  # bootstrap replicates weighed at a time


class BadInput(ValueError):
    """An input the evaluation cannot take: the message names the file, the row and what to do."""


class SplitItems(NamedTuple):
    """The items a split holds out, as `imemnet_c_tools.pairs.va_pairs` holds them out: the images its
    matching file names (by id) and every clip of every song it names, each id once with its first
    annotation row; and the file's distinct pairs between them, with IMEMNet's score."""

    split: str
    matching: str  # the matching file's name
    origins: dict  # {annotation file: where it was read from}
    image_ids: tuple
    image_va: numpy.ndarray  # (images, 2)
    clip_ids: tuple
    clip_va: numpy.ndarray  # (clips, 2)
    clip_songs: tuple  # the song of each clip
    pairs: tuple  # ((clip index, image index), ...), in the file's order
    pair_scores: numpy.ndarray
    known_images: frozenset  # every image id the annotation files name: a prediction for another is an error
    known_clips: frozenset
    counts: dict  # what was left out, and why


def split_items(split, annotations=None, data_dir=None, cache_dir=None):
    """The `SplitItems` of "validation" or "test", from the annotation files in the folder
    `annotations`, or found in `data_dir` as a load finds them, or else downloaded."""
    if split not in HELD_OUT:
        raise BadInput(f"split={split!r}: expected one of {', '.join(SPLITS)}.")
    (images, clips, matching), origins = _annotation_tables(split, annotations, data_dir, cache_dir)
    named_images = {pair.image_id for pair in matching.rows}
    named_clips = {pair.clip_id for pair in matching.rows}
    named_songs = {imemnet_c.song_of(clip) for clip in named_clips}
    image_rows = [row for row in images.first_row_per_id().values() if row.id in named_images]
    clip_rows = [row for row in clips.first_row_per_id().values() if imemnet_c.song_of(row.id) in named_songs]
    image_index = {row.id: n for n, row in enumerate(image_rows)}
    clip_index = {row.id: n for n, row in enumerate(clip_rows)}
    pairs = {}
    for pair in matching.rows:  # a repeated pair carries the same score (docs/evaluation.md): its first line counts
        if pair.image_id in image_index and pair.clip_id in clip_index:
            pairs.setdefault((clip_index[pair.clip_id], image_index[pair.image_id]), pair.score)
    distinct_pairs = {(pair.clip_id, pair.image_id) for pair in matching.rows}
    counts = {
        "named_images_without_va": len(named_images - image_index.keys()),
        "named_clips_without_va": len(named_clips - clip_index.keys()),
        "clips_beyond_named": len(clip_index.keys() - named_clips),
        "named_pairs": len(distinct_pairs),
        "pairs_without_va": len(distinct_pairs) - len(pairs),
    }
    return SplitItems(
        split=split,
        matching=HELD_OUT[split],
        origins=dict(sorted(origins.items())),
        image_ids=tuple(image_index),
        image_va=_va(image_rows),
        clip_ids=tuple(clip_index),
        clip_va=_va(clip_rows),
        clip_songs=tuple(imemnet_c.song_of(clip) for clip in clip_index),
        pairs=tuple(pairs),
        pair_scores=numpy.array(list(pairs.values()), numpy.float64),
        known_images=frozenset(row.id for row in images.rows) | named_images,
        known_clips=frozenset(row.id for row in clips.rows) | named_clips,
        counts=counts,
    )


def _va(rows):
    return numpy.array([(row.valence, row.arousal) for row in rows], numpy.float64).reshape(-1, 2)


def _annotation_tables(split, annotations, data_dir, cache_dir):
    """The `Table`s of image_va.csv, music_va.csv and the split's matching file, and
    {file: where it was read from}."""
    matching = HELD_OUT[split]
    try:
        if annotations is not None:
            paths = {name: os.path.join(annotations, name) for name in ("image_va.csv", "music_va.csv", matching)}
            absent = [name for name, path in paths.items() if not os.path.isfile(path)]
            if absent:
                raise BadInput(
                    f"--annotations {annotations} holds no {' or '.join(absent)}: it names a folder holding image_va.csv, "
                    f"music_va.csv and {matching}. Pass --data-dir to find them in a download folder at any depth, "
                    "or neither to download the published files."
                )
            tables = (
                imemnet_c.read_va_table(paths["image_va.csv"], with_caption=False),
                imemnet_c.read_va_table(paths["music_va.csv"], with_caption=True),
                imemnet_c.read_pairs(paths[matching]),
            )
            return tables, paths
        plan = imemnet_c.make_plan("paired_annotations", data_dir, splits=[split], cache_dir=cache_dir)
        if split in plan.absent:
            raise BadInput(f"{matching} is unavailable: {plan.absent[split]}")
        tables = plan.tables[split]
        return (tables["images"], tables["clips"], tables["pairs"]), plan.origins
    except (OSError, ValueError) as error:  # the parsers' and the plan's messages name the file and the line
        if isinstance(error, BadInput):
            raise
        raise BadInput(str(error)) from error


# ---------------------------------------------------------------------------------------------
# Predictions: every file is read and checked whole before anything is computed.


def read_va_predictions(path, items):
    """{id: (valence, arousal)} from a file `id,valence,arousal`, and how many of its ids, annotated
    but not held out by the split, are ignored."""
    predicted, lines = {}, {}
    for line, (item_id, valence, arousal) in _csv_rows(path, ("id", "valence", "arousal")):
        if item_id in lines:
            raise BadInput(
                f"{path}, line {line}: id {item_id!r} again (first on line {lines[item_id]}): give one row per image or clip."
            )
        if item_id not in items.known_images and item_id not in items.known_clips:
            raise BadInput(
                f"{path}, line {line}: id {item_id!r} is no image or clip of the annotation files (image_va.csv, "
                f"music_va.csv, {items.matching}). Write each id exactly as those files do (an IAPS id such as 2352 "
                "is a string, not a number)."
            )
        lines[item_id] = line
        predicted[item_id] = (_unit(valence, path, line, "valence"), _unit(arousal, path, line, "arousal"))
    held_out = set(items.image_ids) | set(items.clip_ids)
    return predicted, sum(item_id not in held_out for item_id in predicted)


def read_score_predictions(path, items):
    """{(clip_id, image_id): score} from a file `clip_id,image_id,score`, and how many of its pairs,
    of annotated items but not among the split's pairs, are ignored."""
    predicted, lines = {}, {}
    for line, (clip_id, image_id, score) in _csv_rows(path, ("clip_id", "image_id", "score")):
        pair = (clip_id, image_id)
        if pair in lines:
            raise BadInput(
                f"{path}, line {line}: the pair {clip_id} {image_id} again (first on line {lines[pair]}): give one row per pair."
            )
        for item_id, known, column in (
            (clip_id, items.known_clips, "clip_id"),
            (image_id, items.known_images, "image_id"),
        ):
            if item_id not in known:
                raise BadInput(
                    f"{path}, line {line}: {column} {item_id!r} is no {column[:-3]} of the annotation files. Write each id "
                    f"exactly as music_va.csv, image_va.csv and {items.matching} do, clip_id first."
                )
        lines[pair] = line
        predicted[pair] = _unit(score, path, line, "score")
    split_pairs = {(items.clip_ids[clip], items.image_ids[image]) for clip, image in items.pairs}
    return predicted, sum(pair not in split_pairs for pair in predicted)


EMBEDDING_ARRAYS = {"image": ("image_ids", "image_embeddings"), "music": ("clip_ids", "clip_embeddings")}


def read_embeddings(path, items):
    """{"image": {id: unit vector}, "music": {...}} from an .npz of image_ids, image_embeddings,
    clip_ids and clip_embeddings, and how many of its ids, annotated but not held out, are ignored."""
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError) as error:
        raise BadInput(
            f"{path} cannot be read as an .npz of arrays ({error}): write it with numpy.savez(path, image_ids=..., "
            "image_embeddings=..., clip_ids=..., clip_embeddings=...), ids as strings."
        ) from None
    wanted = [name for pair in EMBEDDING_ARRAYS.values() for name in pair]
    if absent := [name for name in wanted if name not in arrays]:
        raise BadInput(
            f"{path} has no array {', '.join(absent)}: expected {', '.join(wanted)} (it has {sorted(arrays)})."
        )
    embeddings, widths, outside = {}, set(), 0
    for modality, (ids_name, vectors_name) in EMBEDDING_ARRAYS.items():
        ids, vectors = arrays[ids_name], arrays[vectors_name]
        if ids.ndim != 1 or ids.dtype.kind not in "US":
            raise BadInput(f"{path}: {ids_name} is a {ids.dtype} array of shape {ids.shape}, expected 1-D strings.")
        if vectors.ndim != 2 or vectors.dtype.kind not in "fiu" or len(vectors) != len(ids):
            raise BadInput(
                f"{path}: {vectors_name} is a {vectors.dtype} array of shape {vectors.shape}, expected numbers of "
                f"shape ({len(ids)}, width): a row per id of {ids_name}."
            )
        known, held_out = (
            (items.known_images, set(items.image_ids))
            if modality == "image"
            else (items.known_clips, set(items.clip_ids))
        )
        vectors = vectors.astype(numpy.float64)
        norms = numpy.linalg.norm(vectors, axis=1)
        rows = {}
        for row, item_id in enumerate(ids.astype(str).tolist()):
            where = f"{path}, {vectors_name} row {row} (id {item_id!r})"
            if item_id in rows:
                raise BadInput(f"{path}, {ids_name} row {row}: id {item_id!r} again (first at row {rows[item_id]}).")
            if item_id not in known:
                raise BadInput(
                    f"{path}, {ids_name} row {row}: {item_id!r} is no {'image' if modality == 'image' else 'clip'} of "
                    "the annotation files. Write each id exactly as they do."
                )
            if not numpy.isfinite(vectors[row]).all():
                raise BadInput(f"{where} holds NaN or infinity: give every item a finite embedding.")
            if norms[row] == 0:
                raise BadInput(f"{where} is all zeros: cosine similarity needs a non-zero embedding.")
            rows[item_id] = row
        embeddings[modality] = {item_id: vectors[row] / norms[row] for item_id, row in rows.items()}
        outside += sum(item_id not in held_out for item_id in rows)
        widths.add(vectors.shape[1])
    if len(widths) > 1:
        raise BadInput(f"{path}: image and clip embeddings differ in width ({sorted(widths)}): compare like with like.")
    return embeddings, outside


def _csv_rows(path, header):
    """(line number, fields) of each row of a CSV file with exactly `header`."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            found = next(reader, None)
            if [cell.strip().lower() for cell in found or []] != list(header):
                raise BadInput(f"{path}: header {found}, expected {','.join(header)}.")
            line = reader.line_num
            for fields in reader:
                row_line, line = line + 1, reader.line_num
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise BadInput(
                        f"{path}, line {row_line}: {len(fields)} fields, expected {len(header)} ({','.join(header)})."
                    )
                yield row_line, [field.strip() for field in fields]
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"{path} cannot be read ({error}): pass a UTF-8 CSV file.") from None


def _unit(text, path, line, column):
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{path}, line {line}: {column} is {text!r}, expected a number in [0, 1].") from None
    if math.isnan(value):
        raise BadInput(
            f"{path}, line {line}: {column} is NaN, expected a number in [0, 1]: predict every item, or leave out "
            "its row and pass --allow-missing."
        )
    if not 0.0 <= value <= 1.0:
        raise BadInput(
            f"{path}, line {line}: {column} is {value}, expected a number in [0, 1] (IMEMNet-C's range): rescale "
            "or clip your predictions."
        )
    return float(numpy.float32(value))  # as the annotations are read: an exact copy of them scores 0


def _present(predicted, ids, path, what, allow_missing):
    """The positions of `ids` that `predicted` holds, and how many it lacks: an error naming them
    unless `allow_missing`."""
    present = [n for n, item_id in enumerate(ids) if item_id in predicted]
    missing = len(ids) - len(present)
    if missing and not allow_missing:
        absent = [
            " ".join(item_id) if isinstance(item_id, tuple) else item_id for item_id in ids if item_id not in predicted
        ]
        raise BadInput(
            f"{path} has no prediction for {missing:,} of the split's {len(ids):,} {what}: {', '.join(absent[:5])}"
            + (f" and {missing - 5:,} more" if missing > 5 else "")
            + ". Predict every item the split holds out, or pass --allow-missing to score those given (the others counted)."
        )
    return numpy.array(present, numpy.int64), missing


# ---------------------------------------------------------------------------------------------
# Metrics. Each point value comes from scipy or scikit-learn where they have it; the bootstrap
# replicates weigh every item by how often its unit was drawn, all replicates at once.


def _libraries():
    """scipy.stats and sklearn.metrics, imported on first use: the other commands run without them."""
    try:
        from scipy import stats
        from sklearn import metrics
    except ImportError as error:
        raise BadInput(
            f"imemnet-c evaluate computes its metrics with scipy and scikit-learn ({error}): "
            'pip install "imemnet-c[evaluate]" (or -r requirements-evaluate.txt in a clone).'
        ) from None
    return stats, metrics


def ccc(truth, predicted):
    """Lin's concordance correlation coefficient, with population (1/n) moments."""
    covariance = numpy.mean((truth - truth.mean()) * (predicted - predicted.mean()))
    with numpy.errstate(invalid="ignore", divide="ignore"):
        return 2 * covariance / (truth.var() + predicted.var() + (truth.mean() - predicted.mean()) ** 2)


def _defined(value):
    """A metric's value, or None where it is undefined (a correlation of a constant)."""
    value = float(value)
    return None if math.isnan(value) else value


def regression(truth, predicted):
    stats, metrics = _libraries()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pearsonr of a constant: undefined, reported as None
        pearson = stats.pearsonr(truth, predicted).statistic if len(truth) > 1 else math.nan
    return {
        "rmse": metrics.root_mean_squared_error(truth, predicted),
        "mae": metrics.mean_absolute_error(truth, predicted),
        "pearson": _defined(pearson),
        "ccc": _defined(ccc(truth, predicted)),
    }


def regression_replicates(truth, predicted, weights):
    """RMSE, MAE, Pearson r and CCC of each replicate (a row of `weights`)."""
    error = predicted - truth
    return numpy.column_stack(
        [
            numpy.sqrt(_weighted_mean(weights, error, error)),
            _weighted_mean(weights, numpy.abs(error)),
            *_correlations(truth, predicted, weights),
        ]
    )


def score_metrics(truth, predicted):
    stats, metrics = _libraries()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank correlations of a constant: undefined, reported as None
        spearman = stats.spearmanr(truth, predicted).statistic if len(truth) > 1 else math.nan
        kendall = stats.kendalltau(truth, predicted).statistic if len(truth) > 1 else math.nan
    return {
        "rmse": metrics.root_mean_squared_error(truth, predicted),
        "mae": metrics.mean_absolute_error(truth, predicted),
        "spearman": _defined(spearman),
        "kendall": _defined(kendall),
    }


def score_replicates(truth, predicted, weights):
    """RMSE and MAE of each replicate; the rank correlations have no interval (NaN): a resample
    must be ranked anew, which costs more than the rest of the evaluation (docs/evaluation.md)."""
    error = predicted - truth
    undefined = numpy.full(len(weights), numpy.nan)
    return numpy.column_stack(
        [
            numpy.sqrt(_weighted_mean(weights, error, error)),
            _weighted_mean(weights, numpy.abs(error)),
            undefined,
            undefined,
        ]
    )


def _weighted_mean(weights, *factors):
    """Per replicate (a row of `weights`), the weighted mean of the product of `factors`, each
    (items,) or (replicates, items); einsum multiplies and sums without making the products."""
    subscripts = ",".join(["ri", *("ri" if factor.ndim == 2 else "i" for factor in factors)]) + "->r"
    return numpy.einsum(subscripts, weights, *factors) / weights.sum(axis=1)


def _correlations(x, y, weights):
    """Per replicate, Pearson's r and Lin's CCC of x and y weighted by `weights`; r undefined (NaN)
    where x or y is constant among the items drawn (a variance within rounding of 0)."""
    shift_x, shift_y = x.mean(axis=-1, keepdims=True), y.mean(axis=-1, keepdims=True)
    x, y = x - shift_x, y - shift_y  # centred: a constant is then exactly 0
    mean_x, mean_y = _weighted_mean(weights, x), _weighted_mean(weights, y)
    square_x, square_y = _weighted_mean(weights, x, x), _weighted_mean(weights, y, y)
    var_x, var_y = square_x - mean_x**2, square_y - mean_y**2
    covariance = _weighted_mean(weights, x, y) - mean_x * mean_y
    constant = (var_x <= ROUNDING * square_x) | (var_y <= ROUNDING * square_y)
    with numpy.errstate(invalid="ignore", divide="ignore"):
        pearson = numpy.where(constant, numpy.nan, covariance / numpy.sqrt(var_x * var_y))
        offset = (mean_x + shift_x[..., 0]) - (mean_y + shift_y[..., 0])  # the means' difference, as they were
        return pearson, 2 * covariance / (var_x + var_y + offset**2)


ROUNDING = 1e-10  # a variance this small against the mean square is rounding: the values are equal


def bootstrap(replicates, units):
    """[low, high] of each metric that `replicates(weights)` gives per replicate: the central
    CONFIDENCE percentile interval over RESAMPLES resamples (seed SEED) of the units (songs, images),
    drawn with replacement; each item weighs as often as its unit was drawn. Replicates where a
    metric is undefined are left out; None where it always is."""
    _, unit_of = numpy.unique(numpy.asarray(units), return_inverse=True)
    count = int(unit_of.max()) + 1
    rng = numpy.random.default_rng(SEED)
    values = []
    for start in range(0, RESAMPLES, REPLICATES_PER_CHUNK):
        replicates_here = min(REPLICATES_PER_CHUNK, RESAMPLES - start)
        drawn = rng.integers(count, size=(replicates_here, count))  # each replicate draws `count` units
        # how often each replicate drew each unit: one bincount, each replicate's units numbered apart
        times = numpy.bincount((drawn + count * numpy.arange(replicates_here)[:, None]).ravel(), minlength=drawn.size)
        values.append(replicates(times.reshape(replicates_here, count)[:, unit_of].astype(numpy.float64)))
    values = numpy.concatenate(values)
    tail = 100 * (1 - CONFIDENCE) / 2
    intervals = []
    for column in values.T:
        defined = column[numpy.isfinite(column)]
        intervals.append(
            None if not len(defined) else [float(v) for v in numpy.percentile(defined, [tail, 100 - tail])]
        )
    return intervals


def _with_intervals(point, intervals):
    """{metric: value, metric_ci: [low, high]} in the metrics' order."""
    out = {}
    for (name, value), interval in zip(point.items(), intervals, strict=True):
        out[name], out[f"{name}_ci"] = value, interval
    return out


# ---------------------------------------------------------------------------------------------
# Retrieval: the rank of every relevant candidate among all the candidates of its query.


class Relevance(NamedTuple):
    """The relevant (query, candidate) entries of one direction, sorted by query, with their grade;
    `starts`: where each query's entries begin; `ideal_dcg`: each of those queries' best DCG@10."""

    queries: numpy.ndarray
    candidates: numpy.ndarray
    grades: numpy.ndarray
    starts: numpy.ndarray
    ideal_dcg: numpy.ndarray

    @classmethod
    def of(cls, queries, candidates, grades):
        order = numpy.lexsort((-grades, queries))  # by query, best grade first: the ideal order
        queries, candidates, grades = queries[order], candidates[order], grades[order]
        starts = numpy.flatnonzero(numpy.r_[True, queries[1:] != queries[:-1]]) if len(queries) else queries
        position = _positions(starts, len(queries))
        ideal = numpy.where(position <= TOP_K[-1], grades / numpy.log2(position + 1), 0.0)
        return cls(queries, candidates, grades, starts, numpy.add.reduceat(ideal, starts) if len(starts) else ideal)

    def reversed(self):
        """The same entries seen from the candidates' side (music->image from image->music)."""
        return Relevance.of(self.candidates, self.queries, self.grades)

    def sizes(self):
        return numpy.diff(numpy.r_[self.starts, len(self.queries)])


def _positions(starts, total):
    """1, 2, ... within each run of entries that begins at one of `starts`."""
    return numpy.arange(total) - numpy.repeat(starts, numpy.diff(numpy.r_[starts, total])) + 1


def relevant_ranks(similarity, queries, candidates, tables):
    """For each `Relevance` of `tables`, where each entry's candidate falls among all `candidates` of
    its query by `similarity(some queries, candidates)` (compared as float32), as (entries, 2):
    the first position its similarity holds (1 + how many score higher) and how many candidates hold
    it (1 but for ties, which `per_query` scores as scikit-learn does)."""
    n_candidates = len(candidates)
    placed = [numpy.empty((len(table.queries), 2)) for table in tables]
    for start in range(0, len(queries), ROWS_PER_CHUNK):
        keys = _ordered(similarity(queries[start : start + ROWS_PER_CHUNK], candidates))
        # every row sorted, then numbered apart (2**32 per row): one search finds entries of any row
        row_apart = (numpy.arange(len(keys), dtype=numpy.int64) << 32)[:, None]
        ordered = (numpy.sort(keys, axis=1) + row_apart).ravel()
        for table, place in zip(tables, placed, strict=True):
            entries = slice(*numpy.searchsorted(table.queries, [start, start + len(keys)]))
            rows = table.queries[entries] - start
            own = keys[rows, table.candidates[entries]] + row_apart[rows, 0]
            order = numpy.argsort(own)  # sorted needles: the search moves forward instead of starting anew
            below = numpy.empty(len(own), numpy.int64)
            up_to = numpy.empty(len(own), numpy.int64)
            below[order] = numpy.searchsorted(ordered, own[order], "left")
            up_to[order] = numpy.searchsorted(ordered, own[order], "right")
            place[entries, 0] = (rows + 1) * n_candidates - up_to + 1
            place[entries, 1] = up_to - below
    return placed


def _cosine(queries, candidates):
    return queries @ candidates.T  # unit vectors


def _va_closeness(query_va, candidate_va):
    """Minus the squared VA distance: in the order of the VA kernel's score, without its exp."""
    return -_squared_distances(query_va, candidate_va)


def _squared_distances(query_va, candidate_va):
    """queries x candidates: |q - c|^2 as |q|^2 + |c|^2 - 2 q.c, one matrix product (float64: the
    cancellation loses nothing that matters at VA_RADIUS)."""
    return (query_va**2).sum(axis=1)[:, None] + (candidate_va**2).sum(axis=1)[None] - 2 * query_va @ candidate_va.T


def _ordered(similarities):
    """Integers in the order of the values as float32 (equal ones equal): their IEEE bits, those of
    negative numbers turned around (adding 0 makes -0.0 equal 0.0)."""
    bits = (numpy.asarray(similarities, numpy.float32) + numpy.float32(0)).view(numpy.int32)
    return bits ^ ((bits >> 31) & numpy.int32(0x7FFFFFFF))


RETRIEVAL_METRICS = [f"recall@{k}" for k in TOP_K] + ["median_rank", "map", f"ndcg@{TOP_K[-1]}"]


def per_query(table, placed):
    """Each query's values (queries, metrics) in RETRIEVAL_METRICS' order from where its relevant
    candidates are `placed` (`relevant_ranks`). Without ties: recall@k is the share of the query's
    relevant candidates ranked within k; median_rank's column the rank of its first relevant one;
    average precision (mAP's) the mean, over its relevant candidates, of the share of relevant ones
    among those ranked up to each; nDCG@10 sums grade / log2(rank + 1) over the top 10, divided by
    the same of the best order (linear gain). Candidates of equal similarity are in an order not
    known: recall@k and the first relevant rank are their expectation over the orders of the tied
    ones, and, as in sklearn.metrics, nDCG@10 gives each the mean discount of the tied positions
    (ndcg_score) and average precision takes tied ones as one threshold (average_precision_score),
    so that a tie is never scored as if broken in the model's favour."""
    first, tied = placed[:, 0], placed[:, 1]
    order = numpy.lexsort((first, table.queries))  # by query, then position
    first, tied, grades, sizes = first[order], tied[order], table.grades[order], table.sizes()
    where = table.queries * (first.max(initial=0) + 1) + first  # sorted: by query, then position
    up_to = numpy.searchsorted(where, where, "right") - numpy.repeat(table.starts, sizes)  # relevant to its tie's end
    recalls = [numpy.add.reduceat(numpy.clip((k - first + 1) / tied, 0, 1), table.starts) / sizes for k in TOP_K]
    first_rank = first[table.starts] - 1 + (tied[table.starts] + 1) / (up_to[table.starts] + 1)
    average_precision = numpy.add.reduceat(up_to / (first + tied - 1), table.starts) / sizes
    discounted = _DISCOUNTED[numpy.minimum(first + tied - 1, TOP_K[-1]).astype(int)]
    discounted = discounted - _DISCOUNTED[numpy.minimum(first - 1, TOP_K[-1]).astype(int)]
    ndcg = numpy.add.reduceat(grades * discounted / tied, table.starts) / table.ideal_dcg
    return numpy.column_stack([*recalls, first_rank, average_precision, ndcg])


# the sum of the first m discounts 1 / log2(position + 1), for m up to the nDCG's cut
_DISCOUNTED = numpy.r_[0.0, numpy.cumsum(1 / numpy.log2(numpy.arange(2, TOP_K[-1] + 2)))]


def chance(table, n_candidates):
    """What a uniformly random ranking of each query's `n_candidates` scores in expectation, per
    query: recall@k k / n; average precision (H_n + (R - 1) / (n - 1) * (n - H_n)) / n for R relevant
    and H_n the n-th harmonic number; nDCG@10 the mean grade times the first 10 discounts' sum,
    over the ideal; the first relevant rank (n + 1) / (R + 1)."""
    n, sizes = n_candidates, table.sizes()
    harmonic = numpy.sum(1 / numpy.arange(1, n + 1))
    average_precision = (harmonic + (sizes - 1) / max(n - 1, 1) * (n - harmonic)) / n
    discounts = numpy.sum(1 / numpy.log2(numpy.arange(2, min(TOP_K[-1], n) + 2)))
    ndcg = numpy.add.reduceat(table.grades, table.starts) / n * discounts / table.ideal_dcg
    recalls = [numpy.full(len(sizes), min(k, n) / n) for k in TOP_K]
    return numpy.column_stack([*recalls, (n + 1) / (sizes + 1), average_precision, ndcg])


def summarise(values):
    """The metrics of per-query values: means, and the median of the first relevant ranks."""
    summary = dict(zip(RETRIEVAL_METRICS, values.mean(axis=0).tolist(), strict=True))
    summary["median_rank"] = float(numpy.median(values[:, RETRIEVAL_METRICS.index("median_rank")]))
    return summary


def retrieval_replicates(values, weights):
    """The metrics of each replicate: weighted means, and the weighted median of the first ranks."""
    means = weights @ values / weights.sum(axis=1, keepdims=True)
    column = RETRIEVAL_METRICS.index("median_rank")
    means[:, column] = _weighted_median(values[:, column], weights)
    return means


def _weighted_median(values, weights):
    """Per replicate, the median of `values` each repeated as often as its weight (numpy.median's:
    the mean of the two middle ones for an even count)."""
    order = numpy.argsort(values, kind="stable")
    cumulative = numpy.cumsum(weights[:, order], axis=1)
    total = cumulative[:, -1:]
    lower = (cumulative < numpy.ceil(total / 2)).sum(axis=1)
    upper = (cumulative < numpy.floor(total / 2) + 1).sum(axis=1)
    return (values[order][lower] + values[order][upper]) / 2


# ---------------------------------------------------------------------------------------------
# The protocol.


def evaluate(
    split="test",
    *,
    va=None,
    scores=None,
    embeddings=None,
    annotations=None,
    data_dir=None,
    cache_dir=None,
    allow_missing=False,
):
    """The evaluation of the prediction files given (`va`, `scores`, `embeddings`: paths) on
    `split`, as one JSON-ready dict (docs/evaluation.md). Bad input raises `BadInput`, naming the
    file, the row and what to do; every file is checked before anything is computed."""
    if not (va or scores or embeddings):
        raise BadInput("nothing to evaluate: pass --va, --scores or --embeddings (or several).")
    items = split_items(split, annotations, data_dir, cache_dir)
    read = {
        "va": va and read_va_predictions(va, items),
        "scores": scores and read_score_predictions(scores, items),
        "retrieval": embeddings and read_embeddings(embeddings, items),
    }
    result = {
        "protocol": PROTOCOL,
        "split": split,
        "annotations": items.origins,
        "items": _item_counts(items),
        "bootstrap": {
            "resamples": RESAMPLES,
            "seed": SEED,
            "confidence": CONFIDENCE,
            "method": "percentile; songs resampled for music and pairs, images for pictures",
        },
    }
    sections = {}  # {name: (its metrics, {reference point: its metrics})}
    if va:
        sections["va"] = _va_section(items, *read["va"], va, allow_missing)
    if scores:
        sections["scores"] = _scores_section(items, *read["scores"], scores, allow_missing)
    if embeddings:
        sections.update(_retrieval_sections(items, *read["retrieval"], embeddings, allow_missing))
    reference = {}
    for name, (section, points) in sections.items():
        result[name] = section
        for point, metrics in points.items():
            if metrics:
                reference.setdefault(point, {})[name] = metrics
    return {**result, "reference": reference}


def _item_counts(items):
    return {
        "images": len(items.image_ids),
        "clips": len(items.clip_ids),
        "songs": len(set(items.clip_songs)),
        "pairs": len(items.pairs),
        **items.counts,
    }


def _va_section(items, predicted, outside, path, allow_missing):
    section, mean_predictor = {"file": path, "outside_split": outside}, {}
    modalities = {
        "image": (items.image_ids, items.image_va, items.image_ids, "images"),
        "music": (items.clip_ids, items.clip_va, items.clip_songs, "clips"),
    }
    for modality, (ids, truth, units, what) in modalities.items():
        present, missing = _present(predicted, ids, path, what, allow_missing)
        entry = {"items": len(present), "missing": missing}
        if modality == "music":
            entry["songs"] = len({units[n] for n in present})
        if len(present):
            true_va = truth[present]
            predicted_va = numpy.array([predicted[ids[n]] for n in present])
            unit_of = [units[n] for n in present]
            mean_predictor[modality] = {}
            for column, dimension in enumerate(("valence", "arousal")):
                actual, guess = true_va[:, column], predicted_va[:, column]
                intervals = bootstrap(lambda w, a=actual, g=guess: regression_replicates(a, g, w), unit_of)
                entry[dimension] = _with_intervals(regression(actual, guess), intervals)
                mean_predictor[modality][dimension] = regression(actual, numpy.full_like(actual, actual.mean()))
        section[modality] = entry
    return section, {"mean_predictor": mean_predictor}


def _scores_section(items, predicted, outside, path, allow_missing):
    pair_ids = [(items.clip_ids[clip], items.image_ids[image]) for clip, image in items.pairs]
    present, missing = _present(predicted, pair_ids, path, f"pairs of {items.matching}", allow_missing)
    section = {"file": path, "pairs": len(present), "missing": missing, "outside_split": outside}
    if not len(present):
        return section, {}
    truth = items.pair_scores[present]
    guess = numpy.array([predicted[pair_ids[n]] for n in present])
    songs = [items.clip_songs[items.pairs[n][0]] for n in present]
    section.update(
        _with_intervals(score_metrics(truth, guess), bootstrap(lambda w: score_replicates(truth, guess, w), songs))
    )
    clips, images = (numpy.array([items.pairs[n][side] for n in present]) for side in (0, 1))
    oracle = va_score(items.image_va[images], items.clip_va[clips])
    mean = score_metrics(truth, numpy.full_like(truth, truth.mean()))
    return section, {"mean_predictor": mean, "va_oracle": score_metrics(truth, oracle)}


RELEVANCE = {"retrieval": MATCHING_RELEVANCE, "retrieval_va_kernel": VA_RELEVANCE}


def _retrieval_sections(items, embeddings, outside, path, allow_missing):
    """{"retrieval": ..., "retrieval_va_kernel": ...}: each (its metrics, {"chance": ..., "va_oracle": ...})."""
    images, images_missing = _present(embeddings["image"], items.image_ids, path, "images", allow_missing)
    clips, clips_missing = _present(embeddings["music"], items.clip_ids, path, "clips", allow_missing)
    image_vectors = numpy.array([embeddings["image"][items.image_ids[n]] for n in images], numpy.float32)
    clip_vectors = numpy.array([embeddings["music"][items.clip_ids[n]] for n in clips], numpy.float32)
    image_va, clip_va = items.image_va[images], items.clip_va[clips]
    matching, by_va = _matching_relevance(items, images, clips), _va_relevance(image_va, clip_va)
    counts = {
        "images": len(images),
        "clips": len(clips),
        "missing_images": images_missing,
        "missing_clips": clips_missing,
        "outside_split": outside,
    }
    sections = {name: {"file": path, "relevance": relevance, **counts} for name, relevance in RELEVANCE.items()}
    by_chance, by_oracle = {name: {} for name in RELEVANCE}, {name: {} for name in RELEVANCE}
    image_side = (image_vectors.reshape(len(images), -1), image_va, [items.image_ids[n] for n in images])
    clip_side = (clip_vectors.reshape(len(clips), -1), clip_va, [items.clip_songs[n] for n in clips])
    directions = {  # (the queries' side, the candidates' side, the relevance tables); a side: (embeddings, VA, bootstrap units)
        "image_to_music": (image_side, clip_side, (matching, by_va)),
        "music_to_image": (clip_side, image_side, (matching.reversed(), by_va.reversed())),
    }
    for direction, ((queries, query_va, units), (candidates, candidate_va, _), tables) in directions.items():
        model_ranks = relevant_ranks(_cosine, queries, candidates, tables)
        oracle_ranks = relevant_ranks(_va_closeness, query_va, candidate_va, tables)
        for name, table, model, oracle in zip(RELEVANCE, tables, model_ranks, oracle_ranks, strict=True):
            asked = table.queries[table.starts]
            entry = {
                "queries": len(asked),
                "candidates": len(candidates),
                "queries_without_relevant": len(queries) - len(asked),
            }
            if len(asked):
                values = per_query(table, model)
                intervals = bootstrap(
                    lambda weights, values=values: retrieval_replicates(values, weights), [units[q] for q in asked]
                )
                entry.update(_with_intervals(summarise(values), intervals))
                by_chance[name][direction] = summarise(chance(table, len(candidates)))
                by_oracle[name][direction] = summarise(per_query(table, oracle))
            sections[name][direction] = entry
    return {name: (sections[name], {"chance": by_chance[name], "va_oracle": by_oracle[name]}) for name in RELEVANCE}


def _va_relevance(image_va, clip_va):
    """image->music entries: every (image, clip) within VA_RADIUS of each other, graded by the VA kernel."""
    found = [(numpy.zeros(0, numpy.int64), numpy.zeros(0, numpy.int64))]
    for start in range(0, len(image_va), ROWS_PER_CHUNK):
        rows, columns = numpy.nonzero(
            _squared_distances(image_va[start : start + ROWS_PER_CHUNK], clip_va) <= VA_RADIUS**2
        )
        found.append((rows + start, columns))
    images, clips = (numpy.concatenate(column) for column in zip(*found, strict=True))
    return Relevance.of(images, clips, va_score(image_va[images], clip_va[clips]))


def _matching_relevance(items, images, clips):
    """image->music entries: the split's pairs between the images and clips retrieved, graded by score."""
    image_at = {n: i for i, n in enumerate(images.tolist())}
    clip_at = {n: i for i, n in enumerate(clips.tolist())}
    named = [
        (image_at[image], clip_at[clip], score)
        for (clip, image), score in zip(items.pairs, items.pair_scores.tolist(), strict=True)
        if image in image_at and clip in clip_at
    ]
    named = numpy.array(named, numpy.float64).reshape(-1, 3)
    return Relevance.of(named[:, 0].astype(numpy.int64), named[:, 1].astype(numpy.int64), named[:, 2])


# ---------------------------------------------------------------------------------------------
# Output.


def as_json(result):
    """The result with every number a plain float (NaN as None), for json.dumps."""
    if isinstance(result, dict):
        return {key: as_json(value) for key, value in result.items()}
    if isinstance(result, (list, tuple)):
        return [as_json(value) for value in result]
    if isinstance(result, (float, numpy.floating)):
        return None if math.isnan(result) else float(result)
    if isinstance(result, numpy.integer):
        return int(result)
    return result


LABELS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "pearson": "Pearson r",
    "ccc": "CCC",
    "spearman": "Spearman rho",
    "kendall": "Kendall tau-b",
    **{f"recall@{k}": f"recall@{k}" for k in TOP_K},
    "median_rank": "median rank",
    "map": "mAP",
    f"ndcg@{TOP_K[-1]}": f"nDCG@{TOP_K[-1]}",
}


def render(result):
    """The result as tables a person reads."""
    counts, reference = result["items"], result["reference"]
    lines = [f"IMEMNet-C evaluation, protocol {result['protocol']}, split {result['split']}", "", "Annotation files"]
    lines += [f"  {name:<20} {origin}" for name, origin in result["annotations"].items()]
    matching = next(name for name in result["annotations"] if name.endswith("_matching.txt"))
    lines += [
        "",
        f"Items held out for {result['split']} (as imemnet_c_tools.pairs.va_pairs holds them out: songs whole, images by id)",
        f"  {counts['images']:,} images that {matching} names"
        + _if(counts["named_images_without_va"], "({:,} more it names have no VA in image_va.csv: left out)"),
        f"  {counts['clips']:,} clips of {counts['songs']:,} songs"
        + _if(counts["clips_beyond_named"], "({:,} of them segments of its songs that it does not name)")
        + _if(counts["named_clips_without_va"], "({:,} clips it names have no VA: left out)"),
        f"  {counts['pairs']:,} distinct pairs of {matching} between them"
        + _if(counts["pairs_without_va"], "({:,} more name an item without VA)"),
        f"Intervals: {result['bootstrap']['confidence']:.0%} percentile bootstrap, {result['bootstrap']['resamples']:,} "
        f"resamples (seed {result['bootstrap']['seed']}), of songs for music and pairs, of images for pictures.",
    ]
    if "va" in result:
        va = result["va"]
        lines += ["", f"VA regression: {va['file']} ({_ignored(va)})"]
        lines += _table(["mean predictor"])
        for modality, what in (("image", "images"), ("music", "clips")):
            entry = va[modality]
            scored = f"{entry['items']:,} {what}" + (f" of {entry['songs']:,} songs" if "songs" in entry else "")
            lines.append(f"  {modality} ({scored})" + _if(entry["missing"], "({:,} missing)"))
            for dimension in ("valence", "arousal"):
                if dimension in entry:
                    means = reference["mean_predictor"]["va"][modality][dimension]
                    lines += _rows(f"    {dimension}", entry[dimension], [means])
    if "scores" in result:
        scores = result["scores"]
        lines += ["", f"Matching scores: {scores['file']} ({scores['pairs']:,} pairs; {_ignored(scores)})"]
        lines += _table(["mean predictor", "VA oracle"])
        if scores["pairs"]:
            lines += _rows("  ", scores, [reference["mean_predictor"]["scores"], reference["va_oracle"]["scores"]])
            lines.append("  (The rank correlations have no interval: docs/evaluation.md says why.)")
    for name, title in (("retrieval", "Retrieval"), ("retrieval_va_kernel", "Retrieval, relevance by VA similarity")):
        if name in result:
            section = result[name]
            lines += [
                "",
                f"{title}: {section['file']} ({section['images']:,} images, {section['clips']:,} clips; {_ignored(section)})",
            ]
            lines.append(
                textwrap.fill(section["relevance"], 100, initial_indent="  relevance: ", subsequent_indent="    ")
            )
            lines += _table(["chance", "VA oracle"])
            for direction, arrow in (("image_to_music", "image->music"), ("music_to_image", "music->image")):
                entry = section[direction]
                lines.append(
                    f"  {arrow} ({entry['queries']:,} queries among {entry['candidates']:,} candidates)"
                    + _if(entry["queries_without_relevant"], "({:,} with no relevant candidate, left out)")
                )
                if entry["queries"]:
                    points = [
                        reference.get(point, {}).get(name, {}).get(direction, {}) for point in ("chance", "va_oracle")
                    ]
                    lines += _rows("   ", entry, points)
    return "\n".join(lines)


def _if(count, note):
    """The note, with the count in it, after a space; nothing where the count is 0."""
    return " " + note.format(count) if count else ""


def _ignored(section):
    missing = sum(value for key, value in section.items() if key.startswith("missing"))
    return f"{section['outside_split']:,} ids outside the split ignored" + (f", {missing:,} missing" if missing else "")


def _table(references):
    return [f"  {'':<24}{'value':>9}  {'95% interval':<18}" + "".join(f"{name:>16}" for name in references)]


def _rows(prefix, metrics, references):
    rows, first = [], True
    for name, value in metrics.items():
        if name not in LABELS:
            continue
        interval = metrics.get(f"{name}_ci")
        shown = f"[{_number(interval[0])}, {_number(interval[1])}]" if interval else "-"
        label = f"{prefix if first else ' ' * len(prefix)} {LABELS[name]}"
        rows.append(
            f"{label:<26}{_number(value):>9}  {shown:<18}" + "".join(f"{_number(r.get(name)):>16}" for r in references)
        )
        first = False
    return rows


def _number(value):
    return "-" if value is None else f"{round(value, 3) + 0.0:,.3f}"  # + 0.0: no "-0.000"


def arguments(parser):
    parser.add_argument("--split", choices=SPLITS, default="test", help="the split the predictions are for")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--annotations", metavar="DIR", help="a folder holding image_va.csv, music_va.csv and the split's matching file"
    )
    source.add_argument(
        "--data-dir", metavar="DIR", help="your download folder: annotation files found at any depth, as in check"
    )
    parser.add_argument("--va", metavar="VA.csv", help="predicted VA: id,valence,arousal, a row per image or clip")
    parser.add_argument("--scores", metavar="SCORES.csv", help="predicted matching scores: clip_id,image_id,score")
    parser.add_argument(
        "--embeddings", metavar="EMBEDDINGS.npz", help="image_ids, image_embeddings, clip_ids, clip_embeddings"
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="score the items predicted, counting the others, instead of an error",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument(
        "--cache-dir", help="the datasets cache, for downloaded annotation files (default: datasets' own)"
    )


def run(args):
    try:
        result = evaluate(
            args.split,
            va=args.va,
            scores=args.scores,
            embeddings=args.embeddings,
            annotations=args.annotations,
            data_dir=args.data_dir,
            cache_dir=args.cache_dir,
            allow_missing=args.allow_missing,
        )
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(as_json(result), indent=1) if args.json else render(as_json(result)))
    return 0


if __name__ == "__main__":
    from imemnet_c_tools.command import alias

    alias()
