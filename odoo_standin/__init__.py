"""Development stand-in for an Odoo server. This is NOT Odoo.

It speaks the two Odoo wire protocols the sink uses, the JSON-2 API of Odoo 19+
(``POST /json/2/<model>/<method>``) and the JSON-RPC API of Odoo 18 and earlier
(``POST /jsonrpc`` with ``execute_kw``), over a small ORM backed by one SQLite file.
It defines only the models and fields listed in ``docs/odoo-mapping.md`` (plus
``res.country``, ``res.currency``, ``res.users`` and ``ir.model.data``) so the pipeline
can be developed and tested on a machine without Odoo. Production points the sink at a
real Odoo; nothing here is used there.

Run it with ``python -m odoo_standin --db PATH --port 8069``.

Test facility, not Odoo: switchable faults. ``POST /__standin__/faults`` with
``{"mode": "none" | "latency" | "http_5xx" | "http_429" | "serialization_failure" |
"drop_connection" | "commit_then_drop", "status": 503, "latency_ms": 0,
"retry_after": 1, "remaining": N or null, "models": [...] or null}`` makes the next
``remaining`` protocol calls (all of them while ``null``) on ``models`` (any model while
``null``) fail that way; ``GET`` on the same route reads the setting back.
``odoo_standin.fault_control.FaultControl`` is the Python client; ``faults.py``
describes each mode.
"""

from odoo_standin.faults import FAULT_ROUTE, FaultMode, FaultSetting
from odoo_standin.server import StandinConfig, build_app, serve

__all__ = [
    "FAULT_ROUTE",
    "FaultMode",
    "FaultSetting",
    "StandinConfig",
    "build_app",
    "serve",
]
