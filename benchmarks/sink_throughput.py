"""Records per second of the Odoo sink's write path: batched against one at a time.

Starts the Odoo stand-in on a free loopback port (a fresh SQLite file per mode), builds
the same synthetic enriched records for both modes (accounts with contacts,
subscriptions, invoices, usage and tickets, later versions of some records, a few
merges), and applies them through ``SegmentApplier`` in polls of ``--batch`` records,
as the consumer does, without Kafka. Prints records/s, Odoo calls per record and the
ratio, with a description of the machine.

    python benchmarks/sink_throughput.py --records 1000 --protocol json2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from eventbus import AvroCodec
from pipeline.settings import OdooSettings
from sinks.batch_writer import BatchWriter
from sinks.consumer import RecordApplier, RecordSource
from sinks.odoo import MethodCall, OdooClient, make_client
from sinks.odoo_writer import OdooWriter
from sinks.segment_applier import PendingRecord, SegmentApplier

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULE = "saas_pipeline"


class CountingClient(OdooClient):
    """Counts the calls sent through another client."""

    def __init__(self, inner: OdooClient) -> None:
        self.inner = inner
        self.calls = 0

    def execute(self, call: MethodCall) -> Any:
        self.calls += 1
        return self.inner.execute(call)

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.call(model, method, *args, **kwargs)

    def close(self) -> None:
        self.inner.close()


def synthetic_records(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` enriched records over about count/20 accounts, in publication order."""
    rng = random.Random(seed)
    stamp = datetime(2024, 5, 1, tzinfo=UTC)
    accounts = max(2, count // 20)
    records: list[dict[str, Any]] = []
    version = 0

    def context(n: int, revision: int) -> dict[str, Any]:
        return {
            "canonical_account_id": f"acc-{n}",
            "revision": revision,
            "display_name": f"Account {n}",
            "domain": f"a{n}.example",
            "country_code": "NO",
            "vat_number": None,
            "linked_to_crm": True,
            "flags": [],
            "crm_company_ids": [f"crm-{n}"],
            "billing_customer_ids": [f"cus-{n}"],
            "product_group_ids": [f"ws-{n}"],
            "helpdesk_organization_ids": [],
            "contact_emails": [f"p{n}@a{n}.example"],
            "billing_emails": [],
        }

    def event(kind: str, n: int, payload: Any, source: str) -> dict[str, Any]:
        nonlocal version
        version += 1
        return {
            "canonical_account_id": f"acc-{n}",
            "record_kind": kind,
            "record_id": f"{kind}-{version}",
            "version": version,
            "event_id": f"ev-{version}",
            "event_type": "bench",
            "source_system": source,
            "occurred_at": stamp,
            "account": context(n, 1),
            "trace_context": {},
            "payload": payload,
        }

    merged = set()
    while len(records) < count:
        n = rng.randrange(accounts)
        kind = rng.choice(
            ["account_profile", "contact", "subscription", "invoice", "usage", "ticket"]
            + ["invoice", "usage", "ticket"]
        )
        item = rng.randrange(4)
        if kind == "account_profile":
            records.append(event(kind, n, None, "crm"))
        elif kind == "contact":
            payload = {
                "record_id": f"c-{n}-{item}",
                "name": f"Person {item}",
                "email": f"p{item}@a{n}.example",
                "phone": None,
                "company_id": None,
                "created_at": stamp,
                "modified_at": stamp,
            }
            records.append(event(kind, n, ("pipeline.CrmContact", payload), "crm"))
        elif kind == "subscription":
            payload = {
                "subscription_id": f"sub-{n}-{item}",
                "customer_id": f"cus-{n}",
                "status": rng.choice(["active", "trialing", "canceled"]),
                "price_id": "price_1",
                "price_lookup_key": None,
                "product_id": "prod_1",
                "unit_amount": 2500,
                "currency": "nok",
                "currency_exponent": 2,
                "interval": "month",
                "quantity": rng.randrange(1, 9),
                "cancel_at_period_end": False,
            }
            records.append(
                event(kind, n, ("pipeline.Subscription", payload), "billing")
            )
        elif kind == "invoice":
            paid = rng.choice([0, 7500])
            payload = {
                "invoice_id": f"in-{n}-{rng.randrange(12)}",
                "number": None,
                "customer_id": f"cus-{n}",
                "subscription_id": None,
                "status": "paid" if paid else "open",
                "charge_id": None,
                "amount_total": 7500,
                "amount_due": 7500,
                "amount_paid": paid,
                "amount_remaining": 7500 - paid,
                "currency": "nok",
                "currency_exponent": 2,
                "amount_refunded": 0,
                "payment_status": "paid" if paid else "not_paid",
            }
            records.append(event(kind, n, ("pipeline.Invoice", payload), "billing"))
        elif kind == "usage":
            payload = {
                "group_id": f"ws-{n}",
                "day": f"2024-05-{rng.randrange(1, 29):02d}",
                "event_name": "Calls",
                "count": rng.randrange(1, 50),
                "quantity": rng.randrange(1, 500),
            }
            records.append(
                event("usage_daily", n, ("pipeline.UsageDaily", payload), "product")
            )
        else:
            payload = {
                "ticket_id": f"t-{n}-{rng.randrange(6)}",
                "subject": "Help",
                "status": rng.choice(["new", "open", "solved"]),
                "priority": rng.choice([None, "low", "high"]),
                "organization_id": None,
                "requester_id": None,
            }
            records.append(event(kind, n, ("pipeline.Ticket", payload), "helpdesk"))
        if len(records) % 250 == 0 and n + 1 < accounts and n + 1 not in merged:
            merged.add(n + 1)
            payload = {
                "survivor_id": f"acc-{n}",
                "absorbed_ids": [f"acc-{n + 1}"],
                "reason": "bench",
            }
            records.append(
                event("account_merge", n + 1, ("pipeline.AccountMerge", payload), "crm")
            )
    return records[:count]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_standin(directory: Path) -> tuple[subprocess.Popen[bytes], OdooSettings]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odoo_standin",
            "--db",
            str(directory / "standin.sqlite"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--database",
            "bench",
            "--login",
            "sink",
            "--api-key",
            "bench-key-not-secret",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/web/version", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    settings = OdooSettings(
        url=url,
        database="bench",
        login="sink",
        api_key=SecretStr("bench-key-not-secret"),
    )
    return process, settings


def run_mode(
    batched: bool, values: list[bytes], batch: int, protocol: str
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        process, settings = start_standin(Path(directory))
        try:
            settings = settings.model_copy(update={"protocol": protocol})
            client = CountingClient(make_client(settings))
            writer = OdooWriter(client, MODULE)
            applier = RecordApplier(writer, AvroCodec())
            segments = SegmentApplier(
                applier, BatchWriter(client, writer, MODULE) if batched else None
            )
            pending = [
                PendingRecord(RecordSource("enriched.accounts", 0, offset), value)
                for offset, value in enumerate(values)
            ]
            started = time.perf_counter()
            for start in range(0, len(pending), batch):
                poll = segments.apply(pending[start : start + batch])
                if poll.unavailable is not None:
                    raise RuntimeError(str(poll.unavailable))
            seconds = time.perf_counter() - started
            client.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
    return {
        "seconds": round(seconds, 3),
        "records_per_second": round(len(values) / seconds, 1),
        "calls_per_record": round(client.calls / len(values), 3),
    }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--protocol", choices=["json2", "jsonrpc"], default="json2")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()

    codec = AvroCodec()
    values = [
        codec.encode("EnrichedEvent", record)
        for record in synthetic_records(options.records, options.seed)
    ]
    one_by_one = run_mode(False, values, options.batch, options.protocol)
    batched = run_mode(True, values, options.batch, options.protocol)
    report = {
        "records": len(values),
        "batch": options.batch,
        "protocol": options.protocol,
        "one_by_one": one_by_one,
        "batched": batched,
        "speedup": round(
            batched["records_per_second"] / one_by_one["records_per_second"], 2
        ),
        "machine": machine(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
