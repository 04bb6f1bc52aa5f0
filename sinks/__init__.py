"""Sinks: consumers of the enriched topics that write business records into Odoo."""
