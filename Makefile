# `make demo` and `make test` are all a newcomer needs: each creates its environments on first use.
#   .venv    datasets 3.6, the last release that runs loading scripts (requirements.txt)
#   .venv-5  datasets 5.x, where imemnet_c.load runs the builder class (requirements-5.txt)
#   .venv-5-soundfile  datasets 5.x without torch or torchcodec (requirements-test-5-soundfile.txt)
#   .venv-2  datasets 2.21, the oldest supported release: `pip install .` as a user would (requirements-2.txt)
PYTHON ?= python3
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
PIP_INSTALL := -m pip install --quiet --disable-pip-version-check
FFMPEG_LIBS := libavcodec59 libavformat59 libavutil57 libavdevice59 libavfilter8 libswscale6 libswresample4

.PHONY: demo test test-36 test-5 test-5-soundfile smoke-oldest lint ffmpeg sample plot bench bench-realistic bench-full clean

.venv/.installed: requirements.txt requirements-test.txt requirements-plot.txt requirements-evaluate.txt
	$(PYTHON) -m venv .venv
	.venv/bin/python $(PIP_INSTALL) -r requirements-test.txt
	touch $@

.venv-5/.installed: requirements-5.txt requirements-5-core.txt requirements-test-5.txt requirements-plot.txt requirements-evaluate.txt
	$(PYTHON) -m venv .venv-5
	.venv-5/bin/python $(PIP_INSTALL) -r requirements-test-5.txt
	touch $@

.venv-5-soundfile/.installed: requirements-5-core.txt requirements-test-5-soundfile.txt
	rm -rf .venv-5-soundfile
	$(PYTHON) -m venv .venv-5-soundfile
	.venv-5-soundfile/bin/python $(PIP_INSTALL) -r requirements-test-5-soundfile.txt
	touch $@

.venv-2/.installed: requirements-2.txt
	rm -rf .venv-2
	$(PYTHON) -m venv .venv-2
	.venv-2/bin/python $(PIP_INSTALL) -r requirements-2.txt
	touch $@

demo: .venv/.installed
	$(OFFLINE) HF_HOME=$(CURDIR)/.hf-demo .venv/bin/python -m imemnet_c_tools.demo

test: lint test-36 test-5 test-5-soundfile smoke-oldest

lint: .venv/.installed
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test-36: .venv/.installed
	.venv/bin/python -m pytest

# The same suite on datasets 5.x; its cross-version test compares content with the 3.6 environment.
test-5: .venv-5/.installed .venv/.installed ffmpeg
	IMEMNET_C_PEER_PYTHON=$(CURDIR)/.venv/bin/python .venv-5/bin/python -m pytest

# datasets 5.x without torch or torchcodec: music and paired prepare and stream, and imemnet_c_tools.pairs and
# the media checks decode with soundfile.
test-5-soundfile: .venv-5-soundfile/.installed
	.venv-5-soundfile/bin/python -m pytest tests/test_without_torchcodec.py tests/test_media_checks.py

# On the oldest supported datasets: install this folder with pip (its declared ranges must accept
# the pins), then, from outside the clone, check the sample and load every config of the copy the
# package carries, prepared and streaming.
smoke-oldest: .venv-2/.installed
	.venv-2/bin/python -m pip uninstall --quiet --yes imemnet-c
	.venv-2/bin/python $(PIP_INSTALL) ".[audio-librosa]" -c requirements-2.txt
	rm -rf .hf-smoke
	cd /tmp && $(OFFLINE) HF_HOME=$(CURDIR)/.hf-smoke $(CURDIR)/.venv-2/bin/imemnet-c check $(CURDIR)/data/sample
	cd /tmp && $(OFFLINE) HF_HOME=$(CURDIR)/.hf-smoke $(CURDIR)/.venv-2/bin/imemnet-c demo

ffmpeg:
	@if ! ldconfig -p | grep -q libavcodec.so.59; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(FFMPEG_LIBS) >/dev/null; \
	  else echo "torchcodec needs FFmpeg 5.1's libraries: sudo apt-get install $(FFMPEG_LIBS)"; exit 1; fi; \
	fi

sample: .venv/.installed
	.venv/bin/python -m imemnet_c_tools.sample data/sample

# The card's figure, from the real annotation files (ANNOTATIONS=folder holding them).
plot: .venv/.installed
	.venv/bin/python -m imemnet_c_tools.plot --annotations $(or $(ANNOTATIONS),../shared/reference) --out docs/va_space.png

# The benchmarks behind BENCHMARKS.md (benchmarks/, not in the package): each run keeps its results
# (naming the commit) and writes BENCHMARKS.md whole from all those kept; they run long at the default
# sizes. ARGS passes options: make bench ARGS="--sizes 1000 --runs 1"; all: .venv/bin/python -m benchmarks.bench --help.
bench: .venv/.installed
	$(OFFLINE) .venv/bin/python -m benchmarks.bench $(ARGS)

# Real-size downloads and the training pairs' epochs, in each environment in turn: each fills its datasets version's columns.
bench-realistic: .venv/.installed .venv-5/.installed ffmpeg
	$(OFFLINE) .venv/bin/python -m benchmarks.bench --realistic $(ARGS)
	$(OFFLINE) .venv-5/bin/python -m benchmarks.bench --realistic $(ARGS)

# Every command (and the pairs' planning) at 1K, 4K and IMEMNet-C's full count (tiny media), in each environment in turn.
bench-full: .venv/.installed .venv-5/.installed ffmpeg
	$(OFFLINE) .venv/bin/python -m benchmarks.bench --full-count --work /tmp/imemnet-c-full $(ARGS)
	$(OFFLINE) .venv-5/bin/python -m benchmarks.bench --full-count --work /tmp/imemnet-c-full $(ARGS)

clean:
	rm -rf .venv .venv-5 .venv-5-soundfile .venv-2 .hf-demo .hf-smoke .pytest_cache
