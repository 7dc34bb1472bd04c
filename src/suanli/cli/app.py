"""The ``suanli`` command: a thin Typer layer over the Python API."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from suanli import __version__
from suanli.cli.analyze_cmd import analyze_command
from suanli.cli.audit_cmd import audit_command
from suanli.cli.catalog_cmd import catalog_app, models_app
from suanli.cli.compare_cmd import compare_command
from suanli.cli.decide_cmd import optimize_command, robust_command, sensitivity_command
from suanli.cli.order_cmd import order_command
from suanli.cli.output import err_console
from suanli.cli.predict_cmd import predict_app
from suanli.cli.scenario_cmd import scenario_app, simulate_command
from suanli.cli.sovereignty_cmd import sovereignty_command
from suanli.cli.standoff_cmd import standoff_command
from suanli.cli.validate_cmd import validate_command
from suanli.errors import SuanliError

app = typer.Typer(
    name="suanli",
    help="suanli (算力): which accelerators to buy, how many, when, and at what risk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(models_app, name="models")
app.command("order")(order_command)
app.add_typer(predict_app, name="predict")
app.command("validate")(validate_command)
app.command("compare")(compare_command)
app.add_typer(scenario_app, name="scenario")
app.command("simulate")(simulate_command)
app.command("analyze")(analyze_command)
app.command("optimize")(optimize_command)
app.command("robust")(robust_command)
app.command("sensitivity")(sensitivity_command)
app.command("sovereignty")(sovereignty_command)
app.command("audit")(audit_command)
app.command("standoff")(standoff_command)


def _version(value: bool) -> None:
    if value:
        print(f"suanli {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Suanli (算力): which accelerators to buy, how many, when, and at what risk."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (2 for bad input, 1 for an internal error)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # Typer reports its own usage errors (exit 2) and ends with SystemExit.
        app(args=args, prog_name="suanli", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except SuanliError as exc:
        if debug:
            raise
        err_console.print(f"error: {exc}", markup=False)
        return 2
    except Exception as exc:
        if debug:
            raise
        err_console.print(
            f"error: internal error: {exc!r} (run with --debug for the traceback)", markup=False
        )
        return 1
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
