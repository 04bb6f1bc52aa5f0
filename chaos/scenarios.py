"""Scenarios: which faults happen while a corpus flows, and the run that judges them.

A run is: 1. start a fresh stack; 2. ingest the corpus in a background thread; 3. wait
until records reach Odoo, then inject the scenario's faults one after the other,
measuring after each how long the pipeline took to move again; 4. wait for the ingest
and for every consumer group to drain; 5. hold Odoo and the dead-letter topic against
expected.json; 6. stop the stack.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.exceptions import ChaosError
from chaos.progress import GroupProgress, seconds_until_moving
from chaos.stack import ChaosStack, Component
from chaos.verdict import ScenarioVerdict, judge
from eventbus.topics import Topics
from odoo_standin.fault_control import FaultControl
from pipeline.idle_wait import GroupWatch, held_events_probe, wait_until_idle
from producers.ingest import IngestReport, ingest_corpus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaultPlan:
    """How hard each fault hits; the defaults are the full run's."""

    kills: int = 20
    kill_gap_seconds: tuple[float, float] = (2.0, 8.0)
    restart_pause_seconds: float = 2.0
    odoo_down_seconds: float = 60.0
    odoo_error_seconds: float = 30.0
    recovery_timeout_seconds: float = 240.0
    # A cold start on a busy machine (JVM, Faust's imports, group joins) is slow.
    first_write_timeout_seconds: float = 600.0
    drain_timeout_seconds: float = 3600.0
    seed: int = 1


@dataclass
class FaultRun:
    """What a scenario's faults can reach while they run, and what they measured."""

    stack: ChaosStack
    plan: FaultPlan
    rng: random.Random
    processor_group: GroupProgress
    sink_group: GroupProgress
    recoveries: list[float] = field(default_factory=list)
    unrecovered: int = 0
    injected: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)

    def supervise(self) -> None:
        """Restart what crashed on its own, and note it (a finding, not a fault)."""
        self.crashes.extend(self.stack.restart_crashed())

    def recovered(self, groups: list[GroupProgress]) -> None:
        seconds = seconds_until_moving(
            groups,
            timeout=self.plan.recovery_timeout_seconds,
            supervise=self.supervise,
        )
        if seconds is None:
            logger.warning(
                "no progress within %.0fs of lifting the fault",
                self.plan.recovery_timeout_seconds,
            )
            self.unrecovered += 1
        else:
            self.recoveries.append(seconds)


def kill_processes(run: FaultRun, kills: int | None = None) -> None:
    """SIGKILL the worker or the sink at random moments; restart after a pause."""
    targets: list[tuple[Component, GroupProgress]] = [
        (run.stack.processor, run.processor_group),
        (run.stack.sink, run.sink_group),
    ]
    count = run.plan.kills if kills is None else kills
    # Half the kills hit each target, in a random order.
    order = [targets[index % 2] for index in range(count)]
    run.rng.shuffle(order)
    for component, group in order:
        time.sleep(run.rng.uniform(*run.plan.kill_gap_seconds))
        component.kill()
        run.injected.append(f"kill {component.name}")
        time.sleep(run.plan.restart_pause_seconds)
        component.start()
        run.recovered([group])


def restart_broker(run: FaultRun) -> None:
    """Stop the broker and start it again on the same data directory and port."""
    down = run.stack.restart_broker()
    run.injected.append(f"broker restart ({down:.0f}s down)")
    run.recovered([run.processor_group, run.sink_group])


def odoo_outage(run: FaultRun) -> None:
    """SIGKILL the Odoo stand-in, keep it down, restart it on the same port and db."""
    run.stack.standin.kill()
    run.injected.append(f"odoo down {run.plan.odoo_down_seconds:.0f}s")
    time.sleep(run.plan.odoo_down_seconds)
    run.stack.start_standin()
    run.recovered([run.sink_group])


def odoo_errors(run: FaultRun) -> None:
    """Odoo answers 503 for a while, then 429 with Retry-After for a while."""
    with FaultControl(run.stack.settings.odoo.url) as faults:
        faults.switch_on("http_5xx", status=503)
        time.sleep(run.plan.odoo_error_seconds)
        faults.switch_on("http_429", retry_after=2)
        time.sleep(run.plan.odoo_error_seconds)
        faults.clear()
    run.injected.append(f"odoo 503+429 {2 * run.plan.odoo_error_seconds:.0f}s")
    run.recovered([run.sink_group])


def everything_once(run: FaultRun) -> None:
    """The short version: each kind of fault, in one run."""
    kill_processes(run, kills=max(2, min(run.plan.kills, 4)))
    restart_broker(run)
    odoo_outage(run)
    odoo_errors(run)


def all_faults(run: FaultRun) -> None:
    """Every fault of the full run in one run: the kills around a broker restart and
    an Odoo outage, then Odoo's error answers."""
    first_half = run.plan.kills // 2
    kill_processes(run, kills=first_half)
    restart_broker(run)
    odoo_outage(run)
    kill_processes(run, kills=run.plan.kills - first_half)
    odoo_errors(run)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    inject: Callable[[FaultRun], None]


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "process-kills",
            "SIGKILL the processor worker or the sink at random moments",
            kill_processes,
        ),
        Scenario("broker-restart", "restart the broker once mid-run", restart_broker),
        Scenario("odoo-down", "Odoo stand-in killed and kept down", odoo_outage),
        Scenario("odoo-errors", "Odoo answers 503, then 429", odoo_errors),
        Scenario("everything", "each fault once, in one run", everything_once),
        Scenario("all-faults", "every fault at full strength, in one run", all_faults),
    )
}


@dataclass
class ScenarioResult:
    scenario: str
    events: int
    verdict: ScenarioVerdict
    recoveries: list[float]
    unrecovered: int
    injected: list[str]
    crashes: list[str]
    wall_seconds: float

    def as_json(self) -> dict[str, Any]:
        verdict = self.verdict
        return {
            "scenario": self.scenario,
            "events": self.events,
            "expected_records": verdict.expected_records,
            "lost": verdict.lost,
            "duplicated": verdict.duplicated,
            "duplicate_keys": verdict.duplicate_keys,
            "dead_lettered": verdict.dead_lettered,
            "poison_expected": verdict.poison_expected,
            "poison_missing": verdict.poison_missing,
            "differences": [str(d) for d in verdict.differences],
            "recoveries_seconds": [round(s, 2) for s in self.recoveries],
            "unrecovered": self.unrecovered,
            "injected": self.injected,
            "crashes": self.crashes,
            "wall_seconds": round(self.wall_seconds, 1),
            "passed": verdict.passed and self.unrecovered == 0,
        }


def run_scenario(
    scenario: Scenario, corpus_dir: Path, state_dir: Path, plan: FaultPlan
) -> ScenarioResult:
    """Run ``scenario`` on ``corpus_dir`` in a fresh stack under ``state_dir``."""
    expected = json.loads((corpus_dir / "expected.json").read_text())
    began = time.monotonic()
    stack = ChaosStack(state_dir)
    try:
        # 1. a fresh stack
        stack.start()
        bootstrap = stack.settings.kafka.bootstrap_servers
        topics = Topics(stack.settings.kafka.topic_prefix)
        processor_topics = [*topics.source_topics, topics.deduplicated]
        processor_group = GroupProgress(
            bootstrap, stack.settings.processors.app_id, processor_topics
        )
        sink_group = GroupProgress(
            bootstrap, stack.settings.sink.group_id, [topics.enriched]
        )
        run = FaultRun(
            stack, plan, random.Random(plan.seed), processor_group, sink_group
        )

        # 2. the corpus flows in the background
        ingest = IngestThread(corpus_dir, stack)
        ingest.start()

        # 3. faults, once records reach Odoo
        wait_for_first_writes(sink_group, run, timeout=plan.first_write_timeout_seconds)
        logger.info("injecting faults of scenario %s", scenario.name)
        scenario.inject(run)

        # 4. drain
        report = ingest.result(timeout=plan.drain_timeout_seconds)
        wait_until_idle(
            bootstrap,
            [
                GroupWatch(processor_group.group_id, processor_topics),
                GroupWatch(sink_group.group_id, [topics.enriched]),
            ],
            quiet_seconds=8.0,
            timeout_seconds=plan.drain_timeout_seconds,
            still_running=run.supervise,
            held_events=held_events_probe(stack.settings.processors.web_port),
        )
        processor_group.close()
        sink_group.close()

        # 5. the oracle's verdict
        verdict = judge(stack.settings, expected)
        return ScenarioResult(
            scenario.name,
            report.accepted,
            verdict,
            run.recoveries,
            run.unrecovered,
            run.injected,
            run.crashes,
            time.monotonic() - began,
        )
    finally:
        # 6. stop
        stack.stop()


def wait_for_first_writes(
    sink_group: GroupProgress, run: FaultRun, timeout: float
) -> None:
    """Block until the sink has committed something: records go end to end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.supervise()
        position = sink_group.position()
        if position is not None and position.committed > 0:
            return
        time.sleep(0.5)
    raise ChaosError(f"no record reached Odoo within {timeout:.0f}s")


class IngestThread:
    """``ingest_corpus`` in a thread, so faults can happen while it publishes."""

    def __init__(self, corpus_dir: Path, stack: ChaosStack) -> None:
        self._corpus_dir = corpus_dir
        self._stack = stack
        self._report: IngestReport | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._report = ingest_corpus(self._corpus_dir, self._stack.settings)
        except BaseException as exc:  # noqa: BLE001 - re-raised in result()
            self._error = exc

    def result(self, timeout: float) -> IngestReport:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise ChaosError(
                f"ingest of {self._corpus_dir} still running after {timeout:.0f}s"
            )
        if self._error is not None:
            raise ChaosError(
                f"ingest of {self._corpus_dir} failed: {self._error}"
            ) from self._error
        assert self._report is not None
        return self._report
