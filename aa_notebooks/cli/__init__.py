"""The `aa-notebooks` command: thin front end over the library's functions."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from aa_notebooks.cli.commands import build_parser
from aa_notebooks.cli.parser import HelpShown
from aa_notebooks.errors import AnalyticsError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are one line on stderr, never a traceback."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args) or 0
    except HelpShown:
        return 0
    except AnalyticsError as exc:
        print(f"aa-notebooks: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aa-notebooks: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("AA_DEBUG"):
            raise
        print(
            f"aa-notebooks: unexpected error: {type(exc).__name__}: {exc} "
            "(set AA_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
