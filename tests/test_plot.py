"""The card's figure: tools.plot draws it from annotation files alone, whichever are present."""

import os

from conftest import SAMPLE
from PIL import Image

from tools.plot import plot


def test_the_plot_is_drawn_from_the_annotation_files(tmp_path):
    out = plot(SAMPLE, str(tmp_path / "va.png"))
    with Image.open(out) as picture:
        assert picture.size[0] > 2 * picture.size[1] > 600  # three panels side by side


def test_a_missing_annotation_file_leaves_its_panel_empty_not_an_error(tmp_path):
    assert os.path.isfile(plot(str(tmp_path), str(tmp_path / "empty.png")))


def test_the_committed_figure_is_embedded_by_the_card():
    from conftest import ROOT

    assert os.path.isfile(os.path.join(ROOT, "docs", "va_space.png"))
    assert "](docs/va_space.png)" in open(os.path.join(ROOT, "dataset_card.md"), encoding="utf-8").read()
