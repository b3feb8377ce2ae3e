"""The MMVA-style pairs of `imemnet_c_tools.pairs` through a PyTorch DataLoader (2 workers), against
a hand-written torch Dataset that opens the same files with PIL and soundfile: decoded pairs per
second, and the memory of the main process and its workers over the epoch. Part of
`python -m benchmarks.bench --realistic`, which runs it in a fresh process per run.

Both decode a pair the same way: the picture to 224x224 RGB, the clip to one channel at its own
sampling rate, batched by 16. The page cache is warmed with every file first, so that neither
pays for the disk the other then finds cached.
"""

import os
import time

import numpy

SIDE, BATCH, WORKERS = 224, 16, 2


def picture_array(picture):
    return numpy.array(picture.convert("RGB").resize((SIDE, SIDE)), numpy.uint8)


def mono(samples):
    """(channels, samples) or (samples,) as one channel: datasets may already have mixed it down."""
    samples = numpy.asarray(samples, numpy.float32)
    return samples.mean(axis=0) if samples.ndim == 2 else samples


def decoded(pair):
    """This loader's path: datasets decodes the pair in the worker, then it becomes arrays."""
    return {"image": picture_array(pair["image"]), "audio": mono(pair["audio"]["array"]), "score": pair["score"]}


class HandWritten:
    """What a researcher writes by hand: a map-style Dataset over (picture, clip, score) files."""

    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        import PIL.Image
        import soundfile

        picture_path, clip_path, score = self.files[index]
        with PIL.Image.open(picture_path) as picture:
            image = picture_array(picture)
        samples, _ = soundfile.read(clip_path, dtype="float32", always_2d=True)
        return {"image": image, "audio": mono(samples.T), "score": score}


def pairs_throughput(data_dir, cache):
    """Runs in the measured process: one epoch of pairs through each DataLoader."""
    import torch

    from imemnet_c_tools.pairs import va_pairs

    start = time.time()
    pairs = va_pairs(data_dir, None, cache_dir=cache)  # prepared: extracts the media it uses, once
    planned = time.time()
    files = [(p["image"]["path"], p["audio"]["path"], p["score"]) for p in pairs.decode(False)]
    for path in {path for picture, clip, _ in files for path in (picture, clip)}:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    loaders = {
        "loader": pairs.map(decoded, remove_columns=["image_id", "clip_id", "caption"]).select_columns(
            ["image", "audio", "score"]
        ),
        "handwritten": HandWritten(files),
    }
    results = {"start": start, "first": planned, "end": planned, "examples": len(files), "plan_s": planned - start}
    for name, dataset in loaders.items():
        loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS)
        results[name] = _epoch(loader, len(files))
    return results


def _epoch(loader, total):
    """Pairs per second over one epoch, and the memory of this process and its workers at a tenth
    of the epoch and at its largest after that (MB)."""
    count, early, late = 0, None, 0.0
    start = time.time()
    for batch in loader:
        count += len(batch["score"])
        if early is None and count >= total / 10:
            early = _tree_rss_mb()
        elif early is not None:
            late = max(late, _tree_rss_mb())
    seconds = time.time() - start
    return {"pairs_per_s": count / seconds, "pairs": count, "rss_early_mb": early, "rss_late_mb": max(late, early)}


def _tree_rss_mb():
    """The resident memory of this process and its children (the DataLoader's workers)."""
    me, total = os.getpid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if int(pid) == me or parent == me:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024
