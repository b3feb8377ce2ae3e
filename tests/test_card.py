"""The dataset card: its YAML parses with the Hub's and datasets' own parsers, declares exactly
the loader's features, and repeats what a user needs (download steps, load calls, citations)."""

import os

import datasets
from conftest import ROOT
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard

import imemnet_c

CARD = os.path.join(ROOT, "dataset_card.md")


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
    assert imemnet_c._CITATION.strip() in text
    assert "synthetic" in text.lower()


def test_the_builder_info_carries_citation_homepage_and_licence(tmp_path):
    builder = imemnet_c.ImemnetC(config_name="paired", cache_dir=str(tmp_path))
    assert "2501.01094" in builder.info.citation and "2009.05103" in builder.info.citation
    assert builder.info.homepage == "https://github.com/schoi828/IMEMNet-C"
    assert "non-commercial" in builder.info.license
    assert isinstance(builder.info.features["audio"], datasets.Audio)
