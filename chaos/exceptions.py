"""Errors of the fault-injection harness.

ChaosError
 └── StackError   a component of the stack under test could not be started or stopped
"""


class ChaosError(Exception):
    """The harness could not run a scenario to its verdict."""


class StackError(ChaosError):
    """A component of the stack under test did not start, stop or answer in time."""
