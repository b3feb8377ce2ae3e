"""IMEMNet-C's archive layer: each zip or tar download listed once, its listing kept in the datasets
cache; members read in place by random access (a tar.gz through its kept seek points) or extracted.

It knows nothing of annotations or media: the media layer (imemnet_c_media) asks it for members and
hands it one hook, `check_member`, to check a tar's members as its single pass goes by.

Paths made of member names go through io.open, os.stat and string operations, not open and os.path:
datasets 2.x and 3.x patch those in a loading script's modules for URLs, where "::" chains paths.
"""

import atexit
import bz2
import contextlib
import errno
import functools
import hashlib
import io
import itertools
import json
import lzma
import os
import re
import shutil
import struct
import tarfile
import threading
import time
import uuid
import zipfile
import zlib
from typing import NamedTuple

import datasets
import filelock
import rapidgzip

__all__ = [
    "ARCHIVE_CACHE",
    "Archive",
    "Location",
    "MemberReader",
    "has_size",
    "progress",
]  # the public names, which the loading script exports

logger = datasets.logging.get_logger(__name__)

ARCHIVE_CACHE = (
    "imemnet_c_archives"  # in the datasets cache: a folder per archive (see Archive); folders/: loose files' checks
)
ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def is_archive(path):
    """Whether a file of data_dir is read as an archive (by its name)."""
    return path.lower().endswith(ARCHIVE_EXTENSIONS)


class Location(NamedTuple):
    """Where a media file lies: a loose file, or a member of an archive."""

    container: str  # a loose file, or the archive holding the member
    member: str | None  # the member's name in the archive; None for a loose file
    size: int
    offset: int | None = None  # where the member's data lie in its archive (a tar's: in the uncompressed tar)


_INDEX_VERSION = 6  # 2: a tar's media checks; 3: a name held twice, its last copy; 4: left-out reasons as plain text; 5: one seek-points.bin; 6: seek points every 2 MiB, their windows compressed
DECOMPRESSORS = {
    "bzip2": bz2.open,
    "xz": lzma.open,
}  # gzip goes through rapidgzip: parallel, seekable; a seam for the tests
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
_ZIP_ENCRYPTED = 0x1  # the flag bit of a zip entry's header for an encrypted member (ZipCrypto or AES)
_ARCHIVE_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    RuntimeError,
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
)


class Archive:
    """A zip or tar download. Its members (name, size, offset) are listed in one pass and kept in
    the datasets cache, in a folder named after the archive's absolute path, size and modification
    time: a changed archive is listed anew, an unchanged one never again. A tar.gz keeps rapidgzip's
    seek points beside its listing, which read any member without decompressing what comes before.
    Members a prepared config uses are extracted into the same folder, each file whole or absent.

    The folder holds `index.json` (the listing), a tar.gz's `seek-points.bin`, `files/` (the
    extracted members), a tar.bz2's or tar.xz's `decompressed.tar`, `read_by/` (the prepared datasets
    reading `files/`, see `record_reader`) and `checks.json` (the media layer's kept zip checks).

    `check_member(name, size, open_stream)`, if given, says what makes a member unusable (or None);
    a tar's pass calls it on each member as it goes by (a tar is read once), and the listing keeps
    the answers as `problems`, with the hook's `version`: a kept listing whose answers are of another
    version gives `problems` None. A zip, read by random access, is checked by the caller instead."""

    def __init__(self, path, cache_root, check_member=None):
        path, stat = os.path.abspath(path), os.stat(path)
        self.path = path
        self.folder = os.path.join(
            cache_root, ARCHIVE_CACHE, f"{digest(path)}-{digest(path, stat.st_size, stat.st_mtime_ns)}"
        )
        self.compression = _compression(path)
        # By the leading bytes first: zipfile looks for a zip's end record near the file's end, where a
        # tar whose last member is a small zip holds one.
        self.is_tar = bool(self.compression) or tarfile.is_tarfile(path)
        self.is_zip = not self.is_tar and zipfile.is_zipfile(path)
        self.seek_points = None  # the tar.gz index file, once listed
        self._seek_points_written = None  # by this listing, not yet named
        self.encrypted = []  # a zip's password-protected members, once listed: left out of the members
        self.problems = None  # a tar's `check_member` answers, once listed: {member: why it is unusable}
        self._check_member = check_member
        self._members = None
        self._directories_inside = {}  # {directory under files/: whether it resolves inside files/}

    @contextlib.contextmanager
    def _writing(self, what):
        """A failure to write `what` into the cache folder is the cache's (full, over quota,
        read-only, not permitted, a name too long), not the archive's."""
        try:
            yield
        except OSError as error:
            if error.errno not in _WRITE_ERRNOS:
                raise
            if error.errno in _FULL_DISK:
                problem = f"{os.strerror(error.errno)} while listing or extracting {self.path}: cannot write {what}"
                advice = (
                    "Free some space there, or pass cache_dir=<a folder on a larger disk>; the next run keeps "
                    "the members already extracted whole and extracts the rest."
                )
            else:
                problem = f"{os.strerror(error.errno)}: cannot write {what} of {self.path}"
                advice = "Make that folder writable, or pass cache_dir=<a writable folder with space>."
            raise CacheUnwritable(
                error.errno,
                f"{problem} into the datasets cache folder {self.folder} ({error.filename or error}). {advice} "
                "The archive itself is fine.",
            ) from error

    def members(self, extract=None):
        """The members, from the kept listing; without one, from one pass over the archive that also
        extracts the members `extract(name)` picks."""
        if self._members is None:  # asked again (imemnet-c check counts them), the listing is not read again
            kept = self._kept_listing()
            self._members = self._listed(extract) if kept is None else kept
        return self._members

    def first_file(self, wanted, within=16):
        """The name of the first of a tar's first `within` regular files that `wanted(name)` accepts,
        from the kept listing, else read from the archive's start (a glance, not a pass); None if
        none is, or its start cannot be read (listing it then says why)."""
        if self._members is None:
            self._members = self._kept_listing()
        if self._members is not None:
            names = (location.member for location in self._members)
        else:
            names = self._glance()
        return next((name for name in itertools.islice(names, within) if wanted(name)), None)

    def _glance(self):
        """The names of the tar's regular files from its start, as far as they can be read."""
        with contextlib.suppress(*_ARCHIVE_ERRORS), tarfile.open(self.path, mode="r|*") as tar:
            yield from (info.name for info in tar if info.isreg())

    def extracted(self, name):
        return f"{self.folder}/files/{name}"

    def _extraction_target(self, name):
        """Where a member is extracted, checked to stay inside the folder once links are resolved: a
        link planted in a shared cache must not lead a write, or a prepared load's reads, elsewhere.
        Each directory is resolved once (its members are many), then the member itself must be no link."""
        target = self.extracted(name)
        directory = target.rpartition("/")[0]
        if directory not in self._directories_inside:
            files = os.path.join(os.path.realpath(self.folder), "files")
            inside = (os.path.realpath(directory) + os.sep).startswith(files + os.sep)
            self._directories_inside[directory] = inside
        if not self._directories_inside[directory] or os.path.islink(target):
            raise UntrustedCache(
                f"{target} leads outside the cache folder {self.folder}/files (a link put there?): remove {self.folder} "
                "and load again."
            )
        return target

    def extract(self, members):
        """Extracts the members not already extracted whole, reading each by random access."""
        missing = [m for m in members if not has_size(self._extraction_target(m.member), m.size)]
        if not missing:
            return
        if self.compression in DECOMPRESSORS:  # no seek points: one more pass over the archive
            names = {member.member for member in missing}
            self._listed(lambda name: name in names)
            return
        with contextlib.ExitStack() as stack:
            open_member = self.opener(stack)
            for member in progress(sorted(missing, key=lambda m: m.offset), f"Extracting {self.path}", "files"):
                self._write(member.member, open_member(member))

    def opener(self, stack):
        """A function opening a member, from its location, as a stream; the archive's handles close
        with `stack`."""
        if self.is_zip:
            file = stack.enter_context(io.open(self.path, "rb"))  # noqa: UP020  (see Archives)
            return functools.partial(_zip_member, stack.enter_context(zipfile.ZipFile(file)), file.fileno())
        if self.compression == "gzip":
            stream = stack.enter_context(_seek_point_reader(self.path, self.seek_points))
        elif self.compression:  # bzip2, xz: no seek points, so read from the decompressed copy
            stream = stack.enter_context(io.open(self.decompressed(), "rb"))  # noqa: UP020  (see Archives)
        else:
            stream = stack.enter_context(open(self.path, "rb"))

        lock = threading.Lock()  # the opener is shared by the threads of a process (one per process)

        def open_member(location):
            with lock:  # a seek and its read, not interleaved with another thread's
                stream.seek(location.offset)
                return io.BytesIO(stream.read(location.size))

        return open_member

    def decompressed(self):
        """The decompressed tar of a tar.bz2 or tar.xz, made once beside its listing (written whole,
        then renamed) and read by every reader, shard, worker and pass after; readers that start
        together (DataLoader workers) wait for the one making it."""
        path = os.path.join(self.folder, "decompressed.tar")
        if not os.path.exists(path):
            with filelock.FileLock(f"{path}.lock"):
                if not os.path.exists(path):
                    with DECOMPRESSORS[self.compression](self.path) as tar:
                        self._write(None, tar, target=path)
        return path

    def _kept_listing(self):
        """The kept listing, or None when there is none, or it is partial or unreadable, or it is not
        what a listing of this archive writes (an edited listing in a shared cache is not trusted):
        then the archive is listed again."""
        try:
            with open(os.path.join(self.folder, "index.json"), "rb") as f:
                content = f.read()
            index = _parsed_json(content)
            if index["version"] != _INDEX_VERSION or index["archive"] != self.path:
                return None
            data_size = self._checked_seek_points(index["seek_points"])
            members = _trusted_members(content, self.path, self.is_zip, data_size)
            left_out, problems, encrypted = index["left_out"], index["problems"], index["encrypted"]
            trusted = (
                members is not None
                and all(isinstance(name, str) and isinstance(reason, str) for name, reason in left_out)
                and (problems is None or not self.is_zip and _is_text_dict(problems))
                and all(isinstance(name, str) for name in encrypted)
            )
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError):
            return None
        if not trusted:
            return None
        if index.get("checks_version") != getattr(self._check_member, "version", None):
            problems = None  # answers of another version of the check: the caller checks the members anew
        for _, reason in left_out:
            logger.warning(f"{self.path}: {reason}")
        self.problems, self.encrypted = problems, encrypted
        return list(members)

    def _checked_seek_points(self, kept):
        """The size of the data a member's offset and size must fit in (None where it is unknown
        without decompressing: bzip2, xz), after checking the kept seek points of a tar.gz: a bare file
        name in this folder, of the kept size, that rapidgzip imports."""
        if bool(kept) != (self.compression == "gzip"):
            raise ValueError("seek points where none belong, or none where they do")
        if not kept:
            return os.stat(self.path).st_size if not self.compression else None
        name, size = kept
        if name != _SEEK_POINTS or not has_size(os.path.join(self.folder, name), size):
            raise ValueError(f"seek points {name!r} are not this folder's")
        self.seek_points = os.path.join(self.folder, name)
        return _uncompressed_size(self.path, self.seek_points, os.stat(self.seek_points).st_mtime_ns)

    def _listed(self, extract):
        """Lists the archive in one pass, extracting what `extract` picks on the way, and keeps the listing."""
        with self._writing("the listing"):
            os.makedirs(self.folder, exist_ok=True)
        check = None if self.is_zip else self._check_member
        members, left_out, problems = {}, [], None if check is None else {}
        description = f"{'Extracting' if extract else 'Listing'} {self.path}"
        try:
            with (
                contextlib.closing(self._zip_entries() if self.is_zip else self._tar_entries()) as entries,
                progress(None, description, "B", os.path.getsize(self.path)) as bar,
            ):
                for name, size, offset, read, position in entries:
                    bar.update(position - bar.n)
                    reason = _unsafe(name)
                    if reason:
                        logger.warning(f"{self.path}: {reason}")
                        left_out.append((name, reason))
                        continue
                    members.pop(name, None)  # a name held twice (appended by `tar -r`): its last copy
                    members[name] = Location(self.path, name, size, offset)
                    extracted = extract and extract(name)
                    if extracted:
                        self._write(name, read())
                    if check:  # a tar passes by once: its members are checked now
                        problems.pop(name, None)  # an earlier copy's
                        opened = (lambda n=name: io.open(self.extracted(n), "rb")) if extracted else read  # noqa: UP020
                        if problem := check(name, size, opened):
                            problems[name] = problem
        except _ARCHIVE_ERRORS as error:
            if isinstance(error, (CacheUnwritable, UntrustedCache)):
                raise
            raise UnreadableArchive(
                f"{self.path} cannot be read as an archive ({error}). It may be truncated or not an archive "
                "despite its name: download it again, or move it out of data_dir."
            ) from None
        self.problems, listed = problems, list(members.values())
        self._keep(listed, left_out)
        return listed

    def _zip_entries(self):
        self.encrypted = []
        with zipfile.ZipFile(self.path) as archive:
            for info in archive.infolist():
                if info.flag_bits & _ZIP_ENCRYPTED:  # opening it would need the password
                    self.encrypted.append(info.filename)
                elif not info.is_dir():
                    yield (
                        info.filename,
                        info.file_size,
                        info.header_offset,
                        lambda i=info: archive.open(i),
                        info.header_offset,
                    )

    def _tar_entries(self):
        """A tar's regular files in one pass, with how far into the archive file each lies; a tar.gz
        through rapidgzip, whose seek points it keeps."""
        if not self.is_tar:
            raise ValueError("it is neither a zip nor a tar archive")
        with contextlib.ExitStack() as stack:
            if self.compression == "gzip":
                stream = stack.enter_context(
                    rapidgzip.RapidgzipFile(self.path, parallelization=0, chunk_size=_SEEK_POINT_SPACING)
                )
                position = lambda: stream.tell_compressed() // 8  # noqa: E731  (rapidgzip counts bits)
            else:
                raw = stack.enter_context(open(self.path, "rb"))
                stream = stack.enter_context(DECOMPRESSORS[self.compression](raw)) if self.compression else raw
                position = raw.tell
            tar = stack.enter_context(tarfile.open(fileobj=stream, mode="r:"))
            for info in tar:
                if info.isreg():
                    yield info.name, info.size, info.offset_data, lambda i=info: tar.extractfile(i), position()
            if self.compression == "gzip":
                self.seek_points = os.path.join(self.folder, _SEEK_POINTS)
                self._seek_points_written = f"{self.seek_points}.{uuid.uuid4().hex}.partial"
                with self._writing("the seek points"):  # named by `_keep`, with the listing naming them
                    stream.export_index(self._seek_points_written, rapidgzip.IndexFormat.GZTOOL)

    def _write(self, name, source, target=None):
        """Writes a member under its name (or as `target`), whole or not at all (a partial file never
        has the name)."""
        target = target or self._extraction_target(name)
        partial = f"{target}.{uuid.uuid4().hex}.partial"
        try:
            with self._writing(f"the member {name}"):
                os.makedirs(target.rpartition("/")[0], exist_ok=True)
                with source, io.open(partial, "wb") as f:  # noqa: UP020  (the builtin is patched)
                    shutil.copyfileobj(source, f, 1 << 20)
                os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)

    def _keep(self, members, left_out):
        """Keeps the listing and its seek points (written whole, then renamed: readers see all of it or
        none), and removes what an interrupted listing left and what the cache holds for earlier
        versions of the same archive, except the extractions a prepared dataset still reads (see
        `record_reader`)."""
        partial = os.path.join(self.folder, f"index.json.{uuid.uuid4().hex}.partial")
        seek_points = self.seek_points and [
            _SEEK_POINTS,
            os.path.getsize(self._seek_points_written or self.seek_points),
        ]
        index = {
            "version": _INDEX_VERSION,
            "archive": self.path,
            "members": [[m.member, m.size, m.offset] for m in members],
            "left_out": left_out,
            "problems": self.problems,
            "checks_version": getattr(self._check_member, "version", None),
            "seek_points": seek_points,
            "encrypted": self.encrypted,
        }
        with self._writing("the listing"):
            with io.open(partial, "w", encoding="utf-8") as f:  # noqa: UP020
                json.dump(index, f)
            # Both renamed under a lock, so that the seek points a listing names are those written with
            # it. Another process's listing of the same archive may replace both (each wrote files of
            # its own): a reader that opened them keeps its copy.
            with filelock.FileLock(os.path.join(self.folder, "index.lock")):
                if self._seek_points_written:
                    os.replace(self._seek_points_written, self.seek_points)
                    self._seek_points_written = None
                os.replace(partial, os.path.join(self.folder, "index.json"))
            for name in os.listdir(self.folder):  # an earlier version's seek points, or an interrupted listing's
                path = os.path.join(self.folder, name)
                earlier = name.startswith("seek-points-")
                if earlier or name.endswith(".partial") and _older_than(path, _ABANDONED_AFTER):
                    os.remove(path)
        path_digest, parent = os.path.basename(self.folder).split("-")[0], os.path.dirname(self.folder)
        for name in os.listdir(parent):
            other = os.path.join(parent, name)
            if name.startswith(f"{path_digest}-") and other != self.folder and not _read_by_a_prepared_dataset(other):
                shutil.rmtree(other, ignore_errors=True)

    def record_reader(self, prepared):
        """Records that the prepared dataset in the folder `prepared` reads this archive's extraction:
        its Image and Audio columns hold paths into `files/`, so a listing of a newer version of the
        archive keeps this folder while that dataset is in the cache."""
        readers = os.path.join(self.folder, "read_by")
        with self._writing("the record of a prepared dataset"):
            os.makedirs(readers, exist_ok=True)
            with io.open(os.path.join(readers, digest(prepared)), "w", encoding="utf-8") as f:  # noqa: UP020
                f.write(prepared)


class MemberReader:
    """Reads archive members by location; the last member read from each archive is kept, so that
    consecutive pairs of one clip read it once. Each archive is opened once per process and stays
    open until it ends (see `_opener`)."""

    def __init__(self, archives):
        self._archives = archives
        self._last = {}

    def read(self, location):
        last = self._last.get(location.container)
        if last and last[0] == location:
            return last[1]
        with self.open(location) as stream:
            data = stream.read()
        self._last[location.container] = (location, data)
        return data

    def open(self, location):
        return _opener(self._archives[location.container])(location)


_OPENERS = {}  # {(process id, an archive's cache folder): its member opener}
_OPEN_ARCHIVES = {}  # {process id: the ExitStack closing that process's open archives at exit}


def _opener(archive):
    """The archive's member opener, made once per process: a streamed split reads its shards one
    after the other, and opening per shard parsed a zip's directory (0.1 s for EMOTIC's 23K
    pictures) or imported a tar.gz's seek points each time. Keyed by process, as workers forked
    after a read must open their own; closed at exit, as rapidgzip needs its readers closed."""
    key = (os.getpid(), archive.folder)
    if key not in _OPENERS:
        if os.getpid() not in _OPEN_ARCHIVES:
            _OPEN_ARCHIVES[os.getpid()] = contextlib.ExitStack()
            atexit.register(_close_archives, os.getpid())
        _OPENERS[key] = archive.opener(_OPEN_ARCHIVES[os.getpid()])
    return _OPENERS[key]


def _zip_member(archive, descriptor, location):
    """A member of the open zip `archive` (`descriptor`: its file's) as a stream. A stored or deflated
    member is read whole at its offset, inflated and its CRC checked: zipfile's own `open` costs four
    times as much for each of the 10^5 small members a streamed `paired` split reads (BENCHMARKS.md)."""
    info = archive.getinfo(location.member)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return archive.open(info)
    header = os.pread(descriptor, _ZIP_LOCAL_HEADER.size, info.header_offset)
    if len(header) < _ZIP_LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"Bad magic number for file header of {info.filename!r}")
    name_size, extra_size = _ZIP_LOCAL_HEADER.unpack_from(header)[-2:]
    data = os.pread(descriptor, info.compress_size, info.header_offset + len(header) + name_size + extra_size)
    try:
        data = zlib.decompress(data, -zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED else data
    except zlib.error as error:
        raise zipfile.BadZipFile(f"{info.filename!r} does not inflate: {error}") from None
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return io.BytesIO(data)


_ZIP_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature ... file name length, extra field length


def _close_archives(process_id):
    if process_id == os.getpid():
        _OPEN_ARCHIVES.pop(process_id).close()


@functools.lru_cache(maxsize=8)
def _parsed_json(content):
    """A kept listing's JSON, parsed once per process and content (every config's plan reads it)."""
    return json.loads(content)


@functools.lru_cache(maxsize=8)
def _trusted_members(content, path, is_zip, data_size):
    """A kept listing's members, or None if one is not what a listing writes (a name the listing's
    filter refuses, an offset or size outside the archive's data): checked once per process and content."""
    members = tuple(Location(path, name, size, offset) for name, size, offset in _parsed_json(content)["members"])
    trusted = all(isinstance(m.member, str) and not _unsafe(m.member) and _fits(m, data_size, is_zip) for m in members)
    return members if trusted else None


@functools.lru_cache(maxsize=8)
def _uncompressed_size(path, seek_points, modified):
    """The size of a tar.gz's data, from its seek points, which must import (damaged ones raise
    "Magic bytes do not match!"): once per process and version of the seek points."""
    with _seek_point_reader(path, seek_points) as stream:
        return stream.seek(0, io.SEEK_END)


def _seek_point_reader(path, seek_points):
    """A tar.gz opened for random reads through its seek points. One thread: what each reader (every
    DataLoader worker, every rank) holds is its seek points and a cache of about sixteen decompressed
    chunks, each as wide as the spacing; a second thread grows that cache by half for no faster read."""
    stream = rapidgzip.RapidgzipFile(path, parallelization=1, chunk_size=_SEEK_POINT_SPACING)
    try:
        stream.import_index(seek_points)
    except BaseException:
        stream.close()
        raise
    return stream


class UnreadableArchive(ValueError):
    """A download in data_dir that cannot be read as the archive its name says."""


class CacheUnwritable(OSError):
    """The datasets cache refused a write: the archive is fine, the cache folder is not."""


class UntrustedCache(RuntimeError):
    """The cache folder holds what a listing or extraction never writes: a link leading outside."""


_FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
_WRITE_ERRNOS = {*_FULL_DISK, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG}


def _read_by_a_prepared_dataset(folder):
    """Whether a prepared dataset that reads this archive folder's extraction is still in the cache
    (or being prepared): then the folder is kept, though its archive changed since."""
    readers = os.path.join(folder, "read_by")
    for name in os.listdir(readers) if os.path.isdir(readers) else ():
        with contextlib.suppress(OSError):
            with io.open(os.path.join(readers, name), encoding="utf-8") as f:  # noqa: UP020
                prepared = f.read()
            if os.path.isdir(prepared) or os.path.isdir(f"{prepared}.incomplete"):
                return True
    return False


_SEEK_POINTS = "seek-points.bin"
# Seek points every 2 MiB of the tar.gz, exported in gztool's format, whose windows hold only the bytes
# the data after them refer to, compressed: a narrow spacing keeps each reader's chunk cache small and
# its reads fast, and compressed windows keep that many seek points small (benchmarks/seekpoints.py).
_SEEK_POINT_SPACING = 2 << 20
_ABANDONED_AFTER = 3600  # seconds: a partial file of the cache not written for this long is a dead process's


def _older_than(path, seconds):
    try:
        return os.stat(path).st_mtime < time.time() - seconds
    except OSError:
        return False


def _unsafe(name):
    """Why a member is left out (its path points outside the extraction, or it is an archive), or None."""
    dotdot = ".." in name and ".." in re.split(r"[\\/]", name)  # split only names that may hold it
    if name.startswith(("/", "\\")) or name[1:2] == ":" and name[:1].isalpha() or dotdot:
        return f"left out the member {name!r}, whose path points outside the archive."
    if name.lower().endswith(ARCHIVE_EXTENSIONS):
        return f"the archive {name!r} inside it is not opened; extract it into data_dir to use it."
    return None


def _fits(location, data_size, is_zip):
    """Whether a listed member's offset and size are whole numbers within the archive's data (a zip
    member's size is its inflated one: only its offset is bounded)."""
    offset, size = location.offset, location.size
    if not (type(offset) is int and type(size) is int and offset >= 0 and size >= 0):
        return False
    return data_size is None or (offset < data_size if is_zip else offset + size <= data_size)


def _is_text_dict(value):
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _compression(path):
    """`gzip`, `bzip2` or `xz` for a compressed file, by its first bytes; None for any other."""
    with open(path, "rb") as f:
        head = f.read(6)
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def has_size(path, size):
    try:
        return os.stat(path).st_size == size
    except OSError:
        return False


def digest(*parts):
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def progress(iterable, description, unit, total=None):
    """datasets' progress bar (its switches turn it off), shown only for what lasts over two seconds."""
    return _tqdm(iterable, desc=description, unit=unit, unit_scale=True, total=total, delay=2)


try:  # its home; datasets.utils.logging re-exports it for compatibility only
    from datasets.utils.tqdm import tqdm as _tqdm
except ImportError:
    from datasets.utils.logging import tqdm as _tqdm
