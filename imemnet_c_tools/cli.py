"""imemnet-c: check your IMEMNet-C downloads before a long prepare, try the loader on the bundled
sample, export script-free Parquet for the Hub, or evaluate predictions on a held-out split.
`imemnet-c COMMAND --help` says what each command does and its defaults."""

import argparse
import sys

from imemnet_c_tools import check, demo, evaluate, export
from imemnet_c_tools.command import PROG, HelpFormatter, configure, execute, summary

COMMANDS = {"check": check, "demo": demo, "export": export, "evaluate": evaluate}


def parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        configure(
            commands.add_parser(name, help=summary(module), description=module.__doc__, formatter_class=HelpFormatter),
            module,
        )
    return parser


def main(argv=None):
    """The `imemnet-c` command; returns its exit status."""
    return execute(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
