"""Shared fixtures: an offline Hugging Face home, a loader that keeps its cache in tmp_path, and
helpers that build the users' download layouts from the sample generator's pieces."""

import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "imemnet_c.py")
SAMPLE = os.path.join(ROOT, "data", "sample")
REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "reference")

# Before datasets is imported: nothing may reach the Hub, and nothing is written to ~/.cache.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="imemnet-c-hf-home-")
os.environ["CROISSANT_CACHE"] = tempfile.mkdtemp(prefix="imemnet-c-croissant-")  # mlcroissant's, in the tests
sys.path.insert(0, ROOT)

import datasets  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

import imemnet_c  # noqa: E402
from imemnet_c_tools import sample  # noqa: E402
from imemnet_c_tools.digest import content, decoded, is_audio  # noqa: E402, F401  (for the tests)

DATASETS_RUNS_SCRIPTS = int(datasets.__version__.split(".")[0]) < 4

datasets.disable_progress_bars()

# CI (.ci/run sets CI) runs the property tests on the same examples every time: a failure there is one
# every rerun shows; elsewhere hypothesis draws anew and may find new cases.
settings.register_profile("ci", derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

TIMEOUT = 600  # seconds a test's subprocess may take: a hung one fails its test, not the whole run


def read_until(process, reached, timeout=TIMEOUT):
    """Reads `process`'s output lines until `reached(line, count)`. Fails the test (and kills the
    process) if the output ends first or nothing is reached within `timeout` seconds."""
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        for count, line in enumerate(process.stdout, 1):
            if reached(line, count):
                return
        pytest.fail(f"the process ended, or hung for {timeout} s, before the point awaited")
    finally:
        watchdog.cancel()


def kill_when(process, reached, timeout=TIMEOUT):
    """Reads `process`'s output lines until `reached(line, count)`, then kills it (SIGKILL)."""
    read_until(process, reached, timeout)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=timeout)


@pytest.fixture
def load(tmp_path):
    """load(config, data_dir, streaming=False, **options): what a user's one load call returns
    (load_dataset on datasets 3.6, the builder on 4 and newer), cached in tmp_path."""

    def load(config, data_dir, streaming=False, **options):
        return imemnet_c.load(
            config,
            None if data_dir is None else str(data_dir),
            streaming=streaming,
            cache_dir=str(tmp_path / "cache"),
            **options,
        )

    return load


class FileEvents:
    """What this process did to files while a `file_events()` block ran, by absolute path: `opened`
    counts the opens (any mode), `written` the opens for writing and the renames onto the path."""

    def __init__(self):
        self.opened, self.written = collections.Counter(), collections.Counter()


_RECORDING = []  # the FileEvents of the file_events() blocks running


def _record(event, args):
    """The audit hook: the interpreter reports every open (open, io.open, os.open, by any code and
    thread) and rename (os.rename, os.replace). A C or C++ library's own opens are not reported:
    rapidgzip's reads of a tar.gz."""
    if not _RECORDING or event not in ("open", "os.rename"):
        return
    path = args[1] if event == "os.rename" else args[0]
    if not isinstance(path, (str, bytes, os.PathLike)):  # an open file descriptor
        return
    path = os.path.abspath(os.fsdecode(path))
    writes = event == "os.rename" or bool(args[2] & (os.O_WRONLY | os.O_RDWR))
    for events in list(_RECORDING):
        if event == "open":
            events.opened[path] += 1
        if writes:
            events.written[path] += 1


sys.addaudithook(_record)  # once per session: a hook cannot be removed, so it records only in a block


@contextlib.contextmanager
def file_events():
    """`with file_events() as events:` the files this process opens and writes in the block (see
    `FileEvents`), as a user tracing the process would see them."""
    events = FileEvents()
    _RECORDING.append(events)
    try:
        yield events
    finally:
        _RECORDING.remove(events)


def listed(events):
    """The archives (file names) listed by a pass over them while `events` were recorded, once per
    pass: each pass keeps its listing, written whole as `<cache>/imemnet_c_archives/<folder>/index.json`,
    which names the archive (the folder's name says nothing a test can read)."""
    names = []
    for path, writes in events.written.items():
        folder = os.path.dirname(path)
        if (
            os.path.basename(path) == "index.json"
            and os.path.basename(os.path.dirname(folder)) == imemnet_c.ARCHIVE_CACHE
        ):
            with open(path, encoding="utf-8") as f:
                names += [os.path.basename(json.load(f)["archive"])] * writes
    return sorted(names)


def handles_open(path):
    """How many file descriptors of this process are open on `path` (Linux's /proc/self/fd)."""
    target, count = os.path.realpath(path), 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listing the folder, closed since
            count += os.path.realpath(os.readlink(f"/proc/self/fd/{fd}")) == target
    return count


def stepped_load(config, data_dir, cache, *options):
    """The command of a load in a process of its own that announces and pauses at a step (see
    tests/stepped_load.py), as this Python runs it."""
    return [sys.executable, os.path.join(ROOT, "tests", "stepped_load.py"), config, str(data_dir), str(cache)] + [
        str(option) for option in options
    ]


def export_command(python, data_dir, out, *options):
    """`imemnet-c export` of `data_dir` into `out`, run by `python` (`-m imemnet_c_tools.export`)."""
    return [python, "-m", "imemnet_c_tools.export", "--data-dir", str(data_dir), "--out", str(out), *map(str, options)]


def by_id(dataset, id_field):
    return {example[id_field]: example for example in dataset}


def write_media(root, name, layout, files):
    """Writes `{relative path: bytes}` as a folder `root/name/` or an archive `root/name.<layout>`."""
    os.makedirs(root, exist_ok=True)
    if layout == "folder":
        for relative, data in files.items():
            path = os.path.join(root, name, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
    elif layout == "zip":
        sample.write_zip(os.path.join(root, f"{name}.zip"), files)
    elif layout in ("tar", "tar.gz"):
        sample.write_tar(os.path.join(root, f"{name}.{layout}"), files, compress=layout == "tar.gz")
    else:
        raise ValueError(layout)


def write_encrypted_zip(path, members):
    """A password-protected zip of `{name: bytes}`: made by `zip -P` where it is installed, else a
    zip whose entries carry the encrypted flag, which is what zipfile (and the loader) go by."""
    if shutil.which("zip"):
        staging = tempfile.mkdtemp()
        for name, data in members.items():
            os.makedirs(os.path.dirname(os.path.join(staging, name)), exist_ok=True)
            with open(os.path.join(staging, name), "wb") as f:
                f.write(data)
        subprocess.run(
            ["zip", "-q", "-r", "-P", "a password", os.path.abspath(path), *members], cwd=staging, check=True
        )
        shutil.rmtree(staging)
        return
    sample.write_zip(path, members)
    with zipfile.ZipFile(path) as archive:
        infos, central = archive.infolist(), archive.start_dir
    data = bytearray(open(path, "rb").read())
    for info in infos:
        data[info.header_offset + 6] |= 1  # the local header's flag bits
        data[central + 8] |= 1  # the central directory's
        central += 46 + len(info.filename.encode()) + len(info.extra) + len(info.comment)
    with open(path, "wb") as f:
        f.write(data)


def sample_media(image_name=lambda i: f"{i}.jpg", clip_name=lambda c: f"{c}.wav"):
    """The sample's media as `{relative path: bytes}` per modality, with chosen file names."""
    images = {image_name(i): sample.jpeg_bytes(i) for i in sample.all_image_ids() + [sample.NAPS_UNANNOTATED_ID]}
    clips = {clip_name(c): sample.wav_bytes(c) for c in sample.CLIP_IDS}
    return images, clips


@pytest.fixture
def downloads(tmp_path):
    """A copy of the sample, free to be broken."""
    return shutil.copytree(SAMPLE, tmp_path / "downloads")


@pytest.fixture
def prepared_splits(monkeypatch):
    """The splits datasets began to write (`ArrowBasedBuilder._prepare_split`), as prepared loads in
    this process go: empty when an error came before anything was generated."""
    splits, original = [], datasets.ArrowBasedBuilder._prepare_split

    def spy(builder, split_generator, *args, **kwargs):
        splits.append(split_generator.name)
        return original(builder, split_generator, *args, **kwargs)

    monkeypatch.setattr(datasets.ArrowBasedBuilder, "_prepare_split", spy)
    return splits


def consume(dataset_dict):
    """Every example of every split, as a user iterating over the result would get them."""
    return {split: list(ds) for split, ds in dataset_dict.items()}


def chain(error):
    """The messages of an error and its causes: prepared errors arrive wrapped by datasets."""
    messages = []
    while error is not None:
        messages.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(messages)


@pytest.fixture
def annotated(tmp_path):
    """A data_dir holding the sample's five annotation files and no media yet."""
    data_dir = tmp_path / "downloads"
    sample.write_annotations(str(data_dir), *sample.sample_annotations())
    return data_dir


SAMPLE_COUNTS = {
    "image": {"train": 16},
    "music": {"train": 8},
    "paired": {"train": 16, "validation": 8, "test": 10},
}


@pytest.fixture
def network(monkeypatch):
    """The published annotation files that can be downloaded ({URL: local copy}); none at first (offline)."""
    served = {}
    for manager in (datasets.DownloadManager, datasets.StreamingDownloadManager):

        def download(self, url, original=manager.download):
            return str(served[url]) if isinstance(url, str) and url in served else original(self, url)

        monkeypatch.setattr(manager, "download", download)
    return served
