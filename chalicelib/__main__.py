"""`python -m chalicelib <command>`: the documented entry point of the developer tools.

The tools live in devtools/, beside chalicelib/, so the Lambda bundle holds only what
runs in Lambda; this file only delegates.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from devtools.cli import main as cli

    try:
        status = int(cli())
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`... | head`): what it did not read goes nowhere, quietly, as
        # for other command-line tools, instead of a traceback (Python's own recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # the shell's status for a writer stopped by SIGPIPE
    return status


if __name__ == "__main__":
    sys.exit(main())
