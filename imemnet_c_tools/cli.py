"""imemnet-c: check your IMEMNet-C downloads before a long prepare, try the loader on the bundled
sample, export script-free Parquet for the Hub, or benchmark the loader. `imemnet-c COMMAND --help`
says what each command does and its defaults."""

import argparse
import sys

from imemnet_c_tools import bench, check, demo, export
from imemnet_c_tools.output import tidy_output

COMMANDS = {"check": check, "demo": demo, "export": export, "bench": bench}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The docstring as written, and each option's default after its help, unless the help says it."""

    def _get_help_string(self, action):
        shown = action.help or ""
        if "(default" in shown or action.default in (None, False, argparse.SUPPRESS):
            return shown
        default = " ".join(map(str, action.default)) if isinstance(action.default, list) else action.default
        return f"{shown} (default: {default})"


def parser():
    parser = argparse.ArgumentParser(prog="imemnet-c", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        summary = " ".join(module.__doc__.split("\n\n")[0].split())
        command = commands.add_parser(name, help=summary, description=module.__doc__, formatter_class=_HelpFormatter)
        module.arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv=None):
    """The `imemnet-c` command; returns its exit status."""
    args = parser().parse_args(argv)
    with tidy_output():
        return args.run(args) or 0


def alias(command):
    """`python -m imemnet_c_tools.<command> ...` is `imemnet-c <command> ...`."""
    sys.exit(main([command, *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
