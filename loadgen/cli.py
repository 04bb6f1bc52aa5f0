"""``loadgen generate``: write a synthetic corpus and its expected state."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from loadgen.corpus_writer import generate_corpus
from loadgen.exceptions import LoadgenError
from loadgen.parameters import GenerationParameters

app = typer.Typer(
    help="Synthetic corpora in the sample layout, with their expected.json.",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """Synthetic corpora in the sample layout, with their expected.json."""


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Empty (or new) output directory.")],
    events: Annotated[
        int | None,
        typer.Option(
            help="Target number of true events (redeliveries and bad lines come on top)."
        ),
    ] = None,
    accounts: Annotated[
        int | None,
        typer.Option(
            help="Number of accounts (instead of --events, or as a cap with it)."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Same seed and options: byte-identical corpus.")
    ] = 1,
    duplicate_rate: Annotated[
        float,
        typer.Option(
            help="Share of accepted lines redelivered, byte-identical or with other delivery metadata."
        ),
    ] = 0.02,
    disorder_rate: Annotated[
        float,
        typer.Option(help="Share of events delivered 1-6 lines after their turn."),
    ] = 0.05,
    late_rate: Annotated[
        float,
        typer.Option(help="Share of events delivered 50-400 lines after their turn."),
    ] = 0.005,
    bad_rate: Annotated[
        float,
        typer.Option(
            help="Share of events accompanied by a bad line (every README rejection reason; invalid_json is a truncated first attempt followed by the intact retry)."
        ),
    ] = 0.005,
    bad_csv_rate: Annotated[
        float,
        typer.Option(
            help="Share of CRM companies followed by a row with a non-numeric Record ID."
        ),
    ] = 0.02,
    unlinked_rate: Annotated[
        float,
        typer.Option(
            help="Share of accounts that are billing customers unknown to the CRM."
        ),
    ] = 0.08,
    days: Annotated[
        int, typer.Option(help="Length of the covered period in days.")
    ] = 80,
    interleave: Annotated[
        int,
        typer.Option(
            help="Accounts whose events are merged by event time before delivery."
        ),
    ] = 64,
) -> None:
    """Write the seven source files and expected.json into OUT."""
    try:
        params = GenerationParameters(
            events=events,
            accounts=accounts,
            seed=seed,
            duplicate_rate=duplicate_rate,
            disorder_rate=disorder_rate,
            late_rate=late_rate,
            bad_rate=bad_rate,
            bad_csv_rate=bad_csv_rate,
            unlinked_rate=unlinked_rate,
            days=days,
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
