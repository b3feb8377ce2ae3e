"""`pip install .` gives the loader and the `imemnet-c` command, which works from any folder with
what the package carries (the card, its figure, the sample), and no benchmark; every subcommand
says what it does."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLE

import imemnet_c
from imemnet_c_tools import cli


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """This folder installed with pip (its dependencies are this environment's), as a site folder."""
    site = tmp_path_factory.mktemp("site")
    root = os.path.dirname(os.path.abspath(imemnet_c.__file__))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            site,
            root,
        ],
        check=True,
        timeout=600,
    )
    return site


def run(installed, cwd, *arguments):
    environment = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run(arguments, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


def test_pip_install_gives_the_command_which_checks_the_sample_from_any_folder(installed, tmp_path):
    result = run(installed, tmp_path, installed / "bin" / "imemnet-c", "check", SAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Complete. Load with:" in result.stdout
    where = run(
        installed,
        tmp_path,
        sys.executable,
        "-c",
        "import imemnet_c, imemnet_c_tools; from imemnet_c_tools import demo, digest; from imemnet_c_tools.export "
        "import CARD; print(imemnet_c.__file__, demo.SAMPLE, digest.SAMPLE, CARD, imemnet_c_tools.shipped('docs/va_space.png'))",
    )
    paths = where.stdout.split()
    assert len(paths) == 5 and all(path.startswith(str(installed)) and os.path.exists(path) for path in paths)
    assert sorted(os.listdir(paths[1])) == sorted(os.listdir(SAMPLE))
    assert paths[2] == paths[1]  # the digest's default is the same sample the demo loads


def test_the_package_holds_the_loader_and_its_tools_and_no_benchmark(installed):
    benchmarks = {name for name in os.listdir(os.path.join(ROOT, "benchmarks")) if name.endswith(".py")}
    assert {"bench.py", "realbench.py", "pairbench.py", "realdata.py"} <= benchmarks
    top = {name for name in os.listdir(installed) if not name.endswith(".dist-info") and name != "__pycache__"}
    assert top == {
        "bin",
        "imemnet_c.py",
        "imemnet_c_annotations.py",
        "imemnet_c_media.py",
        "imemnet_c_checks.py",
        "imemnet_c_archives.py",
        "imemnet_c_tools",
    }
    tools = {name for _, _, files in os.walk(installed / "imemnet_c_tools") for name in files if name.endswith(".py")}
    assert {"cli.py", "check.py", "demo.py", "export.py"} <= tools
    assert not (tools & benchmarks) - {"__init__.py"}


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_subcommand_says_what_it_does_and_its_defaults(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    assert cli.COMMANDS[command].__doc__.split("\n")[0] in shown
    assert "(default:" in shown


def test_the_command_lists_its_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    shown = capsys.readouterr().out
    assert all(command in shown for command in cli.COMMANDS)
