"""Realistic-size synthetic downloads for the benchmark: what a researcher's data_dir looks like.

    python -m benchmarks.realdata /tmp/imemnet-c-real [--clips 800] [--pictures 1000]

writes two data_dirs that share their pictures (hard links) and differ in how the clips arrived:
- `targz/`: the clips in one `IMEMNet_clips.tar.gz`;
- `zip/`: the same clips in one `IMEMNet_clips.zip` (deflated, as archivers make them).
Both hold the annotation files, half the pictures in `emotic.zip` and half as a folder
(`emotic_extracted/`), 10 s 44.1 kHz stereo 16-bit WAV clips (1.76 MB each, compressing to about
90 % like recorded music) and 640x480 JPEGs (about 150 KB, like EMOTIC's photographs), and about five
pairs per clip and per picture.
"""

import argparse
import gzip
import io
import os
import random
import shutil
import tarfile
import wave
import zipfile

import numpy
from PIL import Image

from benchmarks.ids import clip_ids, picture_ids
from imemnet_c_tools import sample

SECONDS, RATE = 10, 44100
PAIRS_PER_PICTURE = 5


def wav_clip(seed):
    """10 s of stereo 16-bit audio: a few tones plus noise, which gzip squeezes about as little as music."""
    rng = numpy.random.default_rng(seed)
    t = numpy.arange(SECONDS * RATE) / RATE
    tones = sum(
        numpy.sin(2 * numpy.pi * f * t + p) for f, p in zip(rng.uniform(80, 2000, 4), rng.uniform(0, 6, 4), strict=True)
    )
    left, right = (tones * 3000 + rng.normal(0, 900, t.size) for _ in range(2))
    frames = numpy.clip(numpy.stack([left, right], axis=1), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames.tobytes())
    return buffer.getvalue()


def jpeg_picture(seed):
    """A 640x480 photograph-like JPEG: smooth shapes with grain, about 150 KB."""
    rng = numpy.random.default_rng(seed)
    y, x = numpy.mgrid[0:480, 0:640]
    channels = [
        127 + 60 * numpy.sin(x / rng.uniform(20, 90) + rng.uniform(0, 6)) * numpy.cos(y / rng.uniform(20, 90))
        for _ in range(3)
    ]
    pixels = numpy.stack(channels, axis=2) + rng.normal(0, 14, (480, 640, 3))
    buffer = io.BytesIO()
    Image.fromarray(numpy.clip(pixels, 0, 255).astype("uint8")).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write(root, clips=800, pictures=1000, seed=0):
    """Both data_dirs under root (skipped when a complete copy of the same size is there)."""
    stamp = os.path.join(root, f"done-{clips}-{pictures}")
    if os.path.exists(stamp):
        return
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(seed)
    clip_names, picture_names = clip_ids(clips), picture_ids(pictures)
    va = {i: (round(rng.random(), 6), round(rng.random(), 6)) for i in clip_names + picture_names}
    pairs = [
        (clip_names[n % clips], picture, round(rng.random(), 6))
        for n, picture in enumerate(picture_names * PAIRS_PER_PICTURE)
    ]
    rng.shuffle(pairs)
    held_out = min(200, len(pairs) // 4)  # pairs in each of val and test
    targz, zipped = os.path.join(root, "targz"), os.path.join(root, "zip")
    sample.write_annotations(
        targz,
        images=[(i, *va[i]) for i in picture_names],
        clips=[(c, *va[c], f"Synthetic clip {n}: calm strings, slow and warm.") for n, c in enumerate(clip_names)],
        pairs={"train": pairs, "val": pairs[:held_out], "test": pairs[held_out : 2 * held_out]},
    )
    folder = os.path.join(targz, "emotic_extracted", "emotic", "mscoco", "images")
    os.makedirs(folder)
    with zipfile.ZipFile(os.path.join(targz, "emotic.zip"), "w", zipfile.ZIP_DEFLATED) as archive:
        for n, picture in enumerate(picture_names):
            if n % 2:
                with open(os.path.join(folder, f"{picture}.jpg"), "wb") as f:
                    f.write(jpeg_picture(n))
            else:
                archive.writestr(f"emotic/mscoco/images/{picture}.jpg", jpeg_picture(n))
    with (
        gzip.open(os.path.join(targz, "IMEMNet_clips.tar.gz"), "wb", compresslevel=6) as compressed,
        tarfile.open(fileobj=compressed, mode="w") as tar,
        zipfile.ZipFile(os.path.join(root, "IMEMNet_clips.zip"), "w", zipfile.ZIP_DEFLATED) as zip_archive,
    ):
        for n, clip in enumerate(clip_names):
            data = wav_clip(n)
            info = tarfile.TarInfo(f"IMEMNet/clips/{clip}.wav")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            zip_archive.writestr(f"IMEMNet/clips/{clip}.wav", data)
    shutil.copytree(targz, zipped, copy_function=os.link, ignore=shutil.ignore_patterns("*.tar.gz"))
    os.replace(os.path.join(root, "IMEMNet_clips.zip"), os.path.join(zipped, "IMEMNet_clips.zip"))
    open(stamp, "w").close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root")
    parser.add_argument("--clips", type=int, default=800)
    parser.add_argument("--pictures", type=int, default=1000)
    args = parser.parse_args()
    write(args.root, args.clips, args.pictures)


if __name__ == "__main__":
    main()
