"""`python -m chalicelib <command>`: the documented entry point of the developer tools.

The tools live in devtools/, beside chalicelib/, so the Lambda bundle holds only what
runs in Lambda; this file only delegates.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from devtools.cli import main as cli

    return int(cli())


if __name__ == "__main__":
    sys.exit(main())
