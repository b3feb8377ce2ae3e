"""The benchmarks' data_dirs: invented ids in the real id patterns, synthetic media in the real
layouts, all written by `imemnet_c_tools.sample` (`jpeg_bytes` and `wav_bytes` at the size each mode
asks for, `write_annotations`, `write_media`). Each data_dir is written once, then reused.

- `small_files(root, size)`: `size` 128x128 noise JPEGs (about 12 KB) in a stored zip and `size`
  3 s 16 kHz mono WAVs (96 KB) in a tar under `archives/`, the same files as folders with the
  metadata.csv of imagefolder and audiofolder (`folder_metadata`) under `folders/`; five pairs per clip.
- `realistic(root, clips, pictures)`: 10 s 44.1 kHz stereo WAVs (1.76 MB, compressing to about 97 %
  like recorded music) in one tar.gz (`targz/`) or one deflated zip (`zip/`), 640x480 JPEGs (about
  150 KB, like EMOTIC's photographs) half in a zip and half in a folder; five pairs per picture.
- `full_count(work, count, reference)`: IMEMNet-C's real counts (count 0) or `count` of each,
  tiny media (8x8 JPEGs: IAPS a folder, NAPS and EMOTIC zips; 0.01 s WAVs in one tar.gz).
"""

import csv
import os
import random
import shutil
import zipfile

import imemnet_c
from imemnet_c_tools import sample

PAIRS_PER_ITEM = 5
FULL_CLIPS, FULL_TRAIN_PAIRS = 25944, 105000
SEGMENTS = range(9, 22)  # a DEAM song's clips: segments 9 to 21
EMOTIC_INSIDE = "emotic/mscoco/images"


def picture_ids(count):
    """EMOTIC-style MS COCO picture ids."""
    return [f"COCO_train2014_{index:012d}" for index in range(count)]


def clip_ids(count):
    """`<song>-<segment>` clip ids, thirteen segments per song."""
    return [f"{1000 + index // 13}-{9 + index % 13}" for index in range(count)]


def media(names, make, distinct=None):
    """`(name, make(seed))` for each name: `distinct` seeds in turn, each made once, or a seed per name."""
    pool = [make(seed) for seed in range(distinct)] if distinct else None
    for n, name in enumerate(names):
        yield name, pool[n % distinct] if pool else make(n)


def _once(write):
    """`write(root, *arguments)` into an empty root, unless root holds a copy it completed (its stamp
    names the whole-number arguments); returns root."""

    def written(root, *arguments):
        stamp = os.path.join(root, "done" + "".join(f"-{a}" for a in arguments if isinstance(a, int)))
        if not os.path.exists(stamp):
            shutil.rmtree(root, ignore_errors=True)
            os.makedirs(root)
            write(root, *arguments)
            open(stamp, "w").close()
        return root

    return written


def _synthetic_annotations(folders, rng, images, clips, pairs, caption, held_out):
    """Into each of `folders`: random VA for `images` and `clips`, `caption` numbered, and
    `(clip, image)` pairs with random scores, shuffled: all of them train, the first `held_out` val too
    and the next `held_out` test."""
    va = {i: (round(rng.random(), 6), round(rng.random(), 6)) for i in images + clips}
    pairs = [(clip, image, round(rng.random(), 6)) for clip, image in pairs]
    rng.shuffle(pairs)
    for folder in folders:
        sample.write_annotations(
            folder,
            images=[(i, *va[i]) for i in images],
            clips=[(c, *va[c], caption.format(n)) for n, c in enumerate(clips)],
            pairs={"train": pairs, "val": pairs[:held_out], "test": pairs[held_out : 2 * held_out]},
        )


@_once
def small_files(root, size):
    images, clips = picture_ids(size), clip_ids(size)
    rng = random.Random(size)
    pairs = [(clip, rng.choice(images)) for clip in clips for _ in range(PAIRS_PER_ITEM)]
    folders = [os.path.join(root, layout) for layout in ("archives", "folders")]
    caption = "A synthetic clip number {}, calm and slow."
    _synthetic_annotations(folders, rng, images, clips, pairs, caption, min(100, len(pairs) // 4))
    pictures = media(images, lambda seed: sample.jpeg_bytes(seed, (128, 128), 80, grain=128), 64)
    tones = media(clips, lambda seed: sample.wav_bytes(seed, 3.0, 16000, noise=300), 32)
    for files, archive, inside, extension in (
        (list(pictures), "images.zip", EMOTIC_INSIDE, "jpg"),
        (list(tones), "clips.tar", "clips", "wav"),
    ):
        members = [(f"{inside}/{i}.{extension}", data) for i, data in files]
        sample.write_media(os.path.join(root, "archives", archive), members, zipfile.ZIP_STORED)
        modality = "images" if extension == "jpg" else "clips"
        folder = os.path.join(root, "folders", modality)
        sample.write_media(folder, [(f"files/{i}.{extension}", data) for i, data in files])
        folder_metadata(folder, modality, "files", os.path.dirname(folder))


@_once
def realistic(root, clips=800, pictures=1000):
    """`root/targz` and `root/zip`, which share their pictures (hard links)."""
    clip_names, picture_names = clip_ids(clips), picture_ids(pictures)
    pairs = [(clip_names[n % clips], picture) for n, picture in enumerate(picture_names * PAIRS_PER_ITEM)]
    targz, zipped = os.path.join(root, "targz"), os.path.join(root, "zip")
    caption = "Synthetic clip {}: calm strings, slow and warm."
    _synthetic_annotations(
        [targz], random.Random(0), picture_names, clip_names, pairs, caption, min(200, len(pairs) // 4)
    )
    photograph = lambda seed: sample.jpeg_bytes(seed, (640, 480), 90, grain=20)  # noqa: E731
    photographs = [(f"{EMOTIC_INSIDE}/{i}.jpg", data) for i, data in media(picture_names, photograph)]
    sample.write_media(os.path.join(targz, "emotic.zip"), photographs[::2])
    sample.write_media(os.path.join(targz, "emotic_extracted"), photographs[1::2])
    recording = lambda seed: sample.wav_bytes(seed, 10.0, 44100, channels=2, noise=900)  # noqa: E731
    sample.write_media(os.path.join(targz, "IMEMNet_clips.tar.gz"), _clips(media(clip_names, recording)))
    shutil.copytree(targz, zipped, copy_function=os.link, ignore=shutil.ignore_patterns("*.tar.gz"))
    sample.write_media(os.path.join(zipped, "IMEMNet_clips.zip"), _clips(media(clip_names, recording)))


def folder_metadata(folder, modality, inside, annotations):
    """imagefolder's or audiofolder's metadata.csv in folder: `inside/<id>.jpg` (images) or
    `inside/<id>.wav` (clips), with the id, valence and arousal of each row of the image_va.csv or
    music_va.csv in the `annotations` folder."""
    name, extension = {"images": ("image_va.csv", "jpg"), "clips": ("music_va.csv", "wav")}[modality]
    with open(os.path.join(annotations, name), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "metadata.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file_name", "id", "valence", "arousal"])
        writer.writerows([f"{inside}/{i}.{extension}", i, valence, arousal] for _, i, valence, arousal, *_ in rows)


def _clips(named):
    return ((f"IMEMNet/clips/{clip}.wav", data) for clip, data in named)


def full_count(work, count, reference):
    """`work/count-<count>`: the full count's data_dir (count 0), or `count` images and clips drawn
    from it with pairs in its proportions."""
    full = _full_count(os.path.join(work, "count-0"), os.path.abspath(reference))
    return full if count == 0 else _drawn(os.path.join(work, f"count-{count}"), count, full)


def _rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _pairs(rng, count, clips, images):
    return [(rng.choice(clips), rng.choice(images), round(rng.uniform(0.01, 1), 6)) for _ in range(round(count))]


@_once
def _drawn(root, count, full):
    rng = random.Random(count)
    rows = {
        key: {r[key]: r for r in _rows(os.path.join(full, f"{name}_va.csv"))}
        for name, key in (("image", "img"), ("music", "clip"))
    }
    images, clips = (sorted(rng.sample(sorted(rows[key]), count)) for key in ("img", "clip"))
    # As in the full count: validation and test pairs over 27% of the songs' clips and 20% of the images.
    songs = sorted({imemnet_c.song_of(clip) for clip in clips})
    held_songs = set(rng.sample(songs, round(0.27 * len(songs))))
    held_clips = [c for c in clips if imemnet_c.song_of(c) in held_songs]
    train_clips = [c for c in clips if imemnet_c.song_of(c) not in held_songs]
    held_images = rng.sample(images, round(0.2 * count))
    train_images = sorted(set(images) - set(held_images))
    sample.write_annotations(
        root,
        images=[(i, rows["img"][i]["valence"], rows["img"][i]["arousal"]) for i in images],
        clips=[(c, *(rows["clip"][c][k] for k in ("valence", "arousal", "caption"))) for c in clips],
        pairs={
            "train": _pairs(rng, 4.05 * count, train_clips, train_images),
            "val": _pairs(rng, 0.34 * count, held_clips, held_images),
            "test": _pairs(rng, 1.01 * count, held_clips, held_images),
        },
    )
    _tiny_media(root, images, clips)


@_once
def _full_count(root, reference):
    """The real image_va.csv, val_matching.txt and test_matching.txt (linked from `reference`, never
    copied into the project); 25,944 clips, each song with segments 9 to 21 and every clip the
    matching files name; 105,000 train pairs over the items the held-out files do not name."""
    rng = random.Random(0)
    for name in ("image_va.csv", "val_matching.txt", "test_matching.txt"):
        os.symlink(os.path.join(reference, name), os.path.join(root, name))
    images = list(dict.fromkeys(row["img"] for row in _rows(os.path.join(reference, "image_va.csv"))))
    held = []
    for name in ("val_matching.txt", "test_matching.txt"):
        with open(os.path.join(reference, name), encoding="utf-8") as f:
            held += [line.split() for line in f if line.strip()]
    songs = {}
    for clip, _, _ in held:
        songs.setdefault(int(imemnet_c.song_of(clip)), set()).add(int(clip.rsplit("-", 1)[1]))
    clips = [f"{song}-{segment}" for song in sorted(songs) for segment in sorted(songs[song] | set(SEGMENTS))]
    song = 1
    while len(clips) < FULL_CLIPS:
        if song not in songs:
            clips += [f"{song}-{segment}" for segment in SEGMENTS][: FULL_CLIPS - len(clips)]
        song += 1
    held_images = {image for _, image, _ in held}
    train_clips = [c for c in clips if int(imemnet_c.song_of(c)) not in songs]
    train_images = [i for i in images if i not in held_images]
    sample.write_annotations(
        root,
        clips=[
            (c, *(round(rng.random(), 6) for _ in "va"), f"Clip {n}: calm strings, slow.") for n, c in enumerate(clips)
        ],
        pairs={"train": _pairs(rng, FULL_TRAIN_PAIRS, train_clips, train_images)},
    )
    _tiny_media(root, images, clips)


def _tiny_media(root, image_ids, clip_ids):
    """An 8x8 JPEG for each image where its source keeps it, a 0.01 s WAV for each clip."""
    containers = {"IAPS 1-20 Images": [], "NAPS_BE.zip": [], "emotic.zip": []}
    picture = sample.jpeg_bytes(0, (8, 8))
    for image_id in image_ids:
        source = imemnet_c.image_source(image_id, emotic_part=True)
        where = {"iaps": ("IAPS 1-20 Images", f"{image_id}.jpg"), "naps": ("NAPS_BE.zip", f"NAPS_BE/{image_id}.jpg")}
        container, name = where.get(source, ("emotic.zip", f"{source}/images/{image_id}.jpg"))
        containers[container].append((name, picture))
    clip = sample.wav_bytes(0, 0.01, 44100, channels=2)
    containers["IMEMNet_clips.tar.gz"] = list(_clips((clip_id, clip) for clip_id in clip_ids))
    for container, files in containers.items():
        sample.write_media(os.path.join(root, container), files, zipfile.ZIP_STORED)
