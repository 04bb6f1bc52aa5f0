"""Errors raised by the corpus generator.

LoadgenError
 ├── InvalidParameters   a rate or size is out of range
 └── OutputNotWritable   the output directory cannot be used
"""

from __future__ import annotations


class LoadgenError(Exception):
    """Base class of every generator error."""


class InvalidParameters(LoadgenError):
    """A generation parameter is out of range; the message names it and why."""


class OutputNotWritable(LoadgenError):
    """The output directory exists and holds files, or cannot be created."""
