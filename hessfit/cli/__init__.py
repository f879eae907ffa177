"""The `hessfit` command line: a thin typer layer over the public API.

Each command group lives in its own module and registers itself on ``app``.
Errors derived from HessfitError are printed as one line (exit code 1); ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import sys
import warnings

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="hessfit: Hessians, INS spectra and refinement against measured neutron spectra.")

# command modules register themselves on `app` (imported for their side effect)
from hessfit.cli import _spectrum, _model, _sources, _compare, _refine  # noqa: E402,F401
from hessfit.cli import _finetune  # noqa: E402,F401


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the typer app, turning HessfitError into a one-line message and exit code 1."""
    from hessfit.errors import HessfitError

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    else:
        warnings.showwarning = _one_line_warning
    try:
        app(args=argv, standalone_mode=False)
    except HessfitError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        return int(code or 0)
    except typer.Abort:
        return 1
    except Exception as exc:  # usage errors from typer's bundled click
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            return int(exc.exit_code)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
