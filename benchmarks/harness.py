"""The one fresh-process harness of every benchmark mode.

`measure("benchmarks.<module>", "<function>", arguments, work)` runs `function(*arguments)` in a new
interpreter (offline, HF_HOME under work, datasets, this loader, torch and torchcodec imported
before the clock starts) and returns the dict the function returned, with:
- `seconds`: from the function's start, or the `start` it returns, to its end or the `end` it returns;
- `first_s`: to the `first` it returns (its first example), else `seconds`;
- `rss_mb`: the peak resident memory of the process, or of its largest child (wait4);
- `disk_mb`: the extra disk at its peak (the free space of work's file system sampled every
  20 ms, so deleted-but-open temporary files count);
- `silent_s`: the longest stretch without output on stderr between the start and `first`.
"""

import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT = "RESULT "


def measure(module, function, arguments, work, progress=True):
    """Runs `module.function(*arguments)` in a fresh process; see the module's docstring."""
    environment = {**os.environ, "HF_HOME": os.path.join(work, "hf-home"), "PYTHONPATH": PROJECT}
    environment.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    environment.pop("HF_DATASETS_DISABLE_PROGRESS_BARS", None)
    environment.update({} if progress else {"HF_DATASETS_DISABLE_PROGRESS_BARS": "1"})
    command = [sys.executable, "-m", "benchmarks.harness", module, function]
    lowest, stderr_times, stderr = [free_before := free_bytes(work)], [], []
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = subprocess.Popen(command, **pipes, cwd=PROJECT, env=environment)
    finished = threading.Event()

    def read_stderr():
        while chunk := process.stderr.read1(65536):
            stderr_times.append(time.time())
            stderr.append(chunk)

    def sample_disk():
        while not finished.is_set():  # not process.poll(), which may reap the child before wait4 below
            lowest[0] = min(lowest[0], free_bytes(work))
            time.sleep(0.02)

    threads = [threading.Thread(target=read_stderr), threading.Thread(target=sample_disk)]
    for thread in threads:
        thread.start()
    process.stdin.write(json.dumps(arguments).encode())  # the arguments may be long: not on the command line
    process.stdin.close()
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    finished.set()
    for thread in threads:
        thread.join()
    if os.waitstatus_to_exitcode(status) or RESULT not in out:
        message = b"".join(stderr).decode(errors="replace")[-3000:]
        raise RuntimeError(f"{function}{tuple(arguments)} failed:\n{message}")
    result = json.loads(out[out.rindex(RESULT) + len(RESULT) :])
    start, first, end = result["start"], result["first"], result["end"]
    marks = [start, *(t for t in stderr_times if start < t < first), first]
    result.update(seconds=end - start, first_s=first - start, rss_mb=usage.ru_maxrss / 1024)
    silent_s = max(b - a for a, b in itertools.pairwise(marks))
    return {**result, "disk_mb": (free_before - lowest[0]) / 1e6, "silent_s": silent_s}


def trials(steps, work, runs, progress=True):
    """[[each step's result] per run]: `runs` times, each `(module, function, arguments)` of `steps` in
    turn, on one fresh cache (the last argument) that the steps before it left."""
    results = []
    for _ in range(runs):
        with fresh_cache(work) as cache:
            results.append([measure(m, f, [*arguments, cache], work, progress) for m, f, arguments in steps])
    return results


def medians(trials, keys):
    """{key: its median over `trials`} for each of `keys` (0 where the trials do not give it)."""
    return {key: statistics.median(t[key] for t in trials) if key in trials[0] else 0 for key in keys}


def free_bytes(path):
    return os.statvfs(path).f_bavail * os.statvfs(path).f_frsize


@contextlib.contextmanager
def fresh_cache(work):
    """A cache folder of its own under work, removed afterwards."""
    cache = os.path.join(work, "cache-" + uuid.uuid4().hex)
    try:
        yield cache
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def preload():
    """The modules a running job has loaded (datasets, this loader, torch and torchcodec where
    installed): the measurements time the work, not the imports."""
    import datasets

    import imemnet_c  # noqa: F401

    with contextlib.suppress(ImportError):
        import torch  # noqa: F401  (datasets imports it, when installed, on the first streamed example)
    with contextlib.suppress(ImportError):
        import torchcodec.decoders  # noqa: F401  (datasets 4+ imports it on the first Audio value)
        import torchcodec.encoders  # noqa: F401
    datasets.logging.set_verbosity_warning()


def main(module, function):
    """In the measured process: the arguments from stdin, the function's result as the last line of stdout."""
    import importlib

    preload()
    run, arguments = getattr(importlib.import_module(module), function), json.load(sys.stdin)
    start = time.time()
    result = {"start": start, **run(*arguments)}
    result.setdefault("end", time.time())
    result.setdefault("first", result["end"])
    print(RESULT + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
