"""`python -m imemnet_c_tools.<name>` runs `imemnet-c <name>`: the same output and exit status, on
a complete download and on a broken one; and no command module imports the command line."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLE

from imemnet_c_tools import cli, command, sample

FREE = re.compile(r"[\d.]+ [KMGT]?B free there")  # the free disk moves between two runs

CASES = {  # (command, its arguments, what its output says, its exit status)
    "check": ("check", [SAMPLE], "Complete. Load with:", 0),
    "check-broken": ("check", ["{broken}"], "INCOMPLETE", 1),
    "demo": ("demo", [], "image/train: 16 examples prepared, 16 streamed", None),  # 1 where audio cannot decode
    "export": (
        "export",
        ["--data-dir", SAMPLE, "--out", "{out}", "--config", "image_annotations", "--overwrite"],
        "Exported image_annotations to",
        0,
    ),
    "evaluate": ("evaluate", ["--annotations", SAMPLE, "--va", "{va}"], "VA regression: ", 0),
    "evaluate-bad": ("evaluate", ["--annotations", SAMPLE, "--va", "{broken}/image_va.csv"], "", 2),
}


def test_every_command_has_its_alias_run_here():
    assert {name for name, *_ in CASES.values()} == set(cli.COMMANDS)


@pytest.mark.parametrize("case", CASES)
def test_the_alias_gives_the_output_and_exit_status_of_the_command(case, tmp_path):
    name, arguments, says, status = CASES[case]
    broken = shutil.copytree(SAMPLE, tmp_path / "downloads")
    os.remove(broken / "NAPS_BE.tar.gz")
    va = tmp_path / "va.csv"  # a prediction for every annotated image and clip of the sample
    images, clips, _ = sample.sample_annotations()
    predicted = {item: (valence, arousal) for item, valence, arousal, *_ in images + clips}
    va.write_text("id,valence,arousal\n" + "".join(f"{item},{v},{a}\n" for item, (v, a) in predicted.items()))
    arguments = [a.format(broken=broken, out=tmp_path / "out", va=va) for a in arguments]
    environment = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    results = []
    for started in ([f"imemnet_c_tools.{name}"], ["imemnet_c_tools.cli", name]):
        result = subprocess.run(
            [sys.executable, "-m", *started, *arguments],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        results.append((result.returncode, FREE.sub("<free>", result.stdout), result.stderr))
    alias, command_line = results
    assert alias == command_line
    assert says in alias[1], alias
    assert status is None or alias[0] == status, alias


def test_no_command_module_imports_the_command_line():
    """`cli` imports every command; a command importing `cli` back (for its alias) is a cycle, and so
    is `command`, which both use, importing a command."""
    for module in cli.COMMANDS.values():
        assert "imemnet_c_tools.cli" not in imports(module), module.__name__
    assert not imports(command) & {"imemnet_c_tools.cli", *(f"imemnet_c_tools.{name}" for name in cli.COMMANDS)}


def imports(module):
    """The modules (and `module.name`s) a module's source imports, wherever in it."""
    with open(module.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return imported


def documented_check_commands():
    """The `imemnet-c check ~/imemnet_raw ...` lines of the README's and check page's code blocks,
    in the order they are shown."""
    lines = []
    for page in ("README.md", "docs/check.md"):
        with open(os.path.join(ROOT, page), encoding="utf-8") as f:
            blocks = re.findall(r"^```bash\n(.*?)^```", f.read(), re.M | re.S)
        lines += [line for block in blocks for line in block.splitlines() if line.startswith("imemnet-c check ~/")]
    return lines


def test_the_check_commands_the_docs_show_run_as_written(tmp_path):
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    shutil.copytree(SAMPLE, home / "imemnet_raw")
    bin_dir.mkdir()
    script = bin_dir / "imemnet-c"  # the console script pip installs (imemnet_c_tools.cli:main)
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m imemnet_c_tools.cli "$@"\n')
    script.chmod(0o755)
    environment = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": ROOT,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    }
    commands = documented_check_commands()
    assert any("--json > report.json" in line for line in commands) and any("--against" in line for line in commands)
    for line in commands:
        result = subprocess.run(["bash", "-c", line], cwd=home, env=environment, capture_output=True, text=True)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
    assert json.loads((home / "report.json").read_text())["complete"] is True
    assert json.loads((home / "imemnet-c-media.json").read_text())
