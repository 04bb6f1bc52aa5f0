"""Check every schema in a folder against its previous version, each under its mode.

The previous versions come from git (``git show <rev>:schemas/<file>``, ``HEAD`` by
default); the modes from ``schemas/compatibility.toml``. A schema whose file is new has
nothing to be compatible with; a schema whose file was removed breaks every mode but
``NONE``, because records written with it can no longer be read.
"""

from __future__ import annotations

import logging
import subprocess
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from schemas import SCHEMA_DIR
from schemas.compatibility import (
    CompatibilityMode,
    Incompatibility,
    SchemaLoadError,
    incompatibilities,
    load_avro,
    modes_by_schema,
)

logger = logging.getLogger(__name__)

MODES_FILE = SCHEMA_DIR / "compatibility.toml"
REPO_ROOT = SCHEMA_DIR.parent


class SchemaCheckError(Exception):
    """The check itself cannot run: unreadable modes file, unknown git revision."""


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    COMPATIBLE = "compatible"
    NEW = "new"
    REMOVED = "removed"
    INCOMPATIBLE = "incompatible"


@dataclass(frozen=True)
class SchemaVerdict:
    file: str
    schema: str  # the type name the mode is looked up by, e.g. BusinessEvent
    mode: CompatibilityMode
    outcome: Outcome
    problems: list[Incompatibility] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.outcome in (Outcome.INCOMPATIBLE, Outcome.REMOVED)


def read_modes(
    path: Path = MODES_FILE,
) -> tuple[CompatibilityMode, dict[str, CompatibilityMode]]:
    try:
        return modes_by_schema(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise SchemaCheckError(
            f"cannot read compatibility modes {path}: {exc}"
        ) from exc


def export_revision(
    revision: str,
    destination: Path,
    *,
    repo_root: Path = REPO_ROOT,
    schema_dir: Path = SCHEMA_DIR,
) -> list[str]:
    """Write the ``.avsc`` files of ``schema_dir`` at ``revision`` into ``destination``."""
    relative = schema_dir.resolve().relative_to(repo_root.resolve()).as_posix()
    listing = _git(repo_root, "ls-tree", "--name-only", revision, "--", f"{relative}/")
    names = [Path(line).name for line in listing.splitlines() if line.endswith(".avsc")]
    destination.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = _git(repo_root, "show", f"{revision}:{relative}/{name}")
        (destination / name).write_text(text)
    return names


def _git(repo_root: Path, *arguments: str) -> str:
    completed = subprocess.run(
        ["git", *arguments],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SchemaCheckError(
            f"git {' '.join(arguments)} failed: {completed.stderr.strip()}"
        )
    return completed.stdout


def check_folders(
    current_dir: Path, previous_dir: Path, modes_file: Path = MODES_FILE
) -> list[SchemaVerdict]:
    """A verdict for every ``.avsc`` in either folder, by file name."""
    default, modes = read_modes(modes_file)
    current = {path.name for path in current_dir.glob("*.avsc")}
    previous = {path.name for path in previous_dir.glob("*.avsc")}
    verdicts = []
    for name in sorted(current | previous):
        schema = _type_name(name)
        mode = modes.get(schema, default)
        verdicts.append(
            _verdict(name, schema, mode, current_dir / name, previous_dir / name)
        )
    return verdicts


def _verdict(
    name: str, schema: str, mode: CompatibilityMode, new: Path, old: Path
) -> SchemaVerdict:
    if not old.exists():
        return SchemaVerdict(name, schema, mode, Outcome.NEW)
    if not new.exists():
        outcome = (
            Outcome.UNCHANGED if mode is CompatibilityMode.NONE else Outcome.REMOVED
        )
        return SchemaVerdict(name, schema, mode, outcome)
    if mode is CompatibilityMode.NONE:
        return SchemaVerdict(name, schema, mode, Outcome.UNCHANGED)
    # Identical bytes are checked too: a schema also changes when a type it names
    # (in another file) changes, and that change must pass this schema's mode.
    try:
        problems = incompatibilities(load_avro(old), load_avro(new), mode)
    except SchemaLoadError as exc:
        problem = Incompatibility(schema, "parse", "", "cannot be loaded", str(exc))
        return SchemaVerdict(name, schema, mode, Outcome.INCOMPATIBLE, [problem])
    if problems:
        return SchemaVerdict(name, schema, mode, Outcome.INCOMPATIBLE, problems)
    same = new.read_bytes() == old.read_bytes()
    outcome = Outcome.UNCHANGED if same else Outcome.COMPATIBLE
    return SchemaVerdict(name, schema, mode, outcome)


def _type_name(file_name: str) -> str:
    """``pipeline.BusinessEvent.avsc`` -> ``BusinessEvent``."""
    return file_name.removesuffix(".avsc").rsplit(".", 1)[-1]
