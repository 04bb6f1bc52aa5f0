"""The pipeline as a whole: settings, the command line, and the demo job that runs every
stage against the local Kafka broker and the Odoo stand-in."""
