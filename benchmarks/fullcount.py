"""Training pairs at IMEMNet's full counts (issue 14): planning and undecoded iteration of
`imemnet_c_tools.pairs.va_pairs`, on a data_dir with the real counts and tiny media in the real layouts.

    python -m benchmarks.bench --pairs [--runs 3] [--work /tmp/imemnet-c-pairs]   (with the cache measurement)

The data_dir: the real `image_va.csv`, `val_matching.txt` and `test_matching.txt`, read from
`--reference` (never copied into the project); a `music_va.csv` of 25,944 clips, each song with
segments 9 to 21 and every clip the matching files name; a `train_matching.txt` of 105,000 pairs
over the items the held-out files do not name; 8x8 JPEGs for every image id (IAPS as a loose
folder, NAPS in a zip, EMOTIC in a zip by subset) and 0.01 s WAV clips in one tar.gz.
"""

import csv
import io
import os
import random
import resource
import tarfile
import time
import wave
import zipfile

import numpy
from PIL import Image

import imemnet_c

CLIPS, TRAIN_PAIRS = 25944, 105000
REFERENCE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "reference"
)


def _matching(path):
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f if line.strip()]


def write(root, reference=REFERENCE, seed=0):
    """The full-count data_dir under root (skipped when complete)."""
    stamp = os.path.join(root, "done")
    if os.path.exists(stamp):
        return
    os.makedirs(root, exist_ok=True)
    reference = os.path.abspath(reference)  # the links below are made to it
    rng = random.Random(seed)
    with open(os.path.join(reference, "image_va.csv"), encoding="utf-8") as f:
        image_ids = list(dict.fromkeys(row["img"] for row in csv.DictReader(f)))
    held = {name: _matching(os.path.join(reference, f"{name}_matching.txt")) for name in ("val", "test")}
    for name in held:  # the real files, linked (read from the reference folder, not copied into the project)
        target = os.path.join(root, f"{name}_matching.txt")
        if not os.path.exists(target):
            os.symlink(os.path.join(reference, f"{name}_matching.txt"), target)
    target = os.path.join(root, "image_va.csv")
    if not os.path.exists(target):
        os.symlink(os.path.join(reference, "image_va.csv"), target)

    named_clips = {clip for lines in held.values() for clip, _, _ in lines}
    songs = {}
    for clip in named_clips:
        song, segment = clip.rsplit("-", 1)
        songs.setdefault(int(song), set()).add(int(segment))
    clips = []
    for song in sorted(songs):
        clips += [f"{song}-{s}" for s in sorted(songs[song] | set(range(9, 22)))]
    song = 1
    while len(clips) < CLIPS:
        if song not in songs:
            clips += [f"{song}-{s}" for s in range(9, 22)][: CLIPS - len(clips)]
        song += 1
    with open(os.path.join(root, "music_va.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["", "clip", "valence", "arousal", "caption"])
        for n, clip in enumerate(clips):
            writer.writerow([n, clip, round(rng.random(), 6), round(rng.random(), 6), f"Clip {n}: calm strings, slow."])

    held_songs = set(songs)
    named_images = {image for lines in held.values() for _, image, _ in lines}
    train_clips = [c for c in clips if int(imemnet_c.song_of(c)) not in held_songs]
    train_images = [i for i in image_ids if i not in named_images]
    with open(os.path.join(root, "train_matching.txt"), "w", encoding="utf-8") as f:
        for _ in range(TRAIN_PAIRS):
            f.write(f"{rng.choice(train_clips)} {rng.choice(train_images)} {round(rng.uniform(0.01, 1), 6)}\n")

    write_media(root, image_ids, clips)
    open(stamp, "w").close()


def write_media(root, image_ids, clip_ids):
    """Tiny media for the ids in the real layouts: 8x8 JPEGs (IAPS as a loose folder, NAPS in a zip,
    EMOTIC in a zip by subset) and 0.01 s WAV clips in one tar.gz."""
    buffer = io.BytesIO()
    Image.fromarray(numpy.full((8, 8, 3), 128, numpy.uint8)).save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    iaps = os.path.join(root, "IAPS 1-20 Images")
    os.makedirs(iaps, exist_ok=True)
    with (
        zipfile.ZipFile(os.path.join(root, "NAPS_BE.zip"), "w") as naps,
        zipfile.ZipFile(os.path.join(root, "emotic.zip"), "w") as emotic,
    ):
        for image_id in image_ids:
            source = imemnet_c.image_source(image_id, emotic_part=True)
            if source == "iaps":
                with open(os.path.join(iaps, f"{image_id}.jpg"), "wb") as f:
                    f.write(jpeg)
            elif source == "naps":
                naps.writestr(f"NAPS_BE/{image_id}.jpg", jpeg)
            else:
                emotic.writestr(f"{source}/images/{image_id}.jpg", jpeg)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(numpy.zeros((441, 2), "<i2").tobytes())
    wav = buffer.getvalue()
    with tarfile.open(os.path.join(root, "IMEMNet_clips.tar.gz"), "w:gz") as tar:
        for clip in clip_ids:
            info = tarfile.TarInfo(f"IMEMNet/clips/{clip}.wav")
            info.size = len(wav)
            tar.addfile(info, io.BytesIO(wav))


# What runs in the measured process


def plan_epochs(data_dir, cache, balance, iterate):
    """In a fresh process: the first call of `va_pairs(data_dir, "train", seed=0, epoch=0)` and its
    first pair, then epoch 1 in the same process; with `iterate`, epoch 1's pairs one by one, undecoded."""
    from imemnet_c_tools.pairs import va_pairs

    result = {}
    for epoch in (0, 1):
        start = time.time()
        pairs = va_pairs(data_dir, "train", seed=0, epoch=epoch, balance=balance, cache_dir=cache)
        called = time.time()
        first = next(iter(pairs.decode(False)))
        result[f"epoch{epoch}_call_s"] = called - start
        result[f"epoch{epoch}_first_pair_s"] = time.time() - start
    assert first["image_id"] and first["clip_id"]
    if iterate:
        count, start = 0, time.time()
        for _ in pairs.decode(False):
            count += 1
        result["iterate_ms_per_pair"] = (time.time() - start) * 1000 / count
        result["pairs"] = count
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run(work, runs, reference=REFERENCE):
    """Per run: a cold process (fresh cache folder), then warm ones on the cache it left: default
    draw with iteration, then balance=2."""
    import shutil
    import uuid

    from benchmarks.pairbench import measure_in_fresh_process

    data = os.path.join(work, "fullcount")
    started = time.time()
    write(data, reference)
    print(f"full-count data in {data} ({time.time() - started:.0f} s)", flush=True)
    trials = []
    for _ in range(runs):
        cache = os.path.join(work, "cache-" + uuid.uuid4().hex)
        try:
            trial = {
                name: measure_in_fresh_process(
                    "benchmarks.fullcount", "plan_epochs", [data, cache, balance, iterate], work
                )
                for name, balance, iterate in (("cold", None, False), ("warm", None, True), ("balanced", 2, False))
            }
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        trials.append(trial)
        print(f"full-count run: {trial}", flush=True)
    return {"runs": runs, "trials": trials}
