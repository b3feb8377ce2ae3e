"""The benchmarks behind BENCHMARKS.md, kept out of the package users install: `make bench` (many
small files), `make bench-realistic` (real-size downloads, in each environment). Run from the
repository's root: `python -m benchmarks.bench --help`."""
