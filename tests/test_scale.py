"""Scale-out on the engines users already have: num_proc preparing shards, a streaming dataset with
several shards for DataLoader workers and for datasets.distributed.split_dataset_by_node, and the
exported Parquet read with no Hugging Face code at all. Every example arrives exactly once."""

import collections
import functools
import os

import numpy
import pytest
from conftest import SAMPLE, SAMPLE_COUNTS
from datasets.distributed import split_dataset_by_node

from imemnet_c_tools import sample
from imemnet_c_tools.export import export

CONFIGS = ["image", "music", "paired", "paired_annotations"]


FIELDS = {  # what each config's examples carry from the annotation files
    "image": ("image_id", "valence", "arousal"),
    "music": ("clip_id", "valence", "arousal", "caption"),
    "paired": ("clip_id", "image_id", "matching_score"),
}
MATCHING_FILE = {"train": "train", "validation": "val", "test": "test"}


def fields(config, example):
    return tuple(example[name] for name in FIELDS[config.removesuffix("_annotations")])


def rows(config, dataset):
    """The examples' annotation fields as a multiset: the matching files repeat some lines, so a set
    would hide a duplicate."""
    return collections.Counter(fields(config, example) for example in dataset)


def annotation_rows(config, split):
    """What image_va.csv, music_va.csv or the split's matching file says, as `rows` gives it."""
    images, clips, pairs = sample.sample_annotations()
    f32 = lambda value: float(numpy.float32(value))  # noqa: E731
    by_config = {
        "image": [(i, f32(v), f32(a)) for i, v, a in images],
        "music": [(c, f32(v), f32(a), caption) for c, v, a, caption in clips],
        "paired": [(c, i, f32(score)) for c, i, score in pairs[MATCHING_FILE[split]]],
    }
    return collections.Counter(by_config[config.removesuffix("_annotations")])


@pytest.mark.parametrize("config", CONFIGS)
def test_num_proc_prepares_the_same_dataset_from_several_shards(load, config):
    parallel = load(config, SAMPLE, num_proc=2, rows_per_shard=3)
    for split, dataset in parallel.items():
        assert rows(config, dataset) == annotation_rows(config, split), split
        # datasets gives each process its own Arrow files: two, when both processes prepared shards
        assert len({os.path.basename(f["filename"]) for f in dataset.cache_files}) == 2, dataset.cache_files


@pytest.mark.parametrize("config", CONFIGS)
def test_the_streaming_dataset_has_several_shards(load, config):
    streamed = load(config, SAMPLE, streaming=True, rows_per_shard=3)
    assert all(dataset.n_shards > 1 for dataset in streamed.values())


@pytest.mark.parametrize("world_size", [3, 5])
@pytest.mark.parametrize("config", CONFIGS)
def test_split_dataset_by_node_gives_every_example_to_exactly_one_rank(load, config, world_size):
    # one row a shard: 16, 8 or 10 shards, which neither world size divides
    for split, dataset in load(config, SAMPLE, streaming=True, rows_per_shard=1).items():
        assert dataset.n_shards == sum(annotation_rows(config, split).values()) > world_size
        ranks = [
            rows(config, split_dataset_by_node(dataset, rank=rank, world_size=world_size)) for rank in range(world_size)
        ]
        assert sum(ranks, collections.Counter()) == annotation_rows(config, split), split
        assert all(ranks), f"a rank got nothing in {split}"


@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")  # more than the cores here
@pytest.mark.parametrize("config", ["image", "paired"])
def test_dataloader_workers_read_every_example_exactly_once(load, config):
    import torch

    dataset = load(config, SAMPLE, streaming=True, split="train", rows_per_shard=1)  # 16 shards over 3 workers
    # Reduced in the worker: a torchcodec AudioDecoder does not survive the trip between processes.
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=None, num_workers=3, collate_fn=functools.partial(fields, config)
    )
    assert collections.Counter(loader) == annotation_rows(config, "train")


def test_the_exported_parquet_reads_in_duckdb_with_no_hugging_face_code(tmp_path):
    import duckdb

    out = export(SAMPLE, str(tmp_path / "imemnet-c-parquet"), cache_dir=str(tmp_path / "cache"))
    # The README's line:
    rows = duckdb.sql(
        f"SELECT image_id, valence, octet_length(image.bytes) AS size FROM '{out}/image/*.parquet'"
    ).fetchall()
    assert len(rows) == 16 and all(size > 500 for _, _, size in rows)
    pairs = duckdb.sql(f"SELECT count(*) FROM '{out}/paired/*.parquet'").fetchall()[0][0]
    assert pairs == 16 + 8 + 10


@pytest.mark.parametrize("config", CONFIGS + ["image_annotations"])
def test_streamed_batches_hold_every_example(load, config):
    """iter(batch_size=...) over tables whose rows mix null and set VA, and loose files with archive members."""
    id_field = "image_id" if config.startswith("image") else "clip_id"
    for split, dataset in load(config, SAMPLE, streaming=True).items():
        batched = [i for batch in dataset.iter(batch_size=5) for i in batch[id_field]]
        assert sorted(batched) == sorted(example[id_field] for example in dataset)
        assert len(batched) == SAMPLE_COUNTS[config.removesuffix("_annotations")][split]
