"""Plots where IMEMNet-C lies in valence-arousal space, from the annotation files alone: images by
source, music clips, and the distribution of IMEMNet's matching scores per split.

    python -m imemnet_c_tools.plot --annotations DIR [--out docs/va_space.png]

DIR holds any of image_va.csv, music_va.csv and {train,val,test}_matching.txt: the figure has a
panel for each kind present, and says which panels it left out and the file each needs. Needs
matplotlib (requirements-plot.txt), which the loader does not.
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
    """Draws one panel per kind of annotation file present in `annotations` (images, music clips,
    matching scores), and returns the path written and the panels left out, each with the file it needs."""

    def path(name):
        return os.path.join(annotations, name) if os.path.isfile(os.path.join(annotations, name)) else None

    matching = {split: path(name) for split, name in MATCHING_FILES.items() if path(name)}
    panels = {
        "images": (path("image_va.csv"), "image_va.csv"),
        "music": (path("music_va.csv"), "music_va.csv"),
        "scores": (matching or None, " or ".join(MATCHING_FILES.values())),
    }
    drawn = [name for name, (source, _) in panels.items() if source]
    left_out = {name: needs for name, (source, needs) in panels.items() if not source}
    if not drawn:
        raise FileNotFoundError(f"{annotations} holds none of image_va.csv, music_va.csv, {panels['scores'][1]}.")
    figure, axes = plt.subplots(1, len(drawn), figsize=(5 * len(drawn), 4.6), constrained_layout=True, squeeze=False)
    for name, axis in zip(drawn, axes[0], strict=True):
        DRAW[name](axis, panels[name][0])
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    figure.savefig(out, dpi=110)
    return out, left_out


def _images(axis, path):
    rows = imemnet_c.read_va_table(path, with_caption=False).rows
    for source, colour in SOURCE_COLOURS.items():  # EMOTIC takes 10 values per axis: area shows the count
        points = collections.Counter(
            (round(row.valence, 3), round(row.arousal, 3)) for row in rows if imemnet_c.image_source(row.id) == source
        )
        axis.scatter(
            [v for v, _ in points],
            [a for _, a in points],
            s=[4 * count**0.75 for count in points.values()],
            alpha=0.35,
            color=colour,
            label=f"{source} ({sum(points.values()):,})",
        )
    axis.legend(loc="lower right", markerscale=0.6)
    _frame(axis, f"Images (image_va.csv, {len(rows):,})")


def _music(axis, path):
    rows = imemnet_c.read_va_table(path, with_caption=True).rows
    axis.hexbin([r.valence for r in rows], [r.arousal for r in rows], gridsize=40, cmap="Purples", mincnt=1)
    _frame(axis, f"Music clips (music_va.csv, {len(rows):,})")


def _scores(axis, paths):
    for split, path in paths.items():
        scores = [pair.score for pair in imemnet_c.read_pairs(path).rows]
        axis.hist(scores, bins=50, range=(0, 1), histtype="step", linewidth=1.5, label=f"{split} ({len(scores):,})")
    axis.set(title="IMEMNet matching scores", xlabel="matching score", ylabel="pairs", xlim=(0, 1))
    axis.legend(loc="upper left")


DRAW = {"images": _images, "music": _music, "scores": _scores}


def _frame(axis, title):
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="valence", ylabel="arousal", aspect="equal", title=title)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", required=True, help="folder with the annotation files")
    parser.add_argument("--out", default="docs/va_space.png")
    args = parser.parse_args()
    out, left_out = plot(args.annotations, args.out)
    print(out)
    for panel, needs in left_out.items():
        print(f"no {panel} panel: it needs {needs} in {args.annotations}")


if __name__ == "__main__":
    main()
