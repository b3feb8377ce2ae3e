"""Scale-out on the engines users already have: num_proc preparing shards, a streaming dataset with
several shards for DataLoader workers and for datasets.distributed.split_dataset_by_node, and the
exported Parquet read with no Hugging Face code at all. Every example arrives exactly once."""

import collections

import pytest
from conftest import SAMPLE, SAMPLE_COUNTS, content
from datasets.distributed import split_dataset_by_node

from imemnet_c_tools.export import export

CONFIGS = ["image", "music", "paired", "paired_annotations"]


def multiset(dataset):
    """The examples as a multiset: the matching files repeat some lines, so a set would hide a duplicate."""
    return collections.Counter(content(dataset))


@pytest.mark.parametrize("config", CONFIGS)
def test_num_proc_prepares_the_same_dataset_from_several_shards(load, config):
    single = load(config, SAMPLE)
    parallel = load(config, SAMPLE, num_proc=2, rows_per_shard=3)
    for split in single:
        assert multiset(parallel[split]) == multiset(single[split])


@pytest.mark.parametrize("config", CONFIGS)
def test_the_streaming_dataset_has_several_shards(load, config):
    streamed = load(config, SAMPLE, streaming=True, rows_per_shard=3)
    assert all(dataset.n_shards > 1 for dataset in streamed.values())


@pytest.mark.parametrize("world_size", [2, 4])
@pytest.mark.parametrize("config", CONFIGS)
def test_split_dataset_by_node_gives_every_example_to_exactly_one_rank(load, config, world_size):
    for split, dataset in load(config, SAMPLE, streaming=True, rows_per_shard=2).items():
        ranks = [
            multiset(split_dataset_by_node(dataset, rank=rank, world_size=world_size)) for rank in range(world_size)
        ]
        assert sum(ranks, collections.Counter()) == multiset(dataset), split
        assert all(ranks), f"a rank got nothing in {split}"


@pytest.mark.parametrize("config", ["image", "paired"])
def test_dataloader_workers_read_every_example_exactly_once(load, config):
    import torch

    dataset = load(config, SAMPLE, streaming=True, split="train", rows_per_shard=2)
    # Decoded media are reduced in the worker: a torchcodec AudioDecoder does not survive the trip between processes.
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2, collate_fn=lambda e: content([e])[0])
    assert collections.Counter(loader) == multiset(dataset)


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
