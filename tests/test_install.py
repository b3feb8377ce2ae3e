"""`pip install .` gives the loader and the `imemnet-c` command, which works from any folder with
what the package carries (the card, its figure, the sample), and no benchmark; every subcommand
says what it does; the training example's install step, as its pages give it, gives the example
what it imports."""

import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig

import pytest
from conftest import DATASETS_RUNS_SCRIPTS, ROOT, SAMPLE, TIMEOUT

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


TRAINING = os.path.join(ROOT, "docs", "training.md")
README = os.path.join(ROOT, "README.md")
EXAMPLE = os.path.join(ROOT, "examples", "train_mmva.py")
BROUGHT_BY_THE_STEP = ("torch", "torchdata")  # what the example imports that the install step must bring


def install_and_first_run():
    """The commands docs/training.md gives the example up to its first run: the install step, then that run."""
    page = open(TRAINING, encoding="utf-8").read()
    block = next(block for block in re.findall(r"```bash\n(.*?)```", page, flags=re.S) if ",train]" in block)
    commands = block.splitlines()
    first_run = next(i for i, command in enumerate(commands) if command.startswith("python examples/train_mmva.py"))
    return commands[: first_run + 1]


def lines(path):
    return {line.strip() for line in open(path, encoding="utf-8")}


def installed_packages_but(distributions, folder):
    """`folder` filled with links to this environment's installed packages, those of `distributions` left out."""
    left_out = {file.parts[0] for name in distributions for file in importlib.metadata.distribution(name).files}
    site = sysconfig.get_paths()["purelib"]
    folder.mkdir()
    for name in set(os.listdir(site)) - left_out - {"__pycache__"}:
        (folder / name).symlink_to(os.path.join(site, name))
    return folder


def test_the_readme_and_the_example_give_the_install_step_of_the_training_page():
    *step, first_run = install_and_first_run()
    assert [command.split()[:3] for command in step] == [["pip", "install", "torch==2.13.0"]] + [
        ["pip", "install", f'".[{audio},train]"'] for audio in ("audio", "audio-librosa")
    ]
    assert set(step) | {first_run} <= lines(README)
    assert set(step) <= lines(EXAMPLE)


def test_the_documented_install_step_gives_the_training_example_what_it_imports(tmp_path):
    """A new virtual environment, then, from the clone, the install step of docs/training.md for this
    datasets line and its first run. pip's index is the machine's own (with the find-links and extra
    indexes of pip's configuration, where the torch CPU wheel lies); torch's CPU index, which the step
    names and this machine cannot reach, is given up after one try, not six. Those indexes lack some
    of what the loader needs (rapidgzip, torchcodec, datasets 3.6), so the environment starts with
    this one's packages, all but torch and torchdata, which the step must bring."""
    environment = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", environment], check=True, timeout=TIMEOUT)
    site = environment / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    packages = installed_packages_but(BROUGHT_BY_THE_STEP, tmp_path / "packages")
    (site / "packages-of-the-tests-environment.pth").write_text(f"{packages}\n")
    variables = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    variables |= {
        "PATH": f"{environment / 'bin'}{os.pathsep}{os.environ['PATH']}",  # as if activated
        "VIRTUAL_ENV": str(environment),
        "PIP_INDEX_URL": "file:///opt/pypi/simple",
        "PIP_RETRIES": "0",
        "HF_HOME": str(tmp_path / "hf"),
    }
    this_line = f'".[{"audio-librosa" if DATASETS_RUNS_SCRIPTS else "audio"},train]"'
    for command in install_and_first_run():
        if ",train]" in command and this_line not in command:
            continue  # the other datasets line's
        result = subprocess.run(
            command, shell=True, cwd=ROOT, env=variables, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
    assert "loss went from" in result.stdout, result.stdout
