"""The `hessfit` command line: a thin typer layer over the public API.

Each command group lives in its own module and registers itself on ``app``; command modules import the
scientific stack inside the command functions, so ``hessfit --help`` imports neither jax nor matplotlib.
Every error is printed as one line (exit code 1): HessfitError as ``error: ...``, any other exception (a bug) as
``internal error: ...``; ``--debug`` (anywhere on the line) prints the traceback instead. The CLI switches on JAX's
persistent compilation cache (`hessfit.cli._cache`) unless ``--no-cache`` or ``HESSFIT_NO_COMPILE_CACHE=1``.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="hessfit: Hessians, INS spectra and refinement against measured neutron spectra.")

#: options main() accepts anywhere on the command line and moves in front of the command
_GLOBAL_FLAGS = ("--debug", "--no-cache")


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="print the full traceback of an error (anywhere on the line)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="do not use the persistent JAX compilation cache "
                                  "(~/.cache/hessfit; also HESSFIT_NO_COMPILE_CACHE=1)"),
):
    """hessfit: Hessians, INS spectra and refinement against measured neutron spectra."""
    from hessfit.cli._cache import enable_compile_cache

    if not no_cache:
        enable_compile_cache()

# command modules register themselves on `app` (imported for their side effect)
from hessfit.cli import _spectrum, _model, _sources, _compare, _refine  # noqa: E402,F401
from hessfit.cli import _finetune  # noqa: E402,F401


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the typer app; every exception becomes a one-line message and exit code 1."""
    from hessfit.errors import HessfitError

    argv = list(sys.argv[1:] if argv is None else argv)
    flags = [f for f in _GLOBAL_FLAGS if f in argv]
    argv = flags + [a for a in argv if a not in _GLOBAL_FLAGS]
    debug = "--debug" in flags
    if not debug:
        warnings.showwarning = _one_line_warning
    os.environ.setdefault("MPLBACKEND", "Agg")  # plots go to files; no window, and no display needed
    os.environ.setdefault("JAX_ENABLE_X64", "1")  # this process is ours: float64 throughout (read at jax import)
    if "jax" in sys.modules:  # main() called from Python after jax was imported: the variable comes too late
        sys.modules["jax"].config.update("jax_enable_x64", True)
    try:
        app(args=argv, standalone_mode=False)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        return int(code or 0)
    except typer.Abort:
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # usage errors from typer's bundled click
            exc.show()
            return int(exc.exit_code)
        if debug:
            traceback.print_exc()
        elif isinstance(exc, HessfitError):
            print(f"error: {_one_line(exc)}", file=sys.stderr)
        elif isinstance(exc, OSError):  # the system refused (permissions, disk full): not a hessfit bug
            print(f"error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        else:
            print(f"internal error: {type(exc).__name__}: {_one_line(exc)} (a bug in hessfit; run with --debug "
                  "for the traceback)", file=sys.stderr)
        return 1
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or "(no message)"


if __name__ == "__main__":
    sys.exit(main())
