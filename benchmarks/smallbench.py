"""Many small files (`python -m benchmarks.bench`, `make bench`): the loader against what a researcher
would use instead, on `realdata.small_files` (an EMOTIC-style zip of JPEGs, a tar of WAV clips, and
both as extracted folders): the raw-read floor (zipfile/tarfile, plain reads), `imagefolder` and
`audiofolder` with a metadata.csv, on the folders and after extracting the archives with `unzip` and
`tar`, and this loader prepared and streaming, each in a fresh process with a fresh cache, at each size."""

import os
import shutil
import subprocess
import tarfile
import time
import zipfile

import imemnet_c
from benchmarks import harness, realdata
from benchmarks.report import folder_size, measured, ran, table, targets

TITLE, MODE, RERUN = "Many small files", "small", "make bench"
ONLY = "small files: these measurements only, printed, nothing kept"
DECODED_CAP = 3000  # streaming with decoding: the first examples only
ARCHIVES = {"images": "images.zip", "clips": "clips.tar"}
BUILDERS = {"images": "imagefolder", "clips": "audiofolder"}


# What runs in the measured process: each returns the examples it handled.


def _archive(data, modality):
    path = os.path.join(data, "archives", ARCHIVES[modality])
    return zipfile.ZipFile(path) if modality == "images" else tarfile.open(path, "r|")


def floor_archive(data, modality, _cache):
    with _archive(data, modality) as archive:
        if modality == "images":
            return {"examples": sum(bool(archive.read(info)) for info in archive.infolist())}
        return {"examples": sum(bool(archive.extractfile(info).read()) for info in archive)}


def floor_written(data, modality, cache):
    """Extraction's floor: each member of the archive read, as `floor_archive` does, and written to a
    new file of its own under the cache (no checks, no listing kept)."""
    folder = os.path.join(cache, "written")
    os.makedirs(folder)
    with _archive(data, modality) as archive:
        members = archive.infolist() if modality == "images" else archive
        read = archive.read if modality == "images" else lambda info: archive.extractfile(info).read()
        for number, info in enumerate(members):
            with open(os.path.join(folder, str(number)), "wb") as f:
                f.write(read(info))
    return {"examples": len(os.listdir(folder))}


def peer_extracted_folder(data, archive, modality, inside, linked, cache):
    """The route without this loader, one measurement: `data/archive` extracted by its command-line
    tool into a fresh folder, then imagefolder or audiofolder over that folder with the metadata.csv
    of `realdata.folder_metadata` (`inside/<id>`, from the annotations beside the archive). The
    metadata, and the files of the folder `data/linked` (hard links), are in place before the clock."""
    folder = os.path.join(cache, "extracted")
    if linked:
        shutil.copytree(os.path.join(data, linked), folder, copy_function=os.link)
    archive = os.path.join(data, archive)
    realdata.folder_metadata(folder, modality, inside, os.path.dirname(archive))
    extract = ["unzip", "-q"] if archive.endswith(".zip") else ["tar", "-xzf" if archive.endswith(".gz") else "-xf"]
    start = time.time()
    subprocess.run([*extract, archive], cwd=folder, check=True)
    return {"start": start, **_folder_builder(folder, modality, cache)}


def floor_folder(data, modality, _cache):
    count = 0
    for folder, _, files in os.walk(os.path.join(data, "folders", modality, "files")):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                count += bool(f.read())
    return {"examples": count}


def folder_builder(data, modality, cache):
    return _folder_builder(os.path.join(data, "folders", modality), modality, cache)


def _folder_builder(folder, modality, cache):
    import datasets

    # data_files "**": the pictures' names hold "train2014", from which datasets would infer a train
    # split of the pictures alone, leaving metadata.csv out
    builder = BUILDERS[modality]
    dataset = datasets.load_dataset(builder, data_dir=folder, data_files="**", split="train", cache_dir=cache)
    return _prepared(dataset, cache)


def ours_prepared(data, config, layout, num_proc, cache):
    dataset = imemnet_c.load(config, os.path.join(data, layout), cache_dir=cache, num_proc=num_proc)["train"]
    return _prepared(dataset, cache)


def ours_streaming(data, config, decode, batch_size, cache):
    dataset = imemnet_c.load(config, os.path.join(data, "archives"), split="train", streaming=True, cache_dir=cache)
    dataset = dataset.decode(decode)
    if batch_size:
        return {"examples": sum(len(batch[next(iter(batch))]) for batch in dataset.iter(batch_size=batch_size))}
    count = 0
    for example in dataset:
        count += 1
        if decode:
            for value in example.values():
                if hasattr(value, "load"):
                    value.load()
                elif hasattr(value, "__getitem__") and not isinstance(value, str):
                    value["array"]
            if count == DECODED_CAP:
                break
    return {"examples": count}


def _prepared(dataset, cache):
    """A prepared dataset's examples, its Arrow files' size and the loader's extracted archives' (timed
    to before the sizes)."""
    end, arrow = time.time(), sum(os.path.getsize(f["filename"]) for f in dataset.cache_files)
    extracted = folder_size(os.path.join(cache, imemnet_c.ARCHIVE_CACHE))
    return {"end": end, "examples": dataset.num_rows, "arrow_mb": arrow / 1e6, "extracted_mb": extracted / 1e6}


PEER_UNZIP, PEER_TAR = "peer: unzip images.zip + imagefolder", "peer: tar -xf clips.tar + audiofolder"
STREAMED = [("not decoded", False, None), ("not decoded, batches of 256", False, 256)]
STREAMED += [("decoded (first 3,000 examples)", True, None)]
MEASUREMENTS = {  # name: (function, its arguments between the data folder and the cache)
    "floor: read images.zip": ("floor_archive", ["images"]),
    "floor: read clips.tar": ("floor_archive", ["clips"]),
    "floor: read image folder": ("floor_folder", ["images"]),
    "floor: read clip folder": ("floor_folder", ["clips"]),
    "floor: read images.zip, each member written to a file": ("floor_written", ["images"]),
    "floor: read clips.tar, each member written to a file": ("floor_written", ["clips"]),
    PEER_UNZIP: ("peer_extracted_folder", ["archives/images.zip", "images", realdata.EMOTIC_INSIDE, None]),
    PEER_TAR: ("peer_extracted_folder", ["archives/clips.tar", "clips", "clips", None]),
    "imagefolder + metadata.csv": ("folder_builder", ["images"]),
    "audiofolder + metadata.csv": ("folder_builder", ["clips"]),
    "image prepared from zip": ("ours_prepared", ["image", "archives", None]),
    "image prepared from folder": ("ours_prepared", ["image", "folders", None]),
    "music prepared from tar": ("ours_prepared", ["music", "archives", None]),
    "music prepared from folder": ("ours_prepared", ["music", "folders", None]),
    "music prepared from folder, num_proc=2": ("ours_prepared", ["music", "folders", 2]),
    "music prepared from tar, num_proc=2": ("ours_prepared", ["music", "archives", 2]),
    "paired prepared (5 pairs per clip)": ("ours_prepared", ["paired", "archives", None]),
    **{
        f"{config} streamed, {how}": ("ours_streaming", [config, decode, batch])
        for how, decode, batch in STREAMED
        for config in ("image", "music", "paired")
    },
}
PAIRED = "paired prepared (5 pairs per clip)"
# fmt: off
TARGETS = [  # (target, wanted, measurement, peer, "time": the measurement's seconds over the peer's, or "rate": its examples/s over the peer's)
    ("prepared `image` vs `imagefolder` (same folder)", "≤ 1.0", "image prepared from folder", "imagefolder + metadata.csv", "time"),
    ("prepared `music` vs `audiofolder` (same folder)", "≤ 1.0", "music prepared from folder", "audiofolder + metadata.csv", "time"),
    ("prepared `image` from folder vs reading the folder", "≤ 2.0", "image prepared from folder", "floor: read image folder", "time"),
    ("prepared `music` from folder vs reading the folder", "≤ 2.0", "music prepared from folder", "floor: read clip folder", "time"),
    ("prepared `image` from zip vs reading the zip", "≤ 2.0", "image prepared from zip", "floor: read images.zip", "time"),
    ("prepared `music` from tar vs reading the tar", "≤ 2.0", "music prepared from tar", "floor: read clips.tar", "time"),
    ("prepared `image` from zip vs `unzip` + `imagefolder`", "≤ 0.8", "image prepared from zip", PEER_UNZIP, "time"),
    ("prepared `music` from tar vs `tar -x` + `audiofolder`", "≤ 0.8", "music prepared from tar", PEER_TAR, "time"),
    ("prepared `paired` from tar vs `tar -x` + `audiofolder` of its clips", "≤ 0.8", PAIRED, PEER_TAR, "time"),
    ("`image` streamed one by one, not decoded, vs reading the zip", "≤ 1.5", "image streamed, not decoded", "floor: read images.zip", "time"),
    ("`music` streamed one by one, not decoded, vs reading the tar", "≤ 1.5", "music streamed, not decoded", "floor: read clips.tar", "time"),
    ("`image` streamed in batches, not decoded, vs reading the zip", "≤ 1.5", "image streamed, not decoded, batches of 256", "floor: read images.zip", "time"),
    ("`music` streamed in batches, not decoded, vs reading the tar", "≤ 1.5", "music streamed, not decoded, batches of 256", "floor: read clips.tar", "time"),
    ("`num_proc=2` speed-up, `music` prepared from folder", "≥ 1.4", "music prepared from folder", "music prepared from folder, num_proc=2", "time"),
    ("`num_proc=2` speed-up, `music` prepared from tar", "≥ 1.4", "music prepared from tar", "music prepared from tar, num_proc=2", "time"),
    ("`paired` vs `music` streamed, examples/s, not decoded", "≥ 0.5", "paired streamed, not decoded", "music streamed, not decoded", "rate"),
    ("`paired` vs `music` streamed, examples/s, decoded", "≥ 0.5", "paired streamed, decoded (first 3,000 examples)", "music streamed, decoded (first 3,000 examples)", "rate"),
]
# fmt: on


def _ours(name):
    return not name.startswith(("floor", "peer", "imagefolder", "audiofolder"))


def run(args):
    """{size: {measurement: medians}}, each measurement `runs` times in a fresh process with a fresh cache."""
    results = {}
    for size in args.sizes:
        print(f"== {size} examples per modality: making data", flush=True)
        data = realdata.small_files(os.path.join(args.work, f"data-{size}"), size)
        for name in args.only or MEASUREMENTS:
            function, arguments = MEASUREMENTS[name]
            step = (__name__, function, [data, *arguments])
            trials = [run[0] for run in harness.trials([step], args.work, args.runs, progress=False)]
            summary = harness.medians(trials, ("seconds", "rss_mb", "extracted_mb", "arrow_mb"))
            results.setdefault(str(size), {})[name] = {**summary, "examples": trials[0]["examples"]}
            print(f"{size:>6} {name:<48} {summary['seconds']:8.2f} s {summary['rss_mb']:7.0f} MB", flush=True)
    return {"sizes": results}


def target_rows(by_size):
    """(target, wanted, its value at each size)."""

    def ratio(r, name, peer, kind):
        if kind == "time":
            return r[name]["seconds"] / r[peer]["seconds"]
        return (r[name]["examples"] / r[name]["seconds"]) / (r[peer]["examples"] / r[peer]["seconds"])

    sizes = list(by_size.values())
    ours_rss = [max(m["rss_mb"] for n, m in r.items() if _ours(n)) for r in sizes]
    return [
        (what, wanted, [measured(lambda r, compared=compared: ratio(r, *compared), r) for r in sizes])
        for what, wanted, *compared in TARGETS
    ] + [
        ("peak RSS, largest of all measurements (MB)", "≤ 1000", [max(m["rss_mb"] for m in r.values()) for r in sizes]),
        ("peak RSS of the loader's measurements vs the smallest size", "≤ 1.2", [x / ours_rss[0] for x in ours_rss]),
        (
            "`paired` prepared Arrow cache, bytes per pair",
            "< 1024",
            [r[PAIRED]["arrow_mb"] * 1e6 / r[PAIRED]["examples"] for r in sizes],
        ),
    ]


def section(found):
    lines = []
    for version, results in sorted(found.get("small", {}).items()):
        by_size = results["sizes"]
        sizes, largest = [f"{int(s):,}" for s in by_size], list(by_size.values())[-1]
        figures = [
            [f"{r[name][key]:.{digits}f}" for key, digits in (("seconds", 2), ("rss_mb", 0)) for r in by_size.values()]
            for name in largest
        ]
        lines += [
            f"### datasets {version}",
            "",
            ran({version: results}),
            "Synthetic media in the real layouts: 128x128 noise JPEGs of about 12 KB in a zip (stored), 3-second "
            "16-bit WAV clips (96 KB) in a tar, the same files as extracted folders; 5 pairs per clip. "
            "A *peer* is the route without this loader, timed whole: the archive extracted by its command-line "
            "tool into a fresh folder, then `imagefolder` or `audiofolder` with the same metadata.csv as on the "
            "folders (written before the clock); `paired` is compared with the clips' peer. "
            "Peak RSS is the process tree's.",
            "",
            *table(
                ["measurement", *(f"{s}: s" for s in sizes), *(f"{s}: MB" for s in sizes)],
                [[name, *row] for name, row in zip(largest, figures, strict=True)],
            ),
        ]
        if set(largest) == set(MEASUREMENTS):
            lines += ["Targets (ratios at each size):", "", *targets(sizes, target_rows(by_size))]
        lines += [
            f"Cache on disk at {sizes[-1]} (MB; rows with none left out), and `paired`'s size: "
            f"{largest[PAIRED]['examples']:,} pairs.",
            "",
            *table(
                ["measurement", "Arrow cache", "extracted archives"],
                [
                    [n, f"{m['arrow_mb']:.1f}", f"{m['extracted_mb']:.1f}"]
                    for n, m in largest.items()
                    if _ours(n) and m["arrow_mb"] + m["extracted_mb"] > 0
                ],
            ),
        ]
    return lines
