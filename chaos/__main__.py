"""``python -m chaos``: run fault scenarios on a generated corpus and print the table.

    python -m chaos --events 100000 --bad-rate 0.01 --kills 20 --state-dir .state/chaos

Exit status 0 only when every scenario lost nothing, duplicated nothing, dead-lettered
every poison input and reached expected.json exactly.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from chaos.scenarios import SCENARIOS, FaultPlan, ScenarioResult, run_scenario
from devstack.state_dir import fresh_state_dir
from loadgen.corpus_writer import generate_corpus
from loadgen.parameters import GenerationParameters

logger = logging.getLogger(__name__)

FULL_RUN = ["process-kills", "broker-restart", "odoo-down", "odoo-errors"]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--bad-rate", type=float, default=0.01)
    parser.add_argument(
        "--corpus", type=Path, help="use this corpus instead of generating one"
    )
    parser.add_argument("--state-dir", type=Path, default=Path(".state/chaos"))
    parser.add_argument(
        "--scenarios", default=",".join(FULL_RUN), help=f"of {sorted(SCENARIOS)}"
    )
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--odoo-down-seconds", type=float, default=60.0)
    parser.add_argument("--odoo-error-seconds", type=float, default=30.0)
    parser.add_argument("--drain-timeout-seconds", type=float, default=3600.0)
    return parser.parse_args(argv)


def format_table(results: list[ScenarioResult]) -> str:
    header = (
        f"{'scenario':<16} {'events':>8} {'lost':>5} {'dup':>5} "
        f"{'dead-lettered':>13} {'recovery s (max/median)':>24} {'crashes':>7} "
        f"{'end state':>12} {'wall s':>7}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        verdict = result.verdict
        recoveries = sorted(result.recoveries)
        recovery = (
            f"{recoveries[-1]:.1f}/{recoveries[len(recoveries) // 2]:.1f}"
            if recoveries
            else "-"
        )
        if result.unrecovered:
            recovery += f" ({result.unrecovered} stuck)"
        end_state = (
            "equal" if not verdict.differences else f"{len(verdict.differences)} diffs"
        )
        lines.append(
            f"{result.scenario:<16} {result.events:>8} {verdict.lost:>5} "
            f"{verdict.duplicated:>5} "
            f"{f'{verdict.dead_lettered}/{verdict.poison_expected}':>13} "
            f"{recovery:>24} {len(result.crashes):>7} {end_state:>12} "
            f"{result.wall_seconds:>7.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    state_dir = fresh_state_dir(arguments.state_dir)

    corpus = arguments.corpus
    if corpus is None:
        corpus = state_dir / "corpus"
        began = time.monotonic()
        generate_corpus(
            GenerationParameters(
                events=arguments.events,
                seed=arguments.seed,
                bad_rate=arguments.bad_rate,
            ),
            corpus,
        )
        logger.info("corpus generated in %.0fs", time.monotonic() - began)
    plan = FaultPlan(
        kills=arguments.kills,
        odoo_down_seconds=arguments.odoo_down_seconds,
        odoo_error_seconds=arguments.odoo_error_seconds,
        drain_timeout_seconds=arguments.drain_timeout_seconds,
        seed=arguments.seed,
    )

    results: list[ScenarioResult] = []
    for name in arguments.scenarios.split(","):
        logger.info("scenario %s", name)
        result = run_scenario(SCENARIOS[name], corpus.resolve(), state_dir / name, plan)
        results.append(result)
        (state_dir / f"{name}.json").write_text(json.dumps(result.as_json(), indent=2))
        print(format_table([result]), flush=True)

    print("\n" + format_table(results))
    passed = all(result.as_json()["passed"] for result in results)
    print("all scenarios passed" if passed else "SOME SCENARIOS FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
