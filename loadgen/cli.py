"""``loadgen generate``: write a synthetic corpus and its expected state."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError

from loadgen.corpus_writer import generate_corpus
from loadgen.exceptions import LoadgenError
from loadgen.parameters import GenerationParameters

app = typer.Typer(help="Synthetic corpora in the sample layout, with expected.json.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Synthetic corpora in the sample layout, with expected.json."""


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Empty (or new) output directory."),
    events: int | None = typer.Option(None, "--events", help="Target number of true events (before redeliveries and bad lines)."),
    accounts: int | None = typer.Option(None, "--accounts", help="Number of accounts (instead of, or as a cap with, --events)."),
    seed: int = typer.Option(1, "--seed", help="Same seed and options give byte-identical output."),
    duplicate_rate: float = typer.Option(0.02, "--duplicate-rate", help="Share of accepted lines redelivered (byte-identical or with other delivery metadata)."),
    disorder_rate: float = typer.Option(0.05, "--disorder-rate", help="Share of events delivered 1-6 lines late."),
    late_rate: float = typer.Option(0.005, "--late-rate", help="Share of events delivered 50-400 lines late."),
    bad_rate: float = typer.Option(0.005, "--bad-rate", help="Share of events preceded by a bad line (every README rejection reason)."),
    bad_csv_rate: float = typer.Option(0.02, "--bad-csv-rate", help="Share of CRM companies followed by a row with a non-numeric Record ID."),
    unlinked_rate: float = typer.Option(0.08, "--unlinked-rate", help="Share of accounts that are billing customers unknown to the CRM."),
    days: int = typer.Option(80, "--days", help="Length of the covered period in days."),
    interleave: int = typer.Option(64, "--interleave", help="Accounts whose events are merged by time before delivery."),
) -> None:
    """Write the seven source files and expected.json into OUT."""
    try:
        params = GenerationParameters(
            events=events, accounts=accounts, seed=seed, duplicate_rate=duplicate_rate,
            disorder_rate=disorder_rate, late_rate=late_rate, bad_rate=bad_rate,
            bad_csv_rate=bad_csv_rate, unlinked_rate=unlinked_rate, days=days,
            interleave=interleave,
        )
        report = generate_corpus(params, out)
    except (ValidationError, LoadgenError) as error:
        typer.echo(f"loadgen: {error}", err=True)
        raise typer.Exit(2) from error
    rate = report.event_lines / report.seconds if report.seconds else 0.0
    typer.echo(
        f"{report.accounts} accounts, {report.event_lines} event lines "
        f"({report.rejected_lines} rejected, {report.duplicate_lines} duplicate) "
        f"in {report.seconds:.1f}s ({rate:,.0f} lines/s) -> {report.out_dir}"
    )
