"""Development stand-in for an Odoo server. This is NOT Odoo.

It speaks the two Odoo wire protocols the sink uses, the JSON-2 API of Odoo 19+
(``POST /json/2/<model>/<method>``) and the JSON-RPC API of Odoo 18 and earlier
(``POST /jsonrpc`` with ``execute_kw``), over a small ORM backed by one SQLite file.
It defines only the models and fields listed in ``docs/odoo-mapping.md`` (plus
``res.country``, ``res.currency``, ``res.users`` and ``ir.model.data``) so the pipeline
can be developed and tested on a machine without Odoo. Production points the sink at a
real Odoo; nothing here is used there.

Run it with ``python -m odoo_standin --db PATH --port 8069``.
"""

from odoo_standin.server import StandinConfig, build_app, serve

__all__ = ["StandinConfig", "build_app", "serve"]
