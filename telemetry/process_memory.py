"""Resident memory of a process, read from ``/proc/<pid>/status`` (Linux)."""

from __future__ import annotations


def resident_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB; None when the process is gone or /proc has no answer."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
