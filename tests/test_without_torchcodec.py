"""datasets 4 and newer without torch or torchcodec, the decoder of their Audio columns (the lane
`make test-5-soundfile`): music and paired prepare and stream, decoding their audio column is
what needs torchcodec, and imemnet_c_tools.pairs and imemnet-c check decode with soundfile."""

import importlib.util
import io
import json
import tarfile

import datasets
import numpy
import pytest
import soundfile
from conftest import SAMPLE

import imemnet_c
from imemnet_c_tools import cli
from imemnet_c_tools.pairs import preprocess, va_pairs

pytestmark = pytest.mark.skipif(
    imemnet_c.DATASETS_RUNS_SCRIPTS or importlib.util.find_spec("torchcodec") is not None,
    reason="datasets 4 and newer without torchcodec: the lane make test-5-soundfile runs these",
)
MODES = pytest.mark.parametrize("streaming", [False, True], ids=["prepared", "streaming"])


def sample_clips():
    """{clip id: its WAV file's bytes} of the sample."""
    with tarfile.open(f"{SAMPLE}/IMEMNet_clips.tar") as tar:
        return {m.name.rsplit("/", 1)[1][:-4]: tar.extractfile(m).read() for m in tar if m.name.endswith(".wav")}


def soundfile_mono(data):
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples.mean(axis=1), rate


@MODES
@pytest.mark.parametrize("config", ["music", "paired"])
def test_music_and_paired_prepare_and_stream_and_decoding_their_audio_is_what_needs_torchcodec(
    config, streaming, tmp_path, caplog
):
    with caplog.at_level("WARNING"):
        train = imemnet_c.load(config, SAMPLE, cache_dir=str(tmp_path / "cache"), streaming=streaming)["train"]
    assert "torchcodec" in caplog.text and "prepare and stream without it" in caplog.text
    clips = sample_clips()
    for example in train.cast_column("audio", datasets.Audio(decode=False)):
        audio = example["audio"]
        assert (audio["bytes"] or open(audio["path"], "rb").read()) == clips[example["clip_id"]]
    with pytest.raises(ImportError, match="torchcodec"):  # datasets' own decoding
        next(iter(train))["audio"]["array"]


def test_va_pairs_decode_their_clips_with_soundfile_resampled_as_asked():
    clips = sample_clips()
    for pair in va_pairs(SAMPLE, split=None, streaming=True):
        expected, rate = soundfile_mono(clips[pair["clip_id"]])
        assert pair["audio"]["sampling_rate"] == rate and numpy.array_equal(pair["audio"]["array"], expected)
    for pair in va_pairs(SAMPLE, split=None, sampling_rate=8000):
        samples, rate = soundfile_mono(clips[pair["clip_id"]])
        assert pair["audio"]["sampling_rate"] == 8000 and len(pair["audio"]["array"]) == len(samples) * 8000 // rate


def test_preprocess_runs_the_audio_function_on_soundfile_samples(tmp_path):
    def summary(samples, sampling_rate):
        return {"samples": numpy.int64(len(samples)), "rate": numpy.int64(sampling_rate)}

    clips = preprocess(SAMPLE, audio=summary, cache_dir=str(tmp_path / "cache")).clips
    expected = {clip_id: soundfile_mono(data) for clip_id, data in sample_clips().items()}
    assert {row["clip_id"]: (row["samples"], row["rate"]) for row in clips} == {
        clip_id: (len(samples), rate) for clip_id, (samples, rate) in expected.items()
    }


def test_check_says_soundfile_decodes_and_how_to_get_torchcodec(capsys, tmp_path):
    assert cli.main(["check", SAMPLE, "--cache-dir", str(tmp_path / "cache")]) == 0
    text = capsys.readouterr().out
    assert "decode with soundfile" in text and imemnet_c.AUDIO_BACKEND["install"] in text
    assert cli.main(["check", SAMPLE, "--json", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert json.loads(capsys.readouterr().out)["audio_decoder"] == "soundfile"
