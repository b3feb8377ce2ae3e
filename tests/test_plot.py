"""The card's figure: imemnet_c_tools.plot draws it from annotation files alone, a panel for each kind present."""

import os
import shutil

import pytest
from conftest import SAMPLE
from PIL import Image

from imemnet_c_tools.plot import plot


def test_the_plot_is_drawn_from_the_annotation_files(tmp_path):
    out, left_out = plot(SAMPLE, str(tmp_path / "va.png"))
    with Image.open(out) as picture:
        assert picture.size[0] > 2 * picture.size[1] > 600  # three panels side by side
    assert left_out == {}


def test_a_missing_annotation_file_leaves_out_its_panel_and_says_which_file_it_needs(tmp_path):
    annotations = shutil.copytree(SAMPLE, tmp_path / "annotations", ignore=shutil.ignore_patterns("music_va.csv"))
    out, left_out = plot(str(annotations), str(tmp_path / "two.png"))
    with Image.open(out) as picture:
        assert 1.5 * picture.size[1] < picture.size[0] < 2.5 * picture.size[1]  # two panels, none empty
    assert left_out == {"music": "music_va.csv"}
    with pytest.raises(FileNotFoundError, match="holds none of image_va.csv, music_va.csv"):
        plot(str(tmp_path / "nothing"), str(tmp_path / "none.png"))


def test_the_committed_figure_is_embedded_by_the_card():
    from conftest import ROOT

    assert os.path.isfile(os.path.join(ROOT, "docs", "va_space.png"))
    assert "](docs/va_space.png)" in open(os.path.join(ROOT, "dataset_card.md"), encoding="utf-8").read()
