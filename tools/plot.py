"""Plots where IMEMNet-C lies in valence-arousal space, from the annotation files alone: images by
source, music clips, and the distribution of IMEMNet's matching scores per split.

    python -m tools.plot --annotations DIR [--out docs/va_space.png]

DIR holds any of image_va.csv, music_va.csv and {train,val,test}_matching.txt; a panel whose file
is absent says so. Needs matplotlib (requirements-plot.txt), which the loader does not.
"""

import argparse
import collections
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import imemnet_c  # noqa: E402

SOURCE_COLOURS = {"emotic": "tab:blue", "iaps": "tab:red", "naps": "tab:green"}
MATCHING_FILES = {"train": "train_matching.txt", "validation": "val_matching.txt", "test": "test_matching.txt"}


def plot(annotations, out):
    def path(name):
        return os.path.join(annotations, name) if os.path.isfile(os.path.join(annotations, name)) else None

    figure, (images_axis, music_axis, scores_axis) = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    if path("image_va.csv"):
        rows = imemnet_c._read_va_table(path("image_va.csv"), with_caption=False).rows
        for source, colour in SOURCE_COLOURS.items():  # EMOTIC takes 10 values per axis: area shows the count
            points = collections.Counter(
                (round(row.valence, 3), round(row.arousal, 3))
                for row in rows
                if imemnet_c._image_source(row.id) == source
            )
            images_axis.scatter(
                [v for v, _ in points],
                [a for _, a in points],
                s=[4 * count**0.75 for count in points.values()],
                alpha=0.35,
                color=colour,
                label=f"{source} ({sum(points.values()):,})",
            )
        images_axis.legend(loc="lower right", markerscale=0.6)
    _frame(images_axis, "Images (image_va.csv)", present=bool(path("image_va.csv")))
    if path("music_va.csv"):
        rows = imemnet_c._read_va_table(path("music_va.csv"), with_caption=True).rows
        music_axis.hexbin([r.valence for r in rows], [r.arousal for r in rows], gridsize=40, cmap="Purples", mincnt=1)
        music_axis.set_title(f"Music clips (music_va.csv, {len(rows):,})")
    _frame(music_axis, "Music clips (music_va.csv)", present=bool(path("music_va.csv")))
    for split, name in MATCHING_FILES.items():
        if path(name):
            scores = [pair.score for pair in imemnet_c._read_pairs(path(name)).rows]
            scores_axis.hist(
                scores, bins=50, range=(0, 1), histtype="step", linewidth=1.5, label=f"{split} ({len(scores):,})"
            )
    scores_axis.set(title="IMEMNet matching scores", xlabel="matching score", ylabel="pairs", xlim=(0, 1))
    if scores_axis.get_legend_handles_labels()[0]:
        scores_axis.legend(loc="upper left")
    else:
        scores_axis.text(0.5, 0.5, "no matching file given", ha="center", transform=scores_axis.transAxes)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    figure.savefig(out, dpi=110)
    return out


def _frame(axis, title, present):
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="valence", ylabel="arousal", aspect="equal")
    if not axis.get_title():
        axis.set_title(title)
    if not present:
        axis.text(0.5, 0.5, "file not available\nwhen this figure was made", ha="center", va="center", color="grey")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", required=True, help="folder with the annotation files")
    parser.add_argument("--out", default="docs/va_space.png")
    args = parser.parse_args()
    print(plot(args.annotations, args.out))


if __name__ == "__main__":
    main()
