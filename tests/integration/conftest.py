"""Fixtures of the integration tier around the Odoo stand-in.

* ``standin``: a stand-in over a fresh database for each test. A module whose tests can
  share one defines its own module-scoped ``standin``, which the fixtures below then use.
* ``sink_settings``: the test's ``pipeline_settings`` pointed at that stand-in, once per
  Odoo protocol, with the test's topics made. A module that needs other sink or Odoo
  settings defines its own ``sink_settings``.
* ``client``: the sink's Odoo client for ``sink_settings``.
* ``faults``: the stand-in's fault switch, cleared before and after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from standin_fixture import PROTOCOLS, RunningStandin, running_standin

from eventbus.topic_admin import ensure_topics
from odoo_standin.fault_control import FaultControl
from pipeline.settings import Settings
from sinks.odoo import OdooClient, make_client


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[RunningStandin]:
    with running_standin(tmp_path) as server:
        yield server


@pytest.fixture(params=PROTOCOLS)
def sink_settings(
    request: pytest.FixtureRequest, pipeline_settings: Settings, standin: RunningStandin
) -> Settings:
    settings = pipeline_settings.model_copy(
        update={"odoo": standin.settings(request.param)}
    )
    ensure_topics(settings)
    return settings


@pytest.fixture
def client(sink_settings: Settings) -> Iterator[OdooClient]:
    with make_client(sink_settings.odoo) as odoo:
        yield odoo


@pytest.fixture
def faults(standin: RunningStandin) -> Iterator[FaultControl]:
    with standin.fault_control() as control:
        control.clear()
        yield control
        control.clear()
