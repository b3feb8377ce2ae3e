"""Checks a download folder before a long prepare, with the loader's own code: reads the annotation
files, finds every media file as a load would, and reports per source (IAPS, NAPS, each EMOTIC
part, the clips) what is expected, found, missing, unreadable or there twice; the archives and
folders used, ignored or not listed, and why; the links to folders followed and the links to
nothing; where each annotation file comes from and which splits will exist; whether audio can be
decoded; the disk a prepare needs against what is free; and the load call to run.

    imemnet-c check DATA_DIR [--config image music paired] [--json] [--cache-dir DIR]
                    [--manifest FILE] [--against FILE]

Exit status: 0 the download is complete, 1 something in it is missing or unreadable, 2 bad usage
or DATA_DIR unreadable, 3 the check itself stopped on an unexpected error (its traceback printed:
a fault of the check or its environment, not of the download). Whether this environment can decode audio is reported beside it, with the
commands that install what is missing.
Each archive is read once, to list it (a tar's media are checked as they pass), and that listing
is kept in the datasets cache: a second check, or the load after it, does not read it again.

--manifest FILE writes the sha256 and size of every media file a load uses, by id, source and
archive member or path, and prints the manifest's own sha256, for a paper to cite; --against FILE
names every id whose file differs from that earlier manifest's, is missing or is extra, and exits 1
if there is any. Each file's sha256 is kept with its check's verdict: a second run hashes only the
files that changed (a changed archive: its members).
"""

import collections
import contextlib
import gc
import json
import os
import shutil
import sys
import traceback

import datasets

import imemnet_c
from imemnet_c_tools import manifest

CONFIGS = ["image", "music", "paired"]
SOURCES = ["iaps", "naps", "emotic/mscoco", "emotic/framesdb", "emotic/ade20k", "emotic/emodb_small", "clips"]
SHOWN = 5  # ids or files named per problem in the human-readable report
UNEXPECTED_ERROR = 3  # the exit status when the check itself fails


def source_of(modality, media_id):
    """Where a media file comes from: iaps, naps, emotic/<part> or clips."""
    return "clips" if modality is imemnet_c.AUDIO else imemnet_c.image_source(media_id, emotic_part=True)


def check(data_dir, configs=CONFIGS, cache_dir=None, media_files=None):
    """The facts of the report, as one JSON-ready dict; `complete` says whether a load would find
    every file it needs, readable. With a list as `media_files`, every media file the configs use is
    also hashed, and put there as a manifest's entry (`manifest.entry`); the report's `hashed` says
    how many files (and bytes) this run read to hash them."""
    enabled = gc.isenabled()
    gc.disable()  # its ~10^5 small objects form no cycles: at full count the collector's passes cost a third
    try:
        return _report(data_dir, configs, cache_dir, media_files)
    finally:
        if enabled:
            gc.enable()


def _report(data_dir, configs, cache_dir, media_files):
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    if not os.path.isdir(data_dir):
        raise NotADirectoryError(f"{data_dir} is not a folder: pass the folder that holds your downloads.")
    try:
        os.listdir(data_dir)
    except OSError as error:
        raise NotADirectoryError(f"{data_dir} cannot be read ({error}).") from None
    report = {
        "data_dir": data_dir,
        "datasets": datasets.__version__,
        "configs": {},
        "annotation_files": {},
        "sources": {},
        "archives": {},
        "folders": {},
        "ignored_files": [],
        "links": {},
        "audio_backend": None,
        "audio_decoder": None,
        "disk": {},
        "load_calls": {},
    }
    plans, unreadable_archives = _plans(report, configs, data_dir, cache_dir, hash_media=media_files is not None)
    for name, plan in plans.items():
        report["configs"][name] = {
            "splits": {split: len(plan.rows(split)) for split in plan.tables},
            "absent_splits": {split: str(why) for split, why in plan.absent.items()},
        }
        for file, origin in plan.origins.items():
            report["annotation_files"][file] = {"in_data_dir": not origin.startswith("https://"), "from": origin}
        for split, why in plan.absent.items():
            file = plan.config.splits[split]
            report["annotation_files"][file] = {"in_data_dir": False, "from": None, "unavailable": str(why)}
        report["load_calls"][name] = load_call(name, data_dir)
        if "train" in plan.tables and plan.tables.keys() - {"train"}:
            report["configs"][name]["train_pairs_sharing_a_song"] = train_pairs_sharing_a_song(plan)
    report["configs"] = {name: report["configs"][name] for name in configs}  # as asked, failed or not
    files = next(iter(plans.values())).files if plans else imemnet_c.data_dir_files(data_dir)
    report["links"] = _links(files, data_dir)
    if any(imemnet_c.AUDIO in imemnet_c.ImemnetC.builder_configs[name].modalities for name in configs):
        report["audio_backend"] = imemnet_c.audio_backend_problem() or "ok"
        report["audio_decoder"] = imemnet_c.audio_decoder().name
    media = list(
        {id(plan.media): plan.media for plan in plans.values() if plan.media}.values()
    )  # shared by the configs
    located = _located(media)
    digests = None if media_files is None else {}
    report["sources"] = _sources(media, data_dir, digests)
    if media_files is not None:
        media_files += _manifest_entries(media, digests, data_dir)
        sizes = {location: location.size for m in media for location in m.hashed if location in digests}
        report["hashed"] = {"files": len(sizes), "bytes": sum(sizes.values()), "of": len(media_files)}
    report["archives"] = _archives(media, located, unreadable_archives)
    report["folders"], report["ignored_files"] = _loose_files(media, located, data_dir)
    if plans:
        report["disk"] = _disk(plans, located, next(iter(plans.values())).cache_dir)
    report["complete"] = (  # the download; whether this environment decodes audio is reported beside it
        all("error" not in config and not config["absent_splits"] for config in report["configs"].values())
        and all(not source["missing"] and not source["unreadable"] for source in report["sources"].values())
        and not unreadable_archives
    )
    return report


def train_pairs_sharing_a_song(plan):
    """How many training pairs of IMEMNet's own split hold a clip of a song that the validation or
    test split also holds (`<song>-<segment>`: neighbouring seconds of one recording on both sides)."""
    held_out = {
        imemnet_c.song_of(pair.clip_id) for split in plan.tables if split != "train" for pair in plan.rows(split)
    }
    return sum(imemnet_c.song_of(pair.clip_id) in held_out for pair in plan.rows("train"))


def load_call(config, data_dir):
    """The call that loads `config` with the installed datasets."""
    if imemnet_c.DATASETS_RUNS_SCRIPTS:
        return f'load_dataset("{imemnet_c.__file__}", "{config}", data_dir="{data_dir}", trust_remote_code=True)'
    return f'imemnet_c.load("{config}", data_dir="{data_dir}")'


def _sources(media, data_dir, digests=None):
    """Per source: ids expected, found, missing, unreadable and given by two different files. With a
    dict as `digests`, the sha256 of every file found, by location (see `Media.checker`)."""
    sources = {}

    def source(modality, media_id):
        name = source_of(modality, media_id)
        if name not in sources:
            sources[name] = {"expected": 0, "found": 0, "missing": [], "unreadable": {}, "two_files": {}}
        return sources[name]

    media = [config_media for config_media in media if config_media]
    needed = {}  # (modality, id): (its location or None, the config's media); every config finds the same files
    for config_media in media:
        for modality, ids in config_media.needed.items():
            for media_id in ids:
                needed.setdefault((modality, media_id), (config_media.locations[modality].get(media_id), config_media))
        for modality, media_id, used, other in config_media.duplicates:
            source(modality, media_id)["two_files"][media_id] = [_where(used, data_dir), _where(other, data_dir)]
    located = []
    for (modality, media_id), (location, config_media) in sorted(needed.items(), key=lambda item: item[0][1]):
        entry = source(modality, media_id)
        entry["expected"] += 1
        if location is None:
            entry["missing"].append(media_id)
        else:
            entry["found"] += 1
            located.append((modality, media_id, location, config_media))
    with contextlib.ExitStack() as stack:
        checkers = {id(m): stack.enter_context(m.checker(digests)) for m in media}
        doing = "Checking media files" if digests is None else "Checking and hashing media files"
        for modality, media_id, location, config_media in imemnet_c.progress(located, doing, "files"):
            if problem := checkers[id(config_media)](location, modality):
                source(modality, media_id)["unreadable"][media_id] = problem
    return {name: sources[name] for name in SOURCES if name in sources}


def _plans(report, configs, data_dir, cache_dir, hash_media):
    """({config: its Plan}, {unreadable archive: why}): the configs planned together, sharing their
    walk, tables and listings; if that fails (a malformed or unavailable annotation file), each
    alone, so that the report says which failed. With `hash_media`, a tar listed now is hashed as it
    passes (see `imemnet_c.make_plan`)."""
    unreadable_archives = {}
    options = {"cache_dir": cache_dir, "unreadable_archives": unreadable_archives, "hash_media": hash_media}
    try:
        plans = imemnet_c.make_plan(configs, data_dir, **options)
        return {name: plans[name] for name in configs}, unreadable_archives
    except (ValueError, ConnectionError):
        pass
    plans = {}
    for name in configs:
        try:
            plans[name] = imemnet_c.make_plan(name, data_dir, **options)
        except (ValueError, ConnectionError) as error:  # a malformed or unavailable annotation file
            report["configs"][name] = {"error": str(error)}
    return plans, unreadable_archives


def _manifest_entries(media, digests, data_dir):
    """A manifest's entry for the file of every id the configs use (each id once: the configs find
    the same files)."""
    files = {}
    for config_media in media:
        for modality, located in config_media.locations.items():
            for media_id, location in located.items():
                files.setdefault(
                    (modality.name, media_id),
                    manifest.entry(
                        modality.name, media_id, source_of(modality, media_id), location, digests[location], data_dir
                    ),
                )
    return list(files.values())


def _where(location, data_dir):
    container = os.path.relpath(location.container, data_dir)
    return f"{location.member} in {container}" if location.member else container


def _located(media):
    """Every (media, location) the configs use."""
    return [(m, location) for m in filter(None, media) for by_id in m.locations.values() for location in by_id.values()]


def _archives(media, located, unreadable_archives):
    """Per archive in data_dir: used (how many members), ignored, encrypted, unreadable or not listed (why)."""
    archives = {path: {"status": "unreadable", "why": why} for path, why in unreadable_archives.items()}
    used = collections.defaultdict(set)
    for _, location in located:
        if location.member is not None:
            used[location.container].add(location.member)
    listed = {path: archive for m in filter(None, media) for path, archive in m.listed.items()}
    for path, archive in listed.items():
        if path not in archives:  # an unreadable one has no members to count
            entry = {"status": "used", "members_used": len(used[path])} if used[path] else {"status": "ignored"}
            archives[path] = {**entry, "members": len(archive.members())}
            if not used[path]:
                archives[path]["why"] = "holds none of the media files these configs need"
            if archive.encrypted:  # its other members, if any, are counted as usual
                archives[path].update(
                    status="encrypted",
                    encrypted=len(archive.encrypted),
                    why=f"{len(archive.encrypted):,} of its files are encrypted (password-protected): extract it "
                    "into data_dir with its password (`unzip` or `7z x` ask for it)",
                )
    for path in {path for m in filter(None, media) for path in m.unlisted} - listed.keys():
        archives[path] = {
            "status": "not listed",
            "why": "a tar reached once every media file these configs need was found elsewhere",
        }
    return dict(sorted(archives.items()))


def _loose_files(media, located, data_dir):
    """The folders whose files are used (how many), and the files outside archives that are not."""
    used = {location.container for _, location in located if location.member is None}
    found = {path for m in filter(None, media) for path in m.loose}
    folders = collections.Counter(os.path.relpath(os.path.dirname(path), data_dir) for path in sorted(used))
    ignored = [
        os.path.relpath(path, data_dir)
        for path in sorted(found - used)
        if os.path.basename(path) not in imemnet_c.ANNOTATION_URLS
    ]
    return dict(folders), ignored


def _links(files, data_dir):
    """The links met in data_dir: to folders walked, to folders already walked, to nothing (left out)."""
    groups = {
        "followed": files.linked_folders,
        "walked_already": files.walked_already,
        "dangling": files.dangling_links,
    }
    return {
        group: {os.path.relpath(link, data_dir): to for link, to in links.items()} for group, links in groups.items()
    }


def _disk(plans, located, cache_root):
    """What a prepare of these configs writes into the cache: the archive members they use that are
    not extracted yet, and about the size of the Arrow files, against the free space there."""
    extracted = {
        m.listed[location.container].extracted(location.member): location.size
        for m, location in located
        if location.member is not None
    }
    rows = sum(len(plan.rows(split)) for plan in plans.values() for split in plan.tables)
    existing = cache_root
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    return {
        "cache_dir": cache_root,
        "extract_bytes": sum(size for path, size in extracted.items() if not imemnet_c.has_size(path, size)),
        "arrow_bytes": rows * ARROW_BYTES_PER_EXAMPLE,
        "free_bytes": shutil.disk_usage(existing).free,
    }


ARROW_BYTES_PER_EXAMPLE = 600  # ids, caption, VA, score and media paths: at most about this much per row


def _size(count):
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def render(report):
    """The report as a person reads it."""
    lines = [f"IMEMNet-C check of {report['data_dir']} (datasets {report['datasets']})", "", "Annotation files"]
    for name, entry in sorted(report["annotation_files"].items()):
        where = (
            f"in data_dir: {entry['from']}"
            if entry["in_data_dir"]
            else f"downloaded from {entry['from']}"
            if entry["from"]
            else f"UNAVAILABLE: {entry['unavailable']}"
        )
        lines.append(f"  {name:<20} {where}")
    lines += ["", "Configs and their splits"]
    for name, config in report["configs"].items():
        if "error" in config:
            lines.append(f"  {name}: CANNOT LOAD: {config['error']}")
            continue
        splits = ", ".join(f"{split} {count:,} examples" for split, count in config["splits"].items())
        lines.append(f"  {name}: {splits}")
        for split in config["absent_splits"]:
            lines.append(f"    no {split} split: its matching file is unavailable (see above)")
        if config.get("train_pairs_sharing_a_song"):
            lines.append(
                f"    {config['train_pairs_sharing_a_song']:,} train pairs hold a clip of a song that validation or test "
                "also holds (IMEMNet's own split; imemnet_c_tools.pairs holds songs out whole)"
            )
    if report["sources"]:
        lines += [
            "",
            f"  {'media by source':<22}{'expected':>9}{'found':>9}{'missing':>9}{'unreadable':>12}{'two files':>11}",
        ]
        for name, source in report["sources"].items():
            lines.append(
                f"  {name:<22}{source['expected']:>9,}{source['found']:>9,}{len(source['missing']):>9,}"
                f"{len(source['unreadable']):>12,}{len(source['two_files']):>11,}"
            )
        for name, source in report["sources"].items():
            if source["missing"]:
                lines.append(f"  missing {name}: {', '.join(source['missing'][:SHOWN])}{_more(source['missing'])}")
            for problem in list(source["unreadable"].values())[:SHOWN]:
                lines.append(f"  unreadable: {problem}")
            for media_id, (used, other) in list(source["two_files"].items())[:SHOWN]:
                lines.append(f"  two files for {media_id}: {used} (used) and {other}")
    if report["archives"] or report["folders"] or report["ignored_files"] or any(report["links"].values()):
        lines += ["", "Archives and folders"]
        for group, (status, what) in LINKS.items():
            lines += [f"  {status:<11} {link} -> {to}: {what}" for link, to in report["links"][group].items()]
        for path, entry in report["archives"].items():
            name = os.path.relpath(path, report["data_dir"])
            if entry["status"] == "used":
                lines.append(f"  used        {name}: {entry['members_used']:,} of its {entry['members']:,} files")
            else:
                lines.append(f"  {entry['status']:<11} {name}: {entry['why']}")
        for folder, count in report["folders"].items():
            lines.append(f"  used        {folder}{os.sep}: {count:,} files")
        if report["ignored_files"]:
            ignored = report["ignored_files"]
            lines.append(
                f"  ignored     {len(ignored):,} other file{'s' if len(ignored) > 1 else ''} (not media these configs need): "
                f"{', '.join(ignored[:SHOWN])}{_more(ignored)}"
            )
    if report["audio_backend"]:
        ok = report["audio_backend"] == "ok"
        lines += [
            "",
            f"Audio: a load decodes it with {report['audio_decoder']}." if ok else f"Audio: {report['audio_backend']}",
        ]
    if report["disk"]:
        disk = report["disk"]
        needed = disk["extract_bytes"] + disk["arrow_bytes"]
        lines += [
            "",
            f"Disk: a prepare writes about {_size(needed)} into {disk['cache_dir']} "
            f"({_size(disk['extract_bytes'])} of media extracted from archives, up to {_size(disk['arrow_bytes'])} "
            f"of Arrow files); {_size(disk['free_bytes'])} free there"
            + ("." if needed < disk["free_bytes"] else ": NOT ENOUGH, pass cache_dir=<a larger disk>."),
        ]
    lines += _manifest_lines(report)
    lines.append("")
    if report["complete"]:
        lines.append("Complete. Load with:")
        lines += [f"  {call}" for call in report["load_calls"].values()]
    else:
        lines.append(
            "INCOMPLETE: see above. Add what is missing to data_dir and check again; or load what is there with"
        )
        lines += [f'  {call[:-1]}, missing_media="skip")' for call in report["load_calls"].values()]
    if differences(report):
        lines.append(f"The media differ from {report['against']['file']} (above).")
    return "\n".join(lines)


def _manifest_lines(report):
    """The report's lines on the media's sha256: the manifest written, and what differs from an earlier one."""
    lines = []
    if "hashed" in report:
        hashed = report["hashed"]
        lines += [
            "",
            f"Hashed {hashed['files']:,} of {hashed['of']:,} media files ({_size(hashed['bytes'])}) this run; the "
            "others' sha256 were kept from earlier checks.",
        ]
    if "manifest" in report:
        made = report["manifest"]
        lines.append(
            f"Manifest of {made['files']:,} media files written to {made['file']}, its sha256: {made['sha256']}"
        )
    if "against" in report:
        against = report["against"]
        counts = {kind: len(against[kind]) for kind in KINDS}
        if not any(counts.values()):
            lines.append(f"Against {against['file']}: every id's file has its sha256 and size.")
        else:
            lines.append(
                f"Against {against['file']}: " + ", ".join(f"{count:,} {kind}" for kind, count in counts.items())
            )
        for kind, (status, describe) in KINDS.items():
            lines += [
                f"  {status:<9}{item['modality']} {item['id']} ({item['source']}): {describe(item)}"
                for item in against[kind]
            ]
    return lines


KINDS = {  # how the report says each kind of difference from an earlier manifest
    "differ": (
        "differs",
        lambda item: (
            f"{manifest.where(item['now'])}: sha256 {item['now']['sha256'][:12]}…, {item['now']['size']:,} bytes; "
            f"in the manifest {item['manifest']['sha256'][:12]}…, {item['manifest']['size']:,} bytes"
        ),
    ),
    "missing": ("missing", lambda item: f"in the manifest ({manifest.where(item['manifest'])}), no file now"),
    "extra": ("extra", lambda item: f"{manifest.where(item['now'])}, not in the manifest"),
}


def differences(report):
    """Whether the media differ from an earlier manifest (`--against`)."""
    return "against" in report and any(report["against"][kind] for kind in KINDS)


LINKS = {  # how the report says each group of links
    "followed": ("linked", "followed"),
    "walked_already": ("linked", "not followed: a folder already walked"),
    "dangling": ("dangling", "a link to nothing, left out"),
}


def _more(items):
    return f" and {len(items) - SHOWN:,} more" if len(items) > SHOWN else ""


def arguments(parser):
    parser.add_argument("data_dir", metavar="DATA_DIR", help="the folder holding your downloads")
    parser.add_argument(
        "--config",
        nargs="+",
        choices=CONFIGS,
        help=f"the configs to check for (default: {' '.join(CONFIGS)}; with --against, the manifest's)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument("--cache-dir", help="the datasets cache a load would use (default: datasets' own)")
    parser.add_argument(
        "--manifest", metavar="FILE", help="write the sha256 and size of every media file a load uses, by id, to FILE"
    )
    parser.add_argument(
        "--against",
        metavar="FILE",
        help="name every id whose file differs from the manifest FILE's, is missing or is extra (exit status 1 if any)",
    )


def run(args):
    try:
        earlier = manifest.read(args.against, CONFIGS) if args.against else None
        configs = _configs(args.config, earlier, args.against)
        if args.manifest and not os.access(os.path.dirname(os.path.abspath(args.manifest)), os.W_OK):
            raise NotADirectoryError(f"cannot write the manifest {args.manifest}: its folder is not a writable folder.")
        files = [] if args.manifest or earlier else None
        report = check(args.data_dir, configs, args.cache_dir, files)
        if files is not None:
            _compare_and_write(report, manifest.make(configs, files), earlier, args)
    except (NotADirectoryError, manifest.BadManifest) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception:  # not a verdict on the download: "incomplete" (1) would send the user to re-download
        traceback.print_exc()
        print(
            f"error: the check stopped on an unexpected error (above); exit status {UNEXPECTED_ERROR}.", file=sys.stderr
        )
        return UNEXPECTED_ERROR
    print(json.dumps(report, indent=1) if args.json else render(report))
    return 0 if report["complete"] and not differences(report) else 1


def _compare_and_write(report, made, earlier, args):
    """Adds to the report what differs from the `earlier` manifest, and the manifest written."""
    if earlier:
        report["against"] = {"file": args.against, **manifest.compare(earlier, made)}
    if args.manifest:
        try:
            written = manifest.write(args.manifest, made)
        except OSError as error:
            raise NotADirectoryError(
                f"cannot write the manifest {args.manifest} ({error}); it is left as it was."
            ) from None
        report["manifest"] = {"file": args.manifest, "sha256": written, "files": len(made["files"])}


def _configs(asked, earlier, path):
    """The configs to check: those asked, or an earlier manifest's (which must be those asked)."""
    if earlier is None:
        return asked or CONFIGS
    if asked and sorted(asked) != sorted(earlier["configs"]):
        raise manifest.BadManifest(
            f"{path} is a manifest of {' '.join(earlier['configs'])}, and this check is of {' '.join(asked)}: "
            f"leave --config out, or pass --config {' '.join(earlier['configs'])}."
        )
    return earlier["configs"]


if __name__ == "__main__":
    from imemnet_c_tools.command import alias

    alias()
