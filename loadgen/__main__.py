"""``python -m loadgen``: the generator's command line."""

from loadgen.cli import app

app()
