"""The ``tuneworth`` command line. Command bodies import lazily so ``--help`` stays fast.

Exit codes: 0 ok, 1 a run or gate failed, 2 usage or data error. Errors are printed as one clear
message (with the fix); ``TUNEWORTH_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import click

from tuneworth import __version__
from tuneworth.cli.audit import audit_cmd
from tuneworth.cli.commands import cache_cmd, climb_cmd, init_cmd, report_cmd, validate_cmd
from tuneworth.cli.decide import cost_cmd, decide_cmd, estimate_cmd
from tuneworth.cli.finetune import eval_cmd, prepare_cmd, tune_cmd
from tuneworth.cli.rag import index_cmd, search_cmd
from tuneworth.cli.serve import serve_cmd
from tuneworth.errors import TuneworthError
from tuneworth.paths import debug


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tuneworth")
def cli() -> None:
    """Should we fine-tune? Climb the customization ladder on your own data and decide with evidence."""


cli.add_command(climb_cmd)
cli.add_command(init_cmd)
cli.add_command(report_cmd)
cli.add_command(validate_cmd)
cli.add_command(cache_cmd)
for _cmd in (decide_cmd, cost_cmd, estimate_cmd):
    cli.add_command(_cmd)
cli.add_command(audit_cmd)
cli.add_command(serve_cmd)
cli.add_command(index_cmd)
cli.add_command(search_cmd)
cli.add_command(prepare_cmd)
cli.add_command(tune_cmd)
cli.add_command(eval_cmd)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="tuneworth", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except TuneworthError as e:
        if debug():
            raise
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted: finished items are in the run directory", err=True)
        sys.exit(130)
