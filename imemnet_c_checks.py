"""IMEMNet-C's media files: their kinds (`IMAGES`, `AUDIO`), the id a file stands for
(`media_file_id`), and whether one is usable (`media_problem`): whether the decoder a load uses
decodes it whole, known from its headers and end where they decide (`examined` also takes its
sha256, from the same read). The media layer hands
`check_member` down to the archive layer, which checks a tar's members as its pass goes by."""

import hashlib
import importlib
import io
import re
from typing import NamedTuple

import datasets
import PIL.Image
import soundfile

__all__ = [
    "IMAGES",
    "AUDIO",
    "media_file_id",
    "media_problem",
    "examined",
    "audio_backend_problem",
    "audio_decoder",
    "AUDIO_BACKEND",
]  # the public names, which the loading script exports


class Modality(NamedTuple):
    name: str
    extensions: tuple
    sources: str  # what to download when files are missing


IMAGES = Modality("image", (".jpg", ".jpeg", ".png"), "IAPS, NAPS and EMOTIC")
AUDIO = Modality("audio", (".wav", ".flac", ".mp3"), "IMEMNet's DEAM clips")


def media_file_id(path, modality):
    """The id a media file stands for (its name without extension), or None if it is not one."""
    name = path[max(path.rfind("/"), path.rfind("\\")) + 1 :]  # called for every file and member: no regex
    stem, dot, extension = name.rpartition(".")
    if not dot or f".{extension.lower()}" not in modality.extensions or name.startswith((".", "__")):
        return None
    if "__MACOSX" in path and any(part.startswith("__MACOSX") for part in re.split(r"[\\/]", path)):
        return None
    return stem


# What decodes (and on datasets 4+ also writes) an Audio column, per datasets line, and how to get it.
AUDIO_BACKEND = (
    {
        "modules": ("soundfile", "librosa"),
        "install": "pip install soundfile librosa   (the [audio-librosa] extra of imemnet-c)",
    }
    if int(datasets.__version__.split(".")[0]) < 4  # datasets 2 and 3: librosa; 4 and newer: torchcodec
    else {
        "modules": ("torch", "torchcodec.decoders"),
        "install": (
            "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu   (plain pip takes a CUDA build)\n"
            '  pip install "torchcodec>=0.12,<0.14"   (the [audio] extra of imemnet-c; 0.14 to 0.17 are CUDA builds)\n'
            "  FFmpeg's shared libraries, e.g. on Debian 12: sudo apt-get install libavcodec59 libavformat59 "
            "libavutil57 libavdevice59 libavfilter8 libswscale6 libswresample4"
        ),
    }
)


def audio_backend_problem():
    """Why the installed datasets cannot decode its Audio columns here, or None. Preparing and
    streaming need no decoder; `audio_decoder()` says what decodes audio here instead."""
    for module in AUDIO_BACKEND["modules"]:
        try:
            importlib.import_module(module)
        except Exception as error:  # a missing module, a CUDA-only build, FFmpeg's libraries absent
            return (
                f"datasets {datasets.__version__} decodes the audio column through "
                f"{' and '.join(AUDIO_BACKEND['modules'])}, and {module} cannot be imported here ({_said(error)}). "
                f"The music and paired configs prepare and stream without it, their audio column holding each "
                f"clip's file; imemnet_c_tools.pairs and imemnet-c check decode with {audio_decoder().name}. To decode "
                f"the column itself, install it:\n  {AUDIO_BACKEND['install']}"
            )
    return None


class Decoder(NamedTuple):
    name: str
    frames: object  # a file's bytes -> (the frames its header declares or None, the frames decoded)


def audio_decoder():
    """The `Decoder` a load's audio goes through: torchcodec on datasets 4 and newer where it can be
    imported, else soundfile (libsndfile)."""
    if int(datasets.__version__.split(".")[0]) >= 4:
        try:
            importlib.import_module("torchcodec.decoders")
            return Decoder("torchcodec", _torchcodec_frames)
        except Exception:  # absent, a CUDA-only build, FFmpeg's libraries absent
            pass
    return Decoder("soundfile", _soundfile_frames)


def _declared_frames(data):
    """The frames a file's header declares, as libsndfile reads it (MP3's gapless tags, FLAC's STREAMINFO)."""
    return soundfile.info(io.BytesIO(data)).frames


def _soundfile_frames(data):
    return _declared_frames(data), len(soundfile.read(io.BytesIO(data), dtype="float32")[0])


def _torchcodec_frames(data):
    from torchcodec.decoders import AudioDecoder

    try:
        declared = _declared_frames(data)
    except soundfile.LibsndfileError:
        declared = None
    return declared, AudioDecoder(data).get_all_samples().data.shape[-1]


def media_modality(path):
    """The modality (IMAGES or AUDIO) whose media file `path` is, or None."""
    return next((modality for modality in (IMAGES, AUDIO) if media_file_id(path, modality)), None)


def check_member(name, size, open_stream, digests=None):
    """The archive layer's hook (see `Archive`): what makes the archive member `name`, if it is a
    media file, unusable, or None; `open_stream()` opens its bytes. With a dict as `digests`, the
    member's sha256 is put there too, by name, from the same read."""
    modality = media_modality(name)
    if modality is None:
        return None
    problem, *sha256 = examined(open_stream, name, size, modality, hashed=digests is not None)
    if sha256:
        digests[name] = sha256[0]
    return problem


check_member.version = CHECKS_VERSION = 2  # kept verdicts of another version are made anew (2: the decoder's)


HASH_READ = 8 << 20  # bytes per read when hashing a file: hashlib hashes them without the GIL


def examined(opened, path, size, modality, hashed=False, loose=False):
    """[what makes the media file at `path` unusable, or None] (see `media_problem`), read from the
    stream `opened()` gives; with `hashed`, [that, its sha256], from one read of it, whole. A `loose`
    file is hashed in large reads, then checked from its start again (its header and last bytes, just
    read); an archive member is read into memory once (a zip's inflated stream, or a tar's passing
    by, goes back only by decompressing anew)."""
    with opened() as stream:
        if not hashed:
            return [media_problem(stream, size, path, modality)]
        if not loose:
            stream = io.BytesIO(stream.read())
        sha256 = hashlib.sha256()
        while chunk := stream.read(HASH_READ):
            sha256.update(chunk)
        stream.seek(0)
        return [media_problem(stream, size, path, modality), sha256.hexdigest()]


def media_problem(stream, size, path, modality):
    """What makes a media file of `size` bytes unusable, or None: whether the decoder a load uses
    decodes it whole (Pillow; for audio `audio_decoder()`). Where a file's structure decides, only
    its headers and end are read: a JPEG whose marker segments lead to its scan and whose last bytes
    are its end marker, a PNG whose chunks reach IEND whole, and a WAV (PCM, float, A-law or µ-law),
    whose header says how many frames its data holds (decoders quietly read fewer). Anything else,
    including a JPEG or PNG whose end is not where it should be, is decoded whole."""
    where = f"{path} (the {modality.name} of {media_file_id(path, modality)})"
    if not size:
        return f"{where} is empty (0 bytes)."
    return (_image_problem if modality == IMAGES else _audio_problem)(stream, size, where)


def _image_problem(stream, size, where):
    try:
        with PIL.Image.open(stream) as picture:
            picture_format = picture.format
    except PIL.UnidentifiedImageError:
        return f"{where} is not a readable image file (UnidentifiedImageError: Pillow cannot identify it)."
    except Exception as error:  # whatever Pillow raises is its verdict
        return f"{where} is a truncated or damaged image file: Pillow cannot open it ({_said(error)})."
    complete = {"JPEG": _jpeg_is_complete, "PNG": _png_is_complete}.get(picture_format)
    if complete is not None and complete(stream, size):
        return None
    stream.seek(0)
    try:
        with PIL.Image.open(stream) as picture:
            picture.load()
    except Exception as error:
        return f"{where} is a truncated or damaged {picture_format}: Pillow cannot decode it whole ({_said(error)})."
    return None


def _jpeg_is_complete(stream, size):
    """Whether a JPEG's marker segments lead from its start to a scan, and it ends with the end
    marker after that (one inside an EXIF thumbnail or a comment lies in a segment before)."""
    position = 2
    while position + 4 <= size:
        stream.seek(position)
        marker = stream.read(4)
        if marker[0] != 0xFF or marker[1] in (0x00, 0x01, 0xFF) or 0xD0 <= marker[1] <= 0xD9:
            return False  # fill bytes or a lone marker: left to the decoder
        position += 2 + int.from_bytes(marker[2:], "big")
        if marker[1] == 0xDA:  # start of scan
            stream.seek(size - 2)
            return position < size - 2 and stream.read(2) == b"\xff\xd9"
    return False


def _png_is_complete(stream, size):
    """Whether a PNG's chunks, each whole, lead from its signature to IEND."""
    position = 8
    while position + 12 <= size:
        stream.seek(position)
        length, kind = int.from_bytes(stream.read(4), "big"), stream.read(4)
        position += 12 + length
        if kind == b"IEND":
            return position <= size
    return False


def _audio_problem(stream, size, where):
    frames = _wav_frames(stream, size)
    if frames is not None:
        declared, present = frames
        return None if 0 < present >= declared else f"{where} is truncated: {present} of {declared} audio frames."
    decoder = audio_decoder()
    stream.seek(0)
    try:
        declared, decoded = decoder.frames(stream.read())
    except Exception as error:  # whatever the decoder raises is its verdict
        return f"{where} is not a readable audio file, or a truncated one: {decoder.name} cannot decode it whole ({_said(error)})."
    if decoded == 0 or declared is not None and decoded < declared:
        return f"{where} is truncated: {decoder.name} decodes {decoded} of the {declared} audio frames its header declares."
    return None


_WAV_ENCODINGS = {1, 3, 6, 7}  # PCM, IEEE float, A-law, µ-law: a frame is a block of `block_align` bytes


def _wav_frames(stream, size):
    """(frames declared, frames present) of a WAV in one of `_WAV_ENCODINGS`, from its chunk headers;
    None for anything else (another format, another encoding, a header cut short)."""
    head = stream.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
        return None
    position, block_align = 12, None
    while position + 8 <= size:
        stream.seek(position)
        kind, length = stream.read(4), int.from_bytes(stream.read(4), "little")
        if kind == b"fmt ":
            fmt = stream.read(min(length, 26))
            if len(fmt) < 16:
                return None
            encoding, block_align = int.from_bytes(fmt[:2], "little"), int.from_bytes(fmt[12:14], "little")
            if encoding == 0xFFFE and len(fmt) == 26:  # WAVE_FORMAT_EXTENSIBLE: its subformat's code
                encoding = int.from_bytes(fmt[24:26], "little")
            if encoding not in _WAV_ENCODINGS or not block_align:
                return None
        elif kind == b"data":
            if block_align is None:
                return None
            present = size - position - 8
            declared = present if length in (0, 0xFFFFFFFF) else length  # 0 or all ones: written while streaming
            return declared // block_align, min(declared, present) // block_align
        position += 8 + length + (length & 1)
    return None


def _said(error):
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or ['no message'])[0][:200]}"
