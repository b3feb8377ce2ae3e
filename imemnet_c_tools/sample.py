"""The synthetic IMEMNet-C sample: invented ids in the real id patterns, synthetic pictures and
tones, invented captions and VA, laid out like the real downloads.

    python -m imemnet_c_tools.sample data/sample

writes the committed sample (deterministic: the same bytes on every run). Tests build their own
fixtures from the same pieces, and the benchmarks their data at every size: `jpeg_bytes` and
`wav_bytes` (of any size), `write_annotations`, and `write_media` (a folder or an archive).
"""

import argparse
import csv
import gzip
import io
import math
import os
import random
import tarfile
import wave
import zipfile

import numpy
from PIL import Image

from imemnet_c_tools import shipped

SAMPLE = shipped(os.path.join("data", "sample"))  # the committed sample, in a clone or installed

# Invented ids, one group per real source and layout (see ../shared/docs/data-facts.md).
IAPS_IDS = ["1001", "1002", "2040", "5301", "7500"]
NAPS_IDS = ["Animals_901_h", "Faces_902_v", "Landscapes_903_h", "Objects_904_v"]
NAPS_UNANNOTATED_ID = "People_905_h"  # in the NAPS download and the matching files, not in image_va.csv
EMOTIC_IDS = {
    "mscoco": ["COCO_train2014_000000900001", "COCO_val2014_000000900002"],
    "framesdb": ["frame_q3v7kx9m2a8wz4bn"],
    "ade20k": ["sun_akqzvmfjxwnbhdpr", "labelme_bcwxtgrhqkzmnvfa"],
    "emodb_small": ["k4w9z2m7x1q8b5n3c6"],
}
REPEATED_IAPS_ID = "2040"  # two rows with different VA, like the real IAPS variants
CLIP_IDS = ["3001-9", "3001-10", "3002-12", "3003-9", "3004-21", "3005-15", "3101-140", "3102-7"]
CAPTIONS = [
    "A calm piano piece, slow and warm, with soft strings.",
    'An upbeat pop track; the singer shouts "hey!" over bright, driving drums.',
    "A melancholic cello line over sparse piano,\nfading out slowly.",
    "Energetic rock with distorted guitars, fast tempo, and a loud, crashing finale.",
    "Ambient synth pads drift gently — dreamy, spacious, café-like.",
    "A playful jazz tune with walking bass, brushed drums, and a muted trumpet.",
    "Dark orchestral tension: low brass, tremolo strings, and timpani rolls.",
    "A cheerful folk song with acoustic guitar, handclaps, and whistling.",
]


def all_image_ids():
    return IAPS_IDS + NAPS_IDS + [i for ids in EMOTIC_IDS.values() for i in ids]


def jpeg_bytes(seed, size=(48, 32), quality=75, grain=0):
    """A synthetic picture: a colour gradient that differs per seed; `grain` (the noise's standard
    deviation, 0 to 255) makes it as hard to compress as a photograph."""
    return picture_bytes(seed, "JPEG", size, grain, quality=quality)


def picture_bytes(seed, picture_format, size=(48, 32), grain=0, **options):
    """The synthetic picture of `jpeg_bytes` in any format Pillow writes."""
    rng = random.Random(seed)
    top, bottom = (numpy.array([rng.randrange(256) for _ in range(3)]) for _ in range(2))
    rows = top + (bottom - top) * numpy.arange(size[1])[:, None] // (size[1] - 1)
    pixels = numpy.broadcast_to(rows[:, None, :], (size[1], size[0], 3))
    if grain:
        pixels = pixels + numpy.random.default_rng(rng.getrandbits(64)).normal(0, grain, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(numpy.clip(pixels, 0, 255).astype(numpy.uint8)).save(buffer, format=picture_format, **options)
    return buffer.getvalue()


def wav_bytes(seed, seconds=0.25, rate=16000, channels=1, noise=0):
    """A synthetic 16-bit tone, its pitch set by the seed; `noise` (a standard deviation, in
    samples) makes it as hard to compress as recorded music."""
    rng = random.Random(seed)
    frequency = 220 * 2 ** (rng.randrange(24) / 12)
    tone = 12000 * numpy.sin(2 * math.pi * frequency * numpy.arange(int(seconds * rate)) / rate)
    samples = numpy.repeat(tone[:, None], channels, axis=1)
    if noise:
        samples = samples + numpy.random.default_rng(rng.getrandbits(64)).normal(0, noise, samples.shape)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(numpy.clip(samples, -32768, 32767).astype("<i2").tobytes())
    return buffer.getvalue()


# The published CSV headers: an unnamed index column, the id, then valence, arousal (and caption).
HEADERS = {
    "image_va.csv": ["", "img", "valence", "arousal"],
    "music_va.csv": ["", "clip", "valence", "arousal", "caption"],
}


def write_annotations(out, images=None, clips=None, pairs=None):
    """Writes image_va.csv (rows `(id, valence, arousal)`), music_va.csv (rows `(id, valence,
    arousal, caption)`) and `<split>_matching.txt` (pairs `{split: [(clip, image, score)]}`) in the
    published formats: an unnamed index column first, no header in the matching files."""
    os.makedirs(out, exist_ok=True)
    for name, rows in {"image_va.csv": images, "music_va.csv": clips}.items():
        if rows is not None:
            with open(os.path.join(out, name), "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(HEADERS[name])
                writer.writerows([index, *row] for index, row in enumerate(rows))
    for split, lines in (pairs or {}).items():
        with open(os.path.join(out, f"{split}_matching.txt"), "w", encoding="utf-8") as f:
            f.writelines(f"{clip} {image} {score}\n" for clip, image, score in lines)


def write_media(path, members, compression=zipfile.ZIP_DEFLATED):
    """`{name: bytes}` (or `(name, bytes)` pairs, which may be a generator) into a zip, a tar or a
    tar.gz, by the path's ending, else into the folder `path`."""
    if path.endswith(".zip"):
        return write_zip(path, members, compression)
    if path.endswith((".tar", ".tar.gz")):
        return write_tar(path, members, compress=path.endswith(".gz"))
    for name, data in _pairs(members):
        os.makedirs(os.path.dirname(os.path.join(path, name)), exist_ok=True)
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def write_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    """A zip of `{name: bytes}` (or `(name, bytes)` pairs) with fixed timestamps, so that it is the
    same on every run."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in _pairs(members):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)


def write_tar(path, members, compress=False):
    """A tar (tar.gz when `compress`) of `{name: bytes}` (or `(name, bytes)` pairs) with fixed metadata."""
    with open(path, "wb") as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if compress else raw
        with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for name, data in _pairs(members):
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                archive.addfile(info, io.BytesIO(data))
        if compress:
            stream.close()


def _pairs(members):
    return members.items() if isinstance(members, dict) else members


def sample_annotations(seed=0):
    """Invented VA, captions and pairs over the sample ids."""
    rng = random.Random(seed)

    def va():
        return round(rng.random(), 6), round(rng.random(), 6)

    images = [(image_id, *va()) for image_id in all_image_ids()]
    images.insert(3, (REPEATED_IAPS_ID, *va()))
    clips = [(clip_id, *va(), caption) for clip_id, caption in zip(CLIP_IDS, CAPTIONS, strict=True)]
    paired_images = all_image_ids() + [NAPS_UNANNOTATED_ID]

    def pairs(count):
        lines = [
            (rng.choice(CLIP_IDS), rng.choice(paired_images), round(rng.uniform(0.05, 1.0), 6)) for _ in range(count)
        ]
        return lines + [lines[0]]  # the real files repeat a few lines

    split_pairs = {"train": pairs(15), "val": pairs(6), "test": pairs(8)}
    split_pairs["test"].append((CLIP_IDS[0], NAPS_UNANNOTATED_ID, 0.5))
    split_pairs["val"].append((CLIP_IDS[1], REPEATED_IAPS_ID, 0.75))
    return images, clips, split_pairs


def write_sample(out, seed=0):
    """The sample in the real layouts: an EMOTIC-style zip (with macOS junk), an IAPS-style folder
    with `.JPG` files, a NAPS-style tar.gz, a tar of `.wav` clips, and the five annotation files."""
    images, clips, pairs = sample_annotations(seed)
    write_annotations(out, images, clips, pairs)
    media = {image_id: jpeg_bytes(image_id) for image_id in all_image_ids() + [NAPS_UNANNOTATED_ID]}

    emotic = {f"emotic/{subset}/images/{i}.jpg": media[i] for subset, ids in EMOTIC_IDS.items() for i in ids}
    first = f"emotic/mscoco/images/{EMOTIC_IDS['mscoco'][0]}.jpg"
    emotic[f"__MACOSX/{os.path.dirname(first)}/._{os.path.basename(first)}"] = b"\x00\x05\x16\x07 AppleDouble junk"
    write_media(os.path.join(out, "emotic.zip"), emotic)

    iaps = {f"{image_id}.JPG": media[image_id] for image_id in IAPS_IDS}
    iaps[f"{REPEATED_IAPS_ID}.1.JPG"] = jpeg_bytes("variant")  # an IAPS variant no row names
    write_media(os.path.join(out, "IAPS 1-20 Images"), iaps)

    naps = {f"NAPS_BE/{i}.jpg": media[i] for i in NAPS_IDS + [NAPS_UNANNOTATED_ID]}
    write_media(os.path.join(out, "NAPS_BE.tar.gz"), naps)

    write_media(os.path.join(out, "IMEMNet_clips.tar"), {f"clips/{c}.wav": wav_bytes(c) for c in CLIP_IDS})
    return images, clips, pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder to write the sample into (created if absent)")
    write_sample(parser.parse_args().out)


if __name__ == "__main__":
    main()
