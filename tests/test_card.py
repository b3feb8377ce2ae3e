"""The dataset card: its YAML parses with the Hub's and datasets' own parsers, declares exactly
the loader's features, and repeats what a user needs (download steps, load calls, citations). The
README beside the script is a card too, which datasets 3.6 reads on every load of the script."""

import contextlib
import logging
import os

import datasets
import pytest
from conftest import DATASETS_RUNS_SCRIPTS, ROOT, SAMPLE
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard

import imemnet_c

CARD = os.path.join(ROOT, "dataset_card.md")
README = os.path.join(ROOT, "README.md")
NO_CARD_WARNING = "Repo card metadata block was not found"


def test_card_yaml_declares_the_loader_features_for_every_config():
    card = DatasetCard.load(CARD)
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    assert set(infos) == {config.name for config in imemnet_c.ImemnetC.BUILDER_CONFIGS}
    for config in imemnet_c.ImemnetC.BUILDER_CONFIGS:
        assert infos[config.name].features == config.features, config.name
    assert infos["image"].splits["train"].num_examples == 24758
    assert {name: split.num_examples for name, split in infos["paired"].splits.items()} == {
        "validation": 8795,
        "test": 26115,
    }
    assert card.data.license == "other" and card.data.pretty_name == "IMEMNet-C"


def test_card_repeats_the_download_steps_the_load_calls_and_the_citations():
    text = open(CARD, encoding="utf-8").read()
    for source in ("IAPS", "NAPS", "EMOTIC", "DEAM", "https://github.com/linkAmy/IMEMNet"):
        assert source in text
    for config in ("image", "music", "paired"):
        assert f'load_dataset("imemnet_c.py", "{config}", data_dir=' in text
    assert "streaming=True" in text and 'missing_media="skip"' in text
    assert imemnet_c.ImemnetC(config_name="image_annotations").info.citation.strip() in text
    assert "synthetic" in text.lower()


def test_the_builder_info_carries_citation_homepage_and_licence(tmp_path):
    builder = imemnet_c.ImemnetC(config_name="paired", cache_dir=str(tmp_path))
    assert "2501.01094" in builder.info.citation and "2009.05103" in builder.info.citation
    assert builder.info.homepage == "https://github.com/schoi828/IMEMNet-C"
    assert "non-commercial" in builder.info.license
    assert isinstance(builder.info.features["audio"], datasets.Audio)


def test_the_readme_is_a_card_the_hub_parses_offline_without_configs_so_the_script_loads():
    assert open(README, encoding="utf-8").read().startswith("---\n")
    card = DatasetCard.load(README)
    assert card.data.license == "other" and card.data.pretty_name == "IMEMNet-C"
    metadata = card.data.to_dict()
    assert os.path.isfile(os.path.join(ROOT, metadata["license_link"]))
    assert "without a stated licence" in metadata["license_details"]
    # Neither configs nor dataset_info: datasets would take those over the loading script.
    assert "configs" not in metadata and "dataset_info" not in metadata
    # The same description of the dataset as the card's.
    described = DatasetCard.load(CARD).data.to_dict()
    for key in ("license", "license_name", "pretty_name", "language", "task_categories", "tags", "size_categories"):
        assert metadata[key] == described[key], key


@contextlib.contextmanager
def warnings_of(*names):
    """The messages that the named loggers let through at WARNING, whatever their verbosity was."""
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
        logger.addHandler(handler)
    try:
        yield messages
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@pytest.mark.skipif(
    not DATASETS_RUNS_SCRIPTS, reason="datasets 4 and newer run no loading script, so never read the README as its card"
)
def test_a_load_through_the_script_logs_no_missing_card_warning(load):
    with warnings_of("huggingface_hub", "datasets") as messages:
        dataset = load("image_annotations", SAMPLE)
    assert dataset["train"].num_rows > 0
    assert [message for message in messages if NO_CARD_WARNING in message] == []
