"""Avro schemas of every message the pipeline publishes.

Each ``pipeline.<Name>.avsc`` file holds one named type; fastavro resolves references
between them by file name. ``catalog.json`` lists the top-level messages and the schema
ids they carry on the wire when no Schema Registry is configured.
"""

from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
CATALOG_FILE = SCHEMA_DIR / "catalog.json"
