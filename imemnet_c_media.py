"""IMEMNet-C's media layer: what a load reads (`make_plans`: the annotation tables of each split, and
where each row's media files lie among data_dir's loose files and archive members), and the
verdicts of the media checks, kept in the cache.

It reads annotation files through imemnet_c_annotations, archives through imemnet_c_archives, and
checks media files through imemnet_c_checks, whose `check_member` it hands down to the archive
layer to check a tar's members as its pass goes by.
"""

import collections
import contextlib
import functools
import gc
import io
import json
import operator
import os
import re
import uuid
from typing import NamedTuple

import datasets

from .imemnet_c_annotations import ANNOTATION_URLS, AnnotationFiles, UnavailableAnnotations, image_source
from .imemnet_c_archives import (
    ARCHIVE_CACHE,
    Archive,
    Location,
    MemberReader,
    UnreadableArchive,
    digest,
    is_archive,
    progress,
)
from .imemnet_c_checks import CHECKS_VERSION, IMAGES, check_member, examined, media_file_id, media_modality

__all__ = [
    "data_dir_files",
    "DataDirFiles",
    "Plan",
    "Media",
]  # the public names, which the loading script exports

logger = datasets.logging.get_logger(__name__)


class Found(NamedTuple):
    """What a load finds in data_dir (`find_in`), once: its files, and its annotation files."""

    data_dir: str | None
    files: "DataDirFiles"
    annotations: AnnotationFiles


def find_in(data_dir):
    """The `Found` of `data_dir` (None: nothing)."""
    files = data_dir_files(data_dir) if data_dir else DataDirFiles([], {}, {}, {})
    return Found(data_dir, files, AnnotationFiles(files.paths))


def inputs_digest(found, annotation_files, modalities):
    """A digest of what a load reads from what it `found`: each of the `annotation_files`' origin and
    content (data_dir's copy: its path and a digest of its bytes; else its URL, see ANNOTATION_URLS)
    and, where `modalities` are needed, every media file and archive in data_dir (path, size,
    modification time: media are too large to read here). Files a load never reads are left out."""
    inputs = [
        (name, found.annotations.local[name], found.annotations.digest(name))
        if name in found.annotations.local
        else (name, ANNOTATION_URLS[name])
        for name in annotation_files
    ]
    for path in found.files.paths if modalities else ():
        if is_archive(path) or any(media_file_id(path, modality) for modality in modalities):
            stat = os.stat(path)
            inputs.append((path, stat.st_size, stat.st_mtime_ns))
    return digest(*inputs)


def make_plans(
    configs, found, download, cache_root, *, extract=False, splits=None, unreadable_archives=None, hash_media=False
):
    """{config name: its `Plan`}, made together: the configs share their annotation tables, one
    search of what was `found` in data_dir (`find_in`) and each archive's listing. `download(url)`
    gives a published annotation file's local path; with
    `splits`, only those splits are planned. The configs share their options (missing_media, ...).

    A split whose own annotation file is unavailable is left out with a warning (an error if every
    split is); with `extract`, the archive members used are extracted into the cache (what a
    prepared load reads); `unreadable_archives` and `hash_media` as in `Media.find`."""
    with _cyclic_gc_paused():
        return _make_plans(configs, found, download, cache_root, extract, splits, unreadable_archives, hash_media)


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Python's cyclic garbage collector paused while a plan makes its ~10^5 rows, locations and
    verdicts, none of which form cycles: at IMEMNet-C's full count its passes over them took a third
    of a warm `imemnet-c check` (BENCHMARKS.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _make_plans(configs, found, download, cache_root, extract, splits, unreadable_archives, hash_media):
    tables, absent, needed = {}, {}, collections.defaultdict(set)
    for config in configs:
        asked = [split for split in config.splits if splits is None or split in splits]
        absent[config.name] = {}
        for split in asked:
            try:
                found.annotations.read(config.splits[split], config.kind.parse, download)
            except UnavailableAnnotations as error:
                absent[config.name][split] = error
        if splits is None and len(absent[config.name]) == len(asked):  # an asked split's absence is explained
            raise next(iter(absent[config.name].values()))
        for split, error in absent[config.name].items():
            logger.warning(f"The {split} split of {config.name} is left out: {error}")
        tables[config.name] = {
            split: {
                name: found.annotations.read(file, parse, download)
                for name, (file, parse) in config.inputs(split).items()
            }
            for split in asked
            if split not in absent[config.name]
        }
        for split_tables in tables[config.name].values() if config.modalities else ():
            for modality, field in config.kind.media.items():
                needed[modality].update(map(operator.attrgetter(field), split_tables[config.kind.name].rows))
    media = (
        Media.find(found.files.paths, needed, cache_root, extract, unreadable_archives, hash_media) if needed else None
    )
    return {
        config.name: Plan(
            config,
            tables[config.name],
            absent[config.name],
            found.annotations.origins,
            media if config.modalities else None,
            cache_root,
            found.files,
        )
        for config in configs
    }


class Plan(NamedTuple):
    """What a load of one config reads (`make_plans`), found before anything is generated."""

    config: "datasets.BuilderConfig"  # an ImemnetCConfig
    tables: dict  # {split: {table kind: Table}}: the split's own table (the config's kind) and its lookups
    absent: dict  # {split: why it is left out}: its own annotation file is unavailable
    origins: dict  # {annotation file: its path in data_dir, or the URL it was downloaded from}
    media: "Media | None"  # None for the annotation-only configs
    cache_dir: str  # the datasets cache of this config (its downloads and archive listings)
    files: "DataDirFiles"  # data_dir's files, as the plan found them

    def rows(self, split):
        """The rows (`Row`, or `Pair` for paired) whose examples make `split`."""
        return self.tables[split][self.config.kind.name].rows

    def lookups(self, split):
        """{table kind: {id: its first row}} of the tables the split's rows are joined to."""
        return {
            name: table.first_row_per_id()
            for name, table in self.tables[split].items()
            if name != self.config.kind.name
        }

    def located(self, split):
        """(row, {modality: Location}) for each row of `split` whose media files are all in data_dir;
        the others are an error naming them, or with missing_media="skip" left out and counted."""
        table = self.tables[split][self.config.kind.name]
        located, missing = [], {modality: set() for modality in self.config.kind.media}
        lookups = [
            (modality, operator.attrgetter(field), self.media.locations[modality])
            for modality, field in self.config.kind.media.items()
        ]
        for row in table.rows:
            where = {modality: found.get(media_id(row)) for modality, media_id, found in lookups}
            if None in where.values():
                for modality, media_id, _ in lookups:
                    if where[modality] is None:
                        missing[modality].add(media_id(row))
            else:
                located.append((row, where))
        if not any(missing.values()):
            return located
        locked = collections.Counter(  # {encrypted zip: how many of the missing files it holds}
            path
            for path, archive in self.media.listed.items()
            for name in archive.encrypted
            for modality, ids in missing.items()
            if media_file_id(name, modality) in ids
        )
        if self.config.missing_media == "skip":
            logger.warning(
                f"missing_media='skip': left out {len(table.rows) - len(located)} examples of {table.name} whose media are missing"
                + "".join(
                    f"; {count} of their files are in {path}, encrypted" for path, count in sorted(locked.items())
                )
                + "."
            )
            return located
        if locked:
            path, count = min(locked.items())
            raise ValueError(
                f"{path} is encrypted (password-protected): {count} media files named in {table.name} are in it, "
                "and the loader does not take passwords. Extract it into data_dir with its password (e.g. "
                f"`unzip {os.path.basename(path)}` or `7z x {os.path.basename(path)}`, which ask for it) and load "
                'again, or pass missing_media="skip" to leave out the examples whose files are in it.'
            )
        raise FileNotFoundError(
            f"Media files named in {table.name} are missing from data_dir={self.config.data_dir} "
            f"(searched {self.media.searched}):\n"
            + "".join(_describe_missing(modality, sorted(ids)) for modality, ids in missing.items() if ids)
            + 'Add the missing downloads to data_dir (see the dataset card), or pass missing_media="skip" '
            "to leave out the examples whose media are missing."
        )


def batches(examples, rows=64, media_bytes=16 << 20):
    """(shard, [(row, files)]) of the (shard, row, files) examples, in runs of `rows` of one shard, or
    fewer when their media bytes reach `media_bytes`: small, because an export embeds a table's media
    files in memory (datasets' writer takes 100 media examples at a time) and a streamed table holds
    its media bytes."""
    shard, batch, size = None, [], 0
    for index, row, files in examples:
        if batch and index != shard:
            yield shard, batch
            batch, size = [], 0
        shard = index
        batch.append((row, files))
        size += sum(len(file["bytes"] or b"") for file in files.values())
        if len(batch) == rows or size >= media_bytes:
            yield shard, batch
            batch, size = [], 0
    if batch:
        yield shard, batch


def chunks(rows, size):
    """`rows` in tuples of `size` (one empty tuple for no rows): the shards of a split."""
    return [tuple(rows[start : start + size]) for start in range(0, len(rows), size)] or [()]


class DataDirFiles(NamedTuple):
    """The files of data_dir a load reads from, and the links met on the way (`data_dir_files`)."""

    paths: list  # every file, sorted; hidden ones (a name starting with `.` or `__`) left out, as datasets does
    linked_folders: dict  # {link: the folder it leads to}, walked
    walked_already: dict  # {folder reached through a link: its real folder}, not walked again (a cycle, say)
    dangling_links: dict  # {link: where it points}, where nothing is: left out


def data_dir_files(data_dir):
    """The files below `data_dir`, links to folders followed (data on shared storage, linked in):
    each real folder is walked once, so a link to a folder above it does not loop; a link that
    leads nowhere is left out. A load reads these, and its prepared cache is keyed by them."""
    found, walked = DataDirFiles([], {}, {}, {}), set()
    for parent, folders, names in os.walk(data_dir, followlinks=True):
        real = os.path.realpath(parent)
        if real in walked:
            found.walked_already[parent] = real
            folders.clear()
            continue
        walked.add(real)
        if os.path.islink(parent):
            found.linked_folders[parent] = real
        folders[:] = sorted(folder for folder in folders if not folder.startswith(HIDDEN))
        for path in (os.path.join(parent, name) for name in names if not name.startswith(HIDDEN)):
            if _leads_nowhere(path):
                found.dangling_links[path] = os.readlink(path)
            else:
                found.paths.append(path)
    found.paths.sort()
    return found


HIDDEN = (".", "__")


def _leads_nowhere(path):
    """Whether `path` is a link to nothing (or to a loop of links)."""
    try:
        os.stat(path)
        return False
    except OSError:
        return os.path.islink(path)


class Media:
    """Where the media file of each id the annotations name lies in data_dir (`Media.find`).

    - `needed`: {modality: the ids the annotation files name}; `locations`: {modality: {id: its
      `Location`}} for those found (a loose file, or an archive member);
    - `duplicates`: (modality, id, the file used, another file for that id) where they differ;
    - `archives`: the `Archive`s holding media used, by path; `listed`: every archive listed;
      `unlisted`: the tars not listed, every needed id found before them;
      `loose`: the files outside archives; `searched`: what was searched, for messages;
    - `extracted`: whether the members used were extracted into the cache (a prepared load reads
      those files); otherwise they are read in place (streaming), in the order they lie in;
    - `hashed`: the locations of the files this process read to take their sha256 (see `checker`).
    """

    def __init__(self, needed, cache_root, extracted):
        self.needed, self.cache_root, self.extracted = needed, cache_root, extracted
        self.locations = {modality: {} for modality in needed}
        self.duplicates, self.archives, self.listed, self.loose, self.searched = [], {}, {}, [], ""
        self.unlisted = []
        self.hashed = []
        self._checked = {}  # the problem of each file read, by location: for every shard this process reads
        self._kept_verdicts = {}  # those of each folder of loose files and of each archive, read once a process

    @classmethod
    def find(cls, found, needed, cache_root, extract, unreadable_archives=None, hash_media=False):
        """Finds the `needed` ids among the `found` files of data_dir: loose files in name order,
        then each archive (in `_listing_order`), listed once (its listing kept, see `Archive`), but
        for a tar reached once every needed id is found (`unlisted`: an image load neither
        decompresses nor checks the clips); with `extract`, the members used are extracted into the
        cache. An archive that cannot be read is an error, or with a dict as `unreadable_archives`
        recorded there ({path: why}). With `hash_media`, a tar listed now has the sha256 of its media
        members taken as its pass checks them, and kept with their verdicts (see `checker`)."""
        media = cls(needed, cache_root, extract)
        archive_paths = [path for path in found if is_archive(path)]
        media.loose = [path for path in found if not is_archive(path)]
        media.searched = f"{len(media.loose)} files" + (
            f" and the archives {', '.join(map(os.path.basename, archive_paths))}" if archive_paths else ""
        )
        for path in media.loose:
            media._add(Location(path, None, os.stat(path).st_size))
        archives = {}  # {path: (its Archive, {member: sha256} if hashed as it is listed now)}
        for path in archive_paths:
            digests = {} if hash_media else None
            hook = functools.partial(check_member, digests=digests)
            hook.version = check_member.version  # the listing keeps its answers under the check's version
            archives[path] = Archive(path, cache_root, check_member=hook), digests
        for path in media._listing_order({path: archive for path, (archive, _) in archives.items()}):
            archive, digests = archives[path]
            if archive.is_tar and media._all_located():
                media.unlisted.append(path)
                continue
            media.listed[path] = archive
            try:
                members = archive.members(extract=media.unlocated if extract else None)
                if digests:
                    media.hashed += _keep_listed_digests(archive, members, digests)
                used = [member for member in members if media._add(member)]
                if used:
                    media.archives[path] = archive
                    if extract:
                        archive.extract(used)
            except UnreadableArchive as error:
                if unreadable_archives is None:
                    raise
                unreadable_archives[path] = str(error)
        return media

    def _listing_order(self, archives):
        """The paths of `archives` ({path: Archive}) in the order they are listed: zips (their listing
        reads the central directory alone), then tars (a pass checking every media member, and
        decompressing a tar.gz whole), first those whose first media file is of a needed kind (the
        clips' tar after the pictures' for an image load); each in name order."""

        def rank(path):
            archive = archives[path]
            if not archive.is_tar:
                return 0
            first = archive.first_file(media_modality)
            return 1 if first and media_modality(first) in self.needed else 2

        return sorted(archives, key=lambda path: (rank(path), path))

    def _all_located(self):
        return all(len(self.locations[modality]) == len(ids) for modality, ids in self.needed.items())

    def unlocated(self, name):
        """Whether an archive member is the media file of a needed id that no earlier file provides."""
        return any(
            media_id in self.needed[modality] and media_id not in self.locations[modality]
            for modality in self.needed
            if (media_id := media_file_id(name, modality))
        )

    def _add(self, location):
        """Records `location` for the needed ids it is the first file of; says whether it was."""
        taken = False
        for modality, located in self.locations.items():
            media_id = media_file_id(location.member or location.container, modality)
            if media_id not in self.needed[modality]:
                continue
            first = located.setdefault(media_id, location)
            taken |= first is location
            if first.size != location.size:  # an archive beside its own extraction holds equal copies
                self.duplicates.append((modality, media_id, first, location))
                logger.warning(
                    f"Two different {modality.name} files for {media_id}: {_describe(first)} and {_describe(location)}; "
                    f"using the first (data_dir's folders in name order, then its archives in the order they are listed: docs/archives.md)."
                )
        return taken

    def shards(self, located, rows_per_shard):
        """Rows in chunks: prepared, in the annotation file's order; streamed, in the order their
        media lie in (pairs: by clip, so that each archive is read front to back and each clip once)."""
        if not self.extracted:
            places = {location for _, where in located for location in where.values()}
            order = {location: rank for rank, location in enumerate(sorted(places, key=_place))}
            located = sorted(located, key=lambda row_where: [order[where] for where in row_where[1].values()])
        return chunks(located, rows_per_shard)

    def read(self, shards, skip_unreadable):
        """(shard index, row, {modality: file}) for every row of the shards whose media files are
        all readable, by the verdicts `checker` keeps (a file not checked before is checked from the
        bytes read here); the others are an error, or with `skip_unreadable` left out and counted."""
        skipped, members = 0, self.reader()
        with self.checker() as checked:
            for index, shard in enumerate(shards):
                for row, where in shard:
                    files = {modality: self.file(location, members) for modality, location in where.items()}
                    problem = next(filter(None, (self._problem(checked, where[m], m, files[m]) for m in where)), None)
                    if problem is None:
                        yield index, row, files
                    elif skip_unreadable:
                        skipped += 1
                    else:
                        raise ValueError(problem + UNREADABLE_ADVICE)
        if skipped:
            logger.warning(f"missing_media='skip': left out {skipped} examples whose media files are unreadable.")

    def readable(self, located, skip_unreadable):
        """The (row, {modality: Location}) of `located` (`Plan.located`'s) whose media files all pass
        the check `read` makes, by `checker`'s kept verdicts; the others are an error, or with
        `skip_unreadable` left out and counted."""
        readable, verdicts = [], {}
        with self.checker() as problem:
            for row, where in progress(located, "Checking media files", "files"):
                for modality, location in where.items():
                    if location not in verdicts:
                        verdicts[location] = problem(location, modality)
                found = next(filter(None, (verdicts[location] for location in where.values())), None)
                if found is None:
                    readable.append((row, where))
                elif not skip_unreadable:
                    raise ValueError(found + UNREADABLE_ADVICE)
        if len(readable) < len(located):
            logger.warning(
                f"missing_media='skip': left out {len(located) - len(readable)} items whose media files are unreadable."
            )
        return readable

    def _problem(self, checked, location, modality, file):
        """What makes the media `file` (`Media.file`'s) at `location` unusable, or None, by `checked`
        (`checker`'s): asked once per process, as pairs share their clips and pictures."""
        if location not in self._checked:
            self._checked[location] = checked(location, modality, lambda: _opened(file))
        return self._checked[location]

    @contextlib.contextmanager
    def checker(self, digests=None):
        """`with media.checker() as problem:` a function `problem(location, modality[, opened])`
        saying what makes the media file at `location` unusable, or None, by the checks `read` makes.
        A tar's members were checked when it was listed; a loose file or zip member is read (from
        `opened()`, where its bytes are at hand) as far as the check needs (its header and, for
        pictures, its last bytes), and the verdict is kept in the
        cache under what it was made from (the file's size and modification time; the zip's
        listing): an unchanged download is not read again, a changed file is checked anew.

        With a dict as `digests`, `problem` also puts there the sha256 of each file, by location,
        kept with its verdict under the same stamp: a file is read whole, once, for both (a tar's
        member is not read at all if it was hashed as its archive was listed: see `make_plans`)."""
        stores = self._kept_verdicts

        def kept(container, path):
            if container not in stores:
                stores[container] = _KeptVerdicts(path())
            return stores[container]

        members = self.reader()

        def problem(location, modality, opened=None):
            if location.member is None:
                folder, _, name = location.container.rpartition("/")
                store = kept(folder, lambda: f"{self.cache_root}/{ARCHIVE_CACHE}/folders/{digest(folder)}.json")
                stat = os.stat(location.container)
                stamp, listed = [CHECKS_VERSION, stat.st_size, stat.st_mtime_ns], None
                opened = opened or (lambda: io.open(location.container, "rb"))  # noqa: UP020  (see Archives)
            else:
                archive = self.listed[location.container]
                name, store = location.member, kept(archive.folder, lambda: f"{archive.folder}/checks.json")
                stamp, listed = (
                    [CHECKS_VERSION, location.size, location.offset],
                    archive.problems,
                )  # a tar's, made as it was listed
                opened = opened or (lambda: members.open(location))
            entry = store.entry(name, stamp)  # [stamp, verdict] or [stamp, verdict, sha256]
            if entry is None and listed is not None:
                entry = [stamp, listed.get(name)]
            if entry is None or (digests is not None and len(entry) < 3):
                shown, loose = location.member or location.container, location.member is None
                entry = [stamp, *examined(opened, shown, location.size, modality, digests is not None, loose)]
                store.put(name, entry)
                if digests is not None:
                    self.hashed.append(location)
            if digests is not None:
                digests[location] = entry[2]
            return entry[1]

        yield problem
        for store in stores.values():
            store.keep()

    def file(self, location, members):
        """What an Image or Audio column holds for `location`: a local path (extracted, or a loose
        file), or the member's bytes read through `members` (a `MemberReader` of these media)."""
        if location.member is None:
            return {"path": location.container, "bytes": None}
        if self.extracted:
            return {"path": self.archives[location.container].extracted(location.member), "bytes": None}
        return {"path": location.member, "bytes": members.read(location)}

    def reader(self):
        """A `MemberReader` of the archives these media use."""
        return MemberReader(self.archives)


def _keep_listed_digests(archive, members, digests):
    """Keeps the sha256 of a tar's media members, taken as it was listed, with their verdicts;
    returns the locations of those members."""
    store, hashed = _KeptVerdicts(f"{archive.folder}/checks.json"), []
    for location in members:
        if location.member in digests:
            stamp = [CHECKS_VERSION, location.size, location.offset]
            store.put(location.member, [stamp, archive.problems.get(location.member), digests[location.member]])
            hashed.append(location)
    store.keep()
    return hashed


class _KeptVerdicts:
    """Media checks' verdicts kept in one JSON file of the cache, `{name: [stamp, verdict]}`, or
    `[stamp, verdict, sha256]` for a file hashed too, where the stamp says which version of the file
    they were made from."""

    def __init__(self, path):
        self.path, self.new = path, {}
        self.kept = self._read()

    def entry(self, name, stamp):
        """What is kept of the file `name` made from the version `stamp`, or None."""
        kept = self.kept.get(name)
        return kept if kept is not None and kept[0] == stamp else None

    def put(self, name, entry):
        self.kept[name] = self.new[name] = entry

    def keep(self):
        """Writes the new verdicts, with those another process kept meanwhile (whole, then renamed)."""
        if not self.new:
            return
        os.makedirs(self.path.rpartition("/")[0], exist_ok=True)
        partial = f"{self.path}.{uuid.uuid4().hex}.partial"
        with io.open(partial, "w", encoding="utf-8") as f:  # noqa: UP020  (see Archives)
            json.dump({**self._read(), **self.new}, f)
        os.replace(partial, self.path)
        self.new = {}

    def _read(self):
        try:
            with io.open(self.path, encoding="utf-8") as f:  # noqa: UP020  (see Archives)
                kept = json.load(f)
            return {name: entry for name, entry in kept.items() if _is_kept_entry(entry)}
        except (OSError, ValueError, TypeError, AttributeError):  # none yet, or damaged: checked anew
            return {}


def _is_kept_entry(entry):
    """Whether a kept entry is what a check writes: [stamp, verdict] or [stamp, verdict, sha256]."""
    return (
        isinstance(entry, list)
        and len(entry) in (2, 3)
        and isinstance(entry[0], list)
        and isinstance(entry[1], (str, type(None)))
        and (len(entry) == 2 or isinstance(entry[2], str) and re.fullmatch(r"[0-9a-f]{64}", entry[2]) is not None)
    )


UNREADABLE_ADVICE = ' Replace it with a good copy (download it again), or pass missing_media="skip" to leave it out.'


def _place(location):
    """Where a media file lies: its container, then its offset there."""
    return location.container, location.offset or 0


def _describe(location):
    return f"{location.member} in {location.container}" if location.member else location.container


def _opened(file):
    """A media file's bytes as a stream: from memory (streamed) or from its path (prepared)."""
    return io.BytesIO(file["bytes"]) if file["bytes"] is not None else io.open(file["path"], "rb")  # noqa: UP020  (see Archives)


def _describe_missing(modality, ids):
    if modality == IMAGES:
        by_source = collections.defaultdict(list)
        for media_id in ids:
            by_source[image_source(media_id)].append(media_id)
    else:
        by_source = {"deam": ids}
    return (
        "".join(
            f"  {len(source_ids)} {source} {modality.name} files, e.g. {', '.join(source_ids[:5])}\n"
            for source, source_ids in sorted(by_source.items())
        )
        + f"  (looked for <id>{'/'.join(modality.extensions)} in any case, from {modality.sources})\n"
    )
