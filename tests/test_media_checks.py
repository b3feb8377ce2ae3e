"""The media check agrees with the decoder: for every file of a corpus of real-world variants (cut at
many points, trailing data of any length, pictures and sounds in other modes, encodings and
formats), `imemnet-c check`'s verdict is "usable" exactly when the decoder a load uses (datasets'
Image and Audio features: Pillow; soundfile on datasets 3.x; torchcodec on 5.x where installed,
else soundfile) decodes the file whole: without an error, and to as many pixels or samples as the
intact file."""

import io
import random
import struct

import datasets
import numpy
import PIL.Image
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

import imemnet_c

SIZE = (64, 48)
RNG = numpy.random.default_rng(0)
PIXELS = (RNG.random((SIZE[1], SIZE[0], 3)) * 255).astype("uint8")


def picture(image_format, mode="RGB", **options):
    image = PIL.Image.fromarray(PIXELS).convert(mode)
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def exif_with_a_thumbnail():
    """An EXIF block (orientation 6, rotated) whose IFD1 holds a whole JPEG thumbnail, end marker included."""
    thumbnail = picture("JPEG", quality=50)
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 6) + struct.pack("<I", 26)
    ifd1 = (
        struct.pack("<H", 2)
        + struct.pack("<HHII", 0x0201, 4, 1, 56)
        + struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))
    )
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + struct.pack("<I", 0) + thumbnail


def sound(container, subtype, rate=44100, channels=2, seconds=0.1):
    samples = (RNG.random((int(rate * seconds), channels)) - 0.5).astype("float32") * 0.5
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format=container, subtype=subtype)
    return out.getvalue()


PICTURES = {  # name as in data_dir: its bytes
    "baseline.jpg": picture("JPEG", quality=90),
    "grayscale.jpg": picture("JPEG", mode="L"),
    "cmyk.jpg": picture("JPEG", mode="CMYK"),
    "progressive.jpg": picture("JPEG", progressive=True),
    "exif-thumbnail-rotated.jpg": picture("JPEG", exif=exif_with_a_thumbnail()),
    "comment-holding-a-jpeg.jpg": picture("JPEG", comment=picture("JPEG", quality=30)),
    "rgb.png": picture("PNG"),
    "16-bit.png": picture("PNG", mode="I;16"),
    "palette.png": picture("PNG", mode="P"),
    "png-named.jpg": picture("PNG"),
    "gif-named.jpg": picture("GIF"),
    "bmp-named.png": picture("BMP"),
}
SOUNDS = {  # every WAV encoding, sampling rates odd and usual, 1 to 6 channels; FLAC and MP3
    "pcm8.wav": sound("WAV", "PCM_U8", 8000, 1),
    "pcm16.wav": sound("WAV", "PCM_16", 44100, 2),
    "pcm24.wav": sound("WAV", "PCM_24", 22050, 3),
    "pcm32.wav": sound("WAV", "PCM_32", 11025, 4),
    "float32.wav": sound("WAV", "FLOAT", 48000, 5),
    "float64.wav": sound("WAV", "DOUBLE", 7999, 6),
    "extensible-pcm16.wav": sound("WAVEX", "PCM_16", 16000, 2),
    "extensible-float32.wav": sound("WAVEX", "FLOAT", 32000, 1),
    "clip.flac": sound("FLAC", "PCM_16"),
    "clip.mp3": sound("MP3", "MPEG_LAYER_III", seconds=0.5),
}
IMAGE, AUDIO = datasets.Image(), datasets.Audio()  # the features of the loader's columns


def decoded_size(name, data):
    """What the decoder a load uses makes of the file: its pixels' size or its samples' count."""
    if name in PICTURES:
        return IMAGE.decode_example({"path": None, "bytes": data}).size
    if imemnet_c.audio_decoder().name == "soundfile" and not imemnet_c.DATASETS_RUNS_SCRIPTS:  # 5.x without torchcodec
        return len(soundfile.read(io.BytesIO(data))[0])
    audio = AUDIO.decode_example({"path": name, "bytes": data})
    return len(audio["array"]) if isinstance(audio, dict) else audio.get_all_samples().data.shape[-1]


INTACT = {name: decoded_size(name, data) for name, data in {**PICTURES, **SOUNDS}.items()}


def decodes_whole(name, data):
    try:
        return decoded_size(name, data) == INTACT[name]
    except Exception:  # whatever the decoder raises
        return False


def verdict(name, data):
    modality = imemnet_c.IMAGES if name in PICTURES else imemnet_c.AUDIO
    return imemnet_c.media_problem(io.BytesIO(data), len(data), name, modality)


def variants(data):
    """The file cut in its headers, its middle and its last bytes, and followed by data of many lengths."""
    noise = random.Random(len(data)).randbytes(8192)
    yield "intact", data
    for kept in sorted({1, 2, 4, 8, 12, 16, 20, 26, 30, 36, 40, 44, 48, 60, 80, 100, 200, 400, len(data) // 3}):
        yield f"first {kept} bytes", data[:kept]
    for cut in (len(data) // 2, 100, 10, 3, 2, 1):
        yield f"last {cut} bytes cut", data[:-cut]
    for length in (1, 2, 7, 100, 1024, 8192):
        yield f"{length} bytes of noise after it", data + noise[:length]
        yield f"{length} zero bytes after it", data + bytes(length)


CORPUS = [(name, variant, cut) for name, data in {**PICTURES, **SOUNDS}.items() for variant, cut in variants(data)]


def test_the_corpus_decodes_intact_and_holds_broken_files_of_every_kind():
    assert all(decodes_whole(name, data) for name, data in {**PICTURES, **SOUNDS}.items())
    broken = {name for name, _, data in CORPUS if data and not decodes_whole(name, data)}
    assert broken == set(PICTURES) | set(SOUNDS)  # every kind has variants the decoder refuses


@pytest.mark.parametrize("name", [*PICTURES, *SOUNDS])
def test_the_check_says_usable_exactly_when_the_decoder_decodes_the_file_whole(name):
    disagreements = [
        (variant, verdict(name, data))
        for file, variant, data in CORPUS
        if file == name and data and (verdict(name, data) is None) != decodes_whole(name, data)
    ]
    assert disagreements == []


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([*PICTURES, *SOUNDS]), st.integers(1, 1 << 16), st.integers(0, 1))
def test_the_check_agrees_with_the_decoder_wherever_a_file_is_cut_or_extended(name, at, extend):
    data = {**PICTURES, **SOUNDS}[name]
    data = data + random.Random(at).randbytes(at) if extend else data[: at % len(data) or 1]
    assert (verdict(name, data) is None) == decodes_whole(name, data), verdict(name, data)
