"""One load call for every datasets version: the suite runs on datasets 3.6 and on 5.x, and here
the two environments are compared example by example (`make test-5` names the 3.6 one)."""

import json
import os
import subprocess

import datasets
import pytest
from conftest import ROOT, SAMPLE, content, export_command

from imemnet_c_tools.digest import digest

PEER = os.environ.get("IMEMNET_C_PEER_PYTHON")


@pytest.mark.skipif(
    not PEER, reason="no other datasets environment named by IMEMNET_C_PEER_PYTHON (make test-5 sets it)"
)
def test_the_other_datasets_version_gives_identical_content_for_every_config(tmp_path):
    peer = subprocess.run(
        [PEER, "-m", "imemnet_c_tools.digest", "--data-dir", SAMPLE, "--cache-dir", str(tmp_path / "peer-cache")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert peer.returncode == 0, peer.stderr[-3000:]
    peer_version = subprocess.run(
        [PEER, "-c", "import datasets; print(datasets.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.strip()

    assert peer_version != datasets.__version__, "the peer environment has the same datasets version"
    ours = digest(SAMPLE, cache_dir=str(tmp_path / "cache"))
    assert len(ours) == 2 * (1 + 1 + 3) * 2  # media and annotation configs, every split, both modes
    assert json.loads(peer.stdout) == ours


@pytest.mark.skipif(
    not PEER, reason="no other datasets environment named by IMEMNET_C_PEER_PYTHON (make test-5 sets it)"
)
def test_a_folder_exported_on_the_other_version_loads_here_with_the_same_content(load, tmp_path):
    out = tmp_path / "exported-by-peer"
    command = export_command(
        PEER, SAMPLE, out, "--cache-dir", tmp_path / "peer", "--config", "image", "music", "paired"
    )
    peer = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert peer.returncode == 0, peer.stderr[-3000:]
    for config, script_config in (("image", "image"), ("music", "music"), ("paired", "paired_annotations")):
        exported = datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "parquet-cache"))
        script = load(script_config, SAMPLE)
        assert {split: content(ds) for split, ds in exported.items()} == {
            split: content(ds) for split, ds in script.items()
        }
