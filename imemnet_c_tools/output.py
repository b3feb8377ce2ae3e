"""What the commands print: each distinct warning once, none of the libraries' noise for this
dataset, and values as a person reads them."""

import contextlib
import logging

# datasets 3.6 reads the README.md beside a loading script as its card; this project's has no YAML.
NOISE = ("Repo card metadata block was not found",)


class _Once(logging.Filter):
    def __init__(self):
        super().__init__()
        self.seen = set()

    def filter(self, record):
        message = record.getMessage()
        if message.startswith(NOISE) or message in self.seen:
            return False
        self.seen.add(message)
        return True


@contextlib.contextmanager
def tidy_output():
    """While it lasts, every warning is printed once (the loader's, datasets' and huggingface_hub's),
    and noise not at all."""
    root, added = logging.getLogger(), None
    if not root.handlers:  # the loader logs through the root logger: give it a handler of ours
        added = logging.StreamHandler()
        added.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(added)
    once = _Once()
    handlers = [h for name in ("", "datasets", "huggingface_hub") for h in logging.getLogger(name).handlers]
    for handler in handlers:
        handler.addFilter(once)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(once)
        if added:
            root.removeHandler(added)


def rounded(value):
    """A float as a person reads it (three decimals); anything else as it is."""
    return round(value, 3) if isinstance(value, float) else value
