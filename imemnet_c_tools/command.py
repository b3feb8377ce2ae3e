"""What every `imemnet-c` command shares, in a module that imports none of them: the parser of a
command module (its docstring as help, each option's default shown), its run with tidy output, and
its `python -m imemnet_c_tools.<name>` alias. A command module has `arguments(parser)` and
`run(args)`, which returns the exit status."""

import argparse
import os
import sys

from imemnet_c_tools.output import tidy_output

PROG = "imemnet-c"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The docstring as written, and each option's default after its help, unless the help says it."""

    def _get_help_string(self, action):
        shown = action.help or ""
        if "(default" in shown or action.default in (None, False, argparse.SUPPRESS):
            return shown
        default = " ".join(map(str, action.default)) if isinstance(action.default, list) else action.default
        return f"{shown} (default: {default})"


def summary(module):
    """The first paragraph of a command module's docstring, on one line, as argparse's help (where
    a `%` starts a format: "95%" is written "95%%")."""
    return " ".join(module.__doc__.split("\n\n")[0].split()).replace("%", "%%")


def configure(parser, module):
    """Makes `parser` the command of `module`: its options, and `run` to call."""
    module.arguments(parser)
    parser.set_defaults(run=module.run)
    return parser


def execute(args):
    """Runs a parsed command with tidy output; returns its exit status."""
    with tidy_output():
        return args.run(args) or 0


def alias():
    """`python -m imemnet_c_tools.<name> ...` runs the module Python started as `imemnet-c <name> ...`:
    the same parser (and so the same help and usage errors), output and exit status."""
    module = sys.modules["__main__"]
    name = module.__spec__.name.rpartition(".")[2] if module.__spec__ else os.path.basename(module.__file__)[:-3]
    parser = argparse.ArgumentParser(prog=f"{PROG} {name}", description=module.__doc__, formatter_class=HelpFormatter)
    sys.exit(execute(configure(parser, module).parse_args()))
