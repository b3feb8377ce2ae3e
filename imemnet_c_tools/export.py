"""Exports IMEMNet-C to a script-free folder for the Hub dataset viewer: Parquet shards per config
and split, media embedded, and a README.md dataset card that declares them.

    imemnet-c export --data-dir D --out OUT [--config NAME ...] [--embed-paired-media]
                     [--max-shard-size 500MB] [--overwrite]

`paired` is exported without its media by default (the bytes of a clip and a picture repeated in
every pair would be huge): ids, caption, valence, arousal and score, as `paired_annotations` gives
them; `--embed-paired-media` embeds them too. The `*_annotations` configs need no licensed media,
for a public repository. The folder appears only once complete: it is written beside OUT under
a temporary name, its shards in a hidden folder that no loader looks into until the last step.
"""

import glob
import os
import shutil
import sys

import datasets
import huggingface_hub
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

import imemnet_c
from imemnet_c_tools import shipped

CARD = shipped("dataset_card.md")
FIGURE = os.path.join("docs", "va_space.png")  # the card shows it
MEDIA_CONFIGS = ["image", "music", "paired"]
ANNOTATION_CONFIGS = ["image_annotations", "music_annotations", "paired_annotations"]


def export(
    data_dir,
    out,
    configs=MEDIA_CONFIGS,
    embed_paired_media=False,
    max_shard_size="500MB",
    overwrite=False,
    cache_dir=None,
):
    """Writes the export folder `out` and returns its path."""
    out = os.path.abspath(out)
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise FileExistsError(f"{out} is not empty: choose another --out, or pass --overwrite to replace it.")
    staging = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.exporting")
    work = os.path.join(staging, ".partial")  # loaders skip hidden folders: nothing here is data yet
    shutil.rmtree(staging, ignore_errors=True)  # what an interrupted export left
    os.makedirs(work)
    infos, data_files = {}, {}
    for name in configs:
        source = "paired_annotations" if name == "paired" and not embed_paired_media else name
        print(f"Exporting {name}" + (f" (as {source})" if source != name else ""), flush=True)
        infos[name] = _write_config(source, data_dir, work, name, max_shard_size, cache_dir)
        data_files[name] = [{"split": split, "path": f"{name}/{split}-*.parquet"} for split in infos[name].splits]
    for name in configs:
        os.rename(os.path.join(work, name), os.path.join(staging, name))
    shutil.rmtree(work)
    _write_card(os.path.join(staging, "README.md"), infos, data_files, embed_paired_media)
    os.makedirs(os.path.join(staging, os.path.dirname(FIGURE)))
    shutil.copy(shipped(FIGURE), os.path.join(staging, FIGURE))
    if os.path.exists(out):
        replaced = f"{staging}.replaced"
        os.rename(out, replaced)
        os.rename(staging, out)
        shutil.rmtree(replaced)
    else:
        os.rename(staging, out)
    print(f"Exported {', '.join(configs)} to {out}", flush=True)
    return out


def _write_config(config_name, data_dir, staging, name, max_shard_size, cache_dir):
    """Prepares one config straight to Parquet (datasets embeds the media files) and moves the
    shards to `<name>/<split>-<index>-of-<count>.parquet`; returns the config's DatasetInfo."""
    builder = imemnet_c.ImemnetC(
        config_name=config_name, data_dir=data_dir and os.path.abspath(data_dir), cache_dir=cache_dir
    )
    prepared, folder = os.path.join(staging, ".work", name), os.path.join(staging, name)
    builder.download_and_prepare(prepared, file_format="parquet", max_shard_size=max_shard_size)
    os.makedirs(folder)
    for split in builder.info.splits:
        shards = sorted(glob.glob(os.path.join(prepared, f"{builder.name}-{split}.parquet")))
        shards += sorted(glob.glob(os.path.join(prepared, f"{builder.name}-{split}-*-of-*.parquet")))
        for index, shard in enumerate(shards):
            os.rename(shard, os.path.join(folder, f"{split}-{index:05d}-of-{len(shards):05d}.parquet"))
    return datasets.DatasetInfo(features=builder.info.features, splits=builder.info.splits)


def _write_card(path, infos, data_files, embed_paired_media):
    card = DatasetCard.load(CARD)
    card.data.pop("dataset_info", None)  # the card lists every config; the export declares its own
    DatasetInfosDict(infos).to_dataset_card_data(card.data)
    default = next((name for name in ("image", "image_annotations") if name in data_files), next(iter(data_files)))
    MetadataConfigs(
        {
            name: {"data_files": files, **({"default": True} if name == default else {})}
            for name, files in data_files.items()
        }
    ).to_dataset_card_data(card.data)
    paired_note = (
        "`paired` embeds its media."
        if embed_paired_media
        else "`paired` holds no media: ids, caption, valence, arousal and score (join `image` and `music` by id)."
        if "paired" in data_files
        else ""
    )
    title, _, rest = card.text.strip().partition("\n")
    card.text = (
        f"\n{title}\n\n## This export\n\n"
        "A script-free export of IMEMNet-C, written by `imemnet-c export`: Parquet shards per config "
        f"and split, declared above, with media embedded where the config has them. {paired_note}\n"
        "Load it with `datasets.load_dataset(<this folder or repository>, <config>)`, also with `streaming=True`. "
        "If it holds licensed media (IAPS, NAPS, EMOTIC, DEAM), keep the repository private or gated.\n"
        f"{rest}"
    )
    card.save(path)


def arguments(parser):
    parser.add_argument("--data-dir", help="your downloads (not needed for the *_annotations configs)")
    parser.add_argument("--out", required=True, help="the folder to write; refused if not empty, unless --overwrite")
    parser.add_argument(
        "--config",
        nargs="+",
        default=MEDIA_CONFIGS,
        choices=MEDIA_CONFIGS + ANNOTATION_CONFIGS,
        help=f"configs to export (for a public repository: {' '.join(ANNOTATION_CONFIGS)})",
    )
    parser.add_argument("--embed-paired-media", action="store_true", help="embed audio and image in every pair")
    parser.add_argument("--max-shard-size", default="500MB", help="largest Parquet shard")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--cache-dir", help="the datasets cache to prepare in (default: datasets' own)")


def run(args):
    huggingface_hub.utils.logging.set_verbosity_error()  # datasets writes a throwaway card per config
    try:
        export(
            args.data_dir,
            args.out,
            args.config,
            args.embed_paired_media,
            args.max_shard_size,
            args.overwrite,
            args.cache_dir,
        )
    except FileExistsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from imemnet_c_tools.command import alias

    alias()
