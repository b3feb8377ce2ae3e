"""Exports IMEMNet-C to a script-free folder for the Hub dataset viewer: Parquet shards per config
and split, media embedded, a README.md dataset card that declares them, and their Croissant
description (croissant.json).

    imemnet-c export --data-dir D --out OUT [--config NAME ...] [--embed-paired-media]
                     [--max-shard-size 500MB] [--overwrite]

`paired` is exported without its media by default (the bytes of a clip and a picture repeated in
every pair would be huge): ids, caption, valence, arousal and score, as `paired_annotations` gives
them; `--embed-paired-media` embeds them too. The `*_annotations` configs need no licensed media,
for a public repository. The folder appears only once complete: it is written beside OUT under
a hidden name of its own (`.OUT.exporting-<unique>`), its shards in a hidden folder that no loader
looks into until the last step. What a killed export left there, the next export to OUT removes.
"""

import contextlib
import errno
import glob
import os
import shutil
import sys
import tempfile

import datasets
import huggingface_hub
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

import imemnet_c
from imemnet_c_tools import croissant, shipped

try:
    import fcntl
except ImportError:  # Windows: no locks, so what a killed export left stays beside OUT (hidden)
    fcntl = None

CARD = shipped("dataset_card.md")
FIGURE = os.path.join("docs", "va_space.png")  # the card shows it
MEDIA_CONFIGS = ["image", "music", "paired"]
ANNOTATION_CONFIGS = ["image_annotations", "music_annotations", "paired_annotations"]
STAGING, OWNER, ASIDE = ".exporting-", ".owner", ".replaced"  # .OUT.exporting-<unique>, its .owner, its .replaced


def export(
    data_dir,
    out,
    configs=MEDIA_CONFIGS,
    embed_paired_media=False,
    max_shard_size="500MB",
    overwrite=False,
    cache_dir=None,
):
    """Writes the export folder `out` and returns its path. Each export writes a staging folder of
    its own beside `out`. Of two exports to one `out` at once, the second to finish replaces the
    first's folder with `overwrite`, and otherwise fails with FileExistsError, leaving it whole."""
    out = os.path.abspath(os.path.expanduser(out))
    data_dir = data_dir and os.path.abspath(os.path.expanduser(data_dir))
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise FileExistsError(f"{out} is not empty: choose another --out, or pass --overwrite to replace it.")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    _remove_abandoned(out)
    staging, owner = _claim(out)
    try:
        _write(staging, data_dir, configs, embed_paired_media, max_shard_size, cache_dir)
        _publish(staging, out, overwrite)
    finally:
        for leftover in (staging, staging + ASIDE):  # gone after a publish; a failed export's work
            shutil.rmtree(leftover, ignore_errors=True)
        os.remove(staging + OWNER)
        owner.close()
    print(f"Exported {', '.join(configs)} to {out}", flush=True)
    return out


def _write(staging, data_dir, configs, embed_paired_media, max_shard_size, cache_dir):
    """The whole export inside `staging`: the shards of each config, the card and its figure, and
    the Croissant description of the shards."""
    work = os.path.join(staging, ".partial")  # loaders skip hidden folders: nothing here is data yet
    os.makedirs(work)
    infos, data_files, sources = {}, {}, {}
    for name in configs:
        sources[name] = "paired_annotations" if name == "paired" and not embed_paired_media else name
        print(f"Exporting {name}" + (f" (as {sources[name]})" if sources[name] != name else ""), flush=True)
        infos[name] = _write_config(sources[name], data_dir, work, name, max_shard_size, cache_dir)
        data_files[name] = [{"split": split, "path": f"{name}/{split}-*.parquet"} for split in infos[name].splits]
    for name in configs:
        os.rename(os.path.join(work, name), os.path.join(staging, name))
    shutil.rmtree(work)
    _write_card(os.path.join(staging, "README.md"), infos, data_files, embed_paired_media)
    exports = {name: (sources[name], list(infos[name].splits)) for name in configs}
    croissant.write(croissant.exported(exports), os.path.join(staging, croissant.CROISSANT))
    os.makedirs(os.path.join(staging, os.path.dirname(FIGURE)))
    shutil.copy(shipped(FIGURE), os.path.join(staging, FIGURE))


def _claim(out):
    """A new staging folder beside `out` and its owner file `<staging>.owner`, which this export
    keeps locked until it ends, however it ends (the system drops a dead process's locks)."""
    parent, name = os.path.split(out)
    descriptor, owner_path = tempfile.mkstemp(prefix=f".{name}{STAGING}", suffix=OWNER, dir=parent)
    owner = os.fdopen(descriptor, "w")
    if fcntl:
        fcntl.flock(owner, fcntl.LOCK_EX)
    owner.write(str(os.getpid()))  # written once locked: an empty owner file is one being claimed
    owner.flush()
    staging = owner_path[: -len(OWNER)]
    os.mkdir(staging)
    return staging, owner


def _remove_abandoned(out):
    """Removes what exports to `out` that never ended (killed, or the machine stopped) left beside
    it: the staging folders whose owner file no running export holds."""
    if not fcntl:
        return
    parent, name = os.path.split(out)
    for entry in os.listdir(parent):
        if not (entry.startswith(f".{name}{STAGING}") and entry.endswith(OWNER)):
            continue
        owner_path = os.path.join(parent, entry)
        try:
            with open(owner_path, "r+") as owner:
                fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if owner.read():
                    staging = owner_path[: -len(OWNER)]
                    for leftover in (staging, staging + ASIDE):
                        shutil.rmtree(leftover, ignore_errors=True)
                    os.remove(owner_path)
        except (FileNotFoundError, BlockingIOError):  # removed meanwhile, or its export is running
            continue


def _publish(staging, out, overwrite):
    """Renames the complete staging folder to `out`: one step where `out` is absent or empty. A
    non-empty `out` (the one `overwrite` replaces, or one another export published meanwhile) is
    replaced with `overwrite` (moved aside first, then removed), and otherwise kept."""
    aside = staging + ASIDE
    while True:
        try:
            os.rename(staging, out)
            break
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        if not overwrite:
            raise FileExistsError(
                f"{out} was written by another export while this one ran: it is kept, and this export dropped. "
                "Choose another --out, or pass --overwrite to replace it."
            )
        shutil.rmtree(aside, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):  # another export moved it aside first
            os.rename(out, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _write_config(config_name, data_dir, staging, name, max_shard_size, cache_dir):
    """Prepares one config straight to Parquet (datasets embeds the media files) and moves the
    shards to `<name>/<split>-<index>-of-<count>.parquet`; returns the config's DatasetInfo."""
    builder = imemnet_c.ImemnetC(config_name=config_name, data_dir=data_dir, cache_dir=cache_dir)
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
