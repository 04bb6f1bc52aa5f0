"""Schema compatibility rules, the folder check, git revisions, and old records read
by the current code."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.utils import generate_one
from typer.testing import CliRunner

from eventbus import AvroCodec
from schemas import SCHEMA_DIR
from schemas import cli as schemas_cli
from schemas.check import Outcome, SchemaVerdict, check_folders, export_revision
from schemas.compatibility import CompatibilityMode, incompatibilities, load_avro

BACKWARD = CompatibilityMode.BACKWARD
FORWARD = CompatibilityMode.FORWARD
FULL = CompatibilityMode.FULL


def record(name: str, fields: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "t", "fields": fields, **extra}


def enum(symbols: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "Colour", "symbols": symbols, **extra}


def write_schema(folder: Path, schema: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"t.{schema['name']}.avsc"
    path.write_text(json.dumps(schema))
    return path


def problems(
    tmp_path: Path, old: dict[str, Any], new: dict[str, Any], mode: CompatibilityMode
) -> list[str]:
    old_schema = load_avro(write_schema(tmp_path / "old", old))
    new_schema = load_avro(write_schema(tmp_path / "new", new))
    return [str(p) for p in incompatibilities(old_schema, new_schema, mode)]


def fastavro_reads(
    writer: dict[str, Any], reader: dict[str, Any], datum: dict[str, Any]
) -> bool:
    """Whether fastavro's own schema resolution reads ``datum`` written with ``writer``."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(writer), datum)
    buffer.seek(0)
    try:
        fastavro.schemaless_reader(
            buffer, fastavro.parse_schema(writer), fastavro.parse_schema(reader)
        )
    except fastavro.read.SchemaResolutionError:
        return False
    return True


ID = {"name": "id", "type": "string"}

# (case, old, new, a record written with old, BACKWARD holds, FORWARD holds)
EVOLUTIONS = [
    (
        "field added with a default",
        record("Account", [ID]),
        record("Account", [ID, {"name": "tier", "type": "int", "default": 0}]),
        {"id": "a"},
        True,
        True,
    ),
    (
        "field added without a default",
        record("Account", [ID]),
        record("Account", [ID, {"name": "tier", "type": "int"}]),
        {"id": "a"},
        False,
        True,
    ),
    (
        "field removed that had a default",
        record("Account", [ID, {"name": "tier", "type": "int", "default": 0}]),
        record("Account", [ID]),
        {"id": "a", "tier": 3},
        True,
        True,
    ),
    (
        "field removed that had no default",
        record("Account", [ID, {"name": "tier", "type": "int"}]),
        record("Account", [ID]),
        {"id": "a", "tier": 3},
        True,
        False,
    ),
    (
        "int promoted to long",
        record("Account", [{"name": "n", "type": "int"}]),
        record("Account", [{"name": "n", "type": "long"}]),
        {"n": 5},
        True,
        False,
    ),
    (
        "long narrowed to int",
        record("Account", [{"name": "n", "type": "long"}]),
        record("Account", [{"name": "n", "type": "int"}]),
        {"n": 5},
        False,
        True,
    ),
    (
        "float promoted to double",
        record("Account", [{"name": "n", "type": "float"}]),
        record("Account", [{"name": "n", "type": "double"}]),
        {"n": 1.5},
        True,
        False,
    ),
    (
        "string to bytes",
        record("Account", [{"name": "n", "type": "string"}]),
        record("Account", [{"name": "n", "type": "bytes"}]),
        {"n": "x"},
        True,
        True,
    ),
    (
        "enum symbol added",
        record("Account", [{"name": "c", "type": enum(["RED", "BLUE"])}]),
        record("Account", [{"name": "c", "type": enum(["RED", "BLUE", "GREEN"])}]),
        {"c": "BLUE"},
        True,
        False,
    ),
    (
        "enum symbol removed",
        record("Account", [{"name": "c", "type": enum(["RED", "BLUE"])}]),
        record("Account", [{"name": "c", "type": enum(["RED"])}]),
        {"c": "BLUE"},
        False,
        True,
    ),
    (
        "enum symbol removed, reader enum has a default",
        record("Account", [{"name": "c", "type": enum(["RED", "BLUE"])}]),
        record("Account", [{"name": "c", "type": enum(["RED"], default="RED")}]),
        {"c": "BLUE"},
        True,
        True,
    ),
    (
        "field renamed with an alias",
        record("Account", [{"name": "old_name", "type": "string"}]),
        record(
            "Account", [{"name": "new_name", "type": "string", "aliases": ["old_name"]}]
        ),
        {"old_name": "x"},
        True,
        False,
    ),
    (
        "field renamed without an alias",
        record("Account", [{"name": "old_name", "type": "string"}]),
        record("Account", [{"name": "new_name", "type": "string"}]),
        {"old_name": "x"},
        False,
        False,
    ),
    (
        "union branch added",
        record("Account", [{"name": "v", "type": ["null", "int"]}]),
        record("Account", [{"name": "v", "type": ["null", "int", "string"]}]),
        {"v": 3},
        True,
        False,
    ),
    (
        "union branch removed",
        record("Account", [{"name": "v", "type": ["null", "int", "string"]}]),
        record("Account", [{"name": "v", "type": ["null", "int"]}]),
        {"v": "three"},
        False,
        True,
    ),
    (
        "plain type widened to a union",
        record("Account", [{"name": "v", "type": "int"}]),
        record("Account", [{"name": "v", "type": ["null", "int"], "default": None}]),
        {"v": 3},
        True,
        False,
    ),
]
each_evolution = pytest.mark.parametrize(
    ("case", "old", "new", "datum", "backward", "forward"),
    EVOLUTIONS,
    ids=[case[0] for case in EVOLUTIONS],
)


@each_evolution
def test_backward_and_forward_verdicts(
    tmp_path: Path,
    case: str,
    old: dict[str, Any],
    new: dict[str, Any],
    datum: dict[str, Any],
    backward: bool,
    forward: bool,
) -> None:
    assert (problems(tmp_path / "b", old, new, BACKWARD) == []) is backward
    assert (problems(tmp_path / "f", old, new, FORWARD) == []) is forward
    assert (problems(tmp_path / "u", old, new, FULL) == []) is (backward and forward)


@each_evolution
def test_a_backward_verdict_agrees_with_fastavro_resolution(
    case: str,
    old: dict[str, Any],
    new: dict[str, Any],
    datum: dict[str, Any],
    backward: bool,
    forward: bool,
) -> None:
    # Each datum exercises the change, so a refused change must fail to decode.
    assert fastavro_reads(writer=old, reader=new, datum=datum) is backward


def test_a_refusal_names_the_schema_the_field_and_the_rule(tmp_path: Path) -> None:
    old = record("Account", [ID, {"name": "n", "type": "long"}])
    new = record("Account", [ID, {"name": "n", "type": "int"}])

    (message,) = problems(tmp_path, old, new, BACKWARD)

    assert message.startswith("t.Account: field 'n':")
    assert "types cannot be resolved" in message
    assert "new reads old" in message


def test_a_nested_field_is_named_by_its_path(tmp_path: Path) -> None:
    inner_old = record("Address", [{"name": "city", "type": "string"}])
    inner_new = record(
        "Address",
        [{"name": "city", "type": "string"}, {"name": "zip", "type": "string"}],
    )
    old = record("Account", [ID, {"name": "address", "type": inner_old}])
    new = record("Account", [ID, {"name": "address", "type": inner_new}])

    (message,) = problems(tmp_path, old, new, BACKWARD)

    assert "field 'address.zip'" in message
    assert "no default" in message


def test_a_renamed_record_needs_an_alias(tmp_path: Path) -> None:
    old = record("Account", [ID])
    renamed = record("Customer", [ID])
    aliased = record("Customer", [ID], aliases=["t.Account"])

    assert problems(tmp_path / "a", old, renamed, BACKWARD)
    assert problems(tmp_path / "b", old, aliased, BACKWARD) == []


# -- the folder check ------------------------------------------------------------------


def modes_file(folder: Path, text: str) -> Path:
    path = folder / "compatibility.toml"
    path.write_text(text)
    return path


def test_the_folder_check_uses_each_schema_mode(tmp_path: Path) -> None:
    colour_added = (enum(["RED"]), enum(["RED", "BLUE"]))
    write_schema(tmp_path / "old", colour_added[0])
    write_schema(tmp_path / "new", colour_added[1])

    def check_with_modes(text: str) -> list[SchemaVerdict]:
        return check_folders(
            tmp_path / "new", tmp_path / "old", modes_file(tmp_path, text)
        )

    backward = check_with_modes('default = "BACKWARD"')
    full = check_with_modes('default = "BACKWARD"\n[schemas]\nColour = "FULL"\n')
    none = check_with_modes('default = "NONE"')

    assert [v.outcome for v in backward] == [Outcome.COMPATIBLE]
    assert [v.outcome for v in full] == [Outcome.INCOMPATIBLE]
    assert "old reads new" in str(full[0].problems[0])
    assert [v.outcome for v in none] == [Outcome.UNCHANGED]


def test_a_change_in_a_referenced_type_is_judged_by_the_referencing_mode(
    tmp_path: Path,
) -> None:
    holder = record("Holder", [{"name": "c", "type": "t.Colour"}])
    for folder, symbols in (("old", ["RED"]), ("new", ["RED", "BLUE"])):
        write_schema(tmp_path / folder, enum(symbols, namespace="t"))
        write_schema(tmp_path / folder, holder)
    modes = modes_file(tmp_path, 'default = "BACKWARD"\n[schemas]\nHolder = "FULL"\n')

    verdicts = {
        v.schema: v for v in check_folders(tmp_path / "new", tmp_path / "old", modes)
    }

    # The holder's file did not change, but what it reads did.
    assert verdicts["Colour"].outcome is Outcome.COMPATIBLE
    assert verdicts["Holder"].outcome is Outcome.INCOMPATIBLE
    assert verdicts["Holder"].problems[0].field == "c"


def test_new_schemas_pass_and_removed_ones_are_refused(tmp_path: Path) -> None:
    write_schema(tmp_path / "old", record("Gone", [ID]))
    write_schema(tmp_path / "new", record("Fresh", [ID]))
    modes = modes_file(tmp_path, 'default = "BACKWARD"')

    verdicts = {
        v.schema: v for v in check_folders(tmp_path / "new", tmp_path / "old", modes)
    }

    assert verdicts["Fresh"].outcome is Outcome.NEW and not verdicts["Fresh"].refused
    assert verdicts["Gone"].outcome is Outcome.REMOVED and verdicts["Gone"].refused


def test_the_project_modes_file_names_real_schemas() -> None:
    table = tomllib.loads((SCHEMA_DIR / "compatibility.toml").read_text())
    files = {path.name.split(".")[1] for path in SCHEMA_DIR.glob("*.avsc")}

    assert set(table["schemas"]) <= files
    assert {CompatibilityMode(mode) for mode in table["schemas"].values()}


def committed_repo(tmp_path: Path) -> Path:
    """A git repository whose schemas/ holds one committed schema; returns schemas/."""
    repo = tmp_path / "repo"
    schema_dir = repo / "schemas"
    write_schema(schema_dir, record("Account", [ID]))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "schemas"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "v1"], check=True)
    return schema_dir


def test_previous_versions_come_from_a_git_revision(tmp_path: Path) -> None:
    schema_dir = committed_repo(tmp_path)
    write_schema(schema_dir, record("Account", [ID, {"name": "n", "type": "int"}]))

    previous = tmp_path / "previous"
    names = export_revision(
        "HEAD", previous, repo_root=schema_dir.parent, schema_dir=schema_dir
    )
    verdicts = check_folders(
        schema_dir, previous, modes_file(tmp_path, 'default = "BACKWARD"')
    )

    assert names == ["t.Account.avsc"]
    assert [v.outcome for v in verdicts] == [Outcome.INCOMPATIBLE]
    assert verdicts[0].problems[0].field == "n"


def test_the_check_command_exits_non_zero_naming_schema_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema_dir = committed_repo(tmp_path)
    monkeypatch.setattr(schemas_cli, "SCHEMA_DIR", schema_dir)
    monkeypatch.setattr(schemas_cli, "REPO_ROOT", schema_dir.parent)
    monkeypatch.setattr(
        schemas_cli, "MODES_FILE", modes_file(tmp_path, 'default = "BACKWARD"')
    )
    runner = CliRunner()

    unchanged = runner.invoke(schemas_cli.app, ["check"])
    write_schema(schema_dir, record("Account", [ID, {"name": "n", "type": "int"}]))
    broken = runner.invoke(schemas_cli.app, ["check", "--against", "HEAD"])
    unknown = runner.invoke(schemas_cli.app, ["check", "--against", "no-such-rev"])

    assert unchanged.exit_code == 0, unchanged.output
    assert broken.exit_code == 1
    assert "REFUSED t.Account.avsc (BACKWARD): t.Account: field 'n'" in broken.output
    assert unknown.exit_code == 2


def test_the_working_tree_schemas_load() -> None:
    for path in sorted(SCHEMA_DIR.glob("*.avsc")):
        load_avro(path)


# -- an old record read by the current code --------------------------------------------


def catalog_file(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"schemas": entries}))
    return path


def test_a_business_event_written_with_an_older_schema_is_read_by_current_code(
    tmp_path: Path,
) -> None:
    # 1. The older schema: today's BusinessEvent without the fields that have defaults.
    old_dir = tmp_path / "old"
    shutil.copytree(
        SCHEMA_DIR, old_dir, ignore=shutil.ignore_patterns("*.py", "*.toml")
    )
    current = json.loads((SCHEMA_DIR / "pipeline.BusinessEvent.avsc").read_text())
    defaulted = [f["name"] for f in current["fields"] if "default" in f]
    assert defaulted, "the test needs a BusinessEvent field with a default"
    older = {**current, "fields": [f for f in current["fields"] if "default" not in f]}
    old_file = old_dir / "pipeline.BusinessEvent.avsc"
    old_file.write_text(json.dumps(older))

    # 2. The writer's catalog has that older schema as version 1; the reader's has it
    #    too, and today's as version 2.
    #    Catalog files are resolved in the schema folder unless given as absolute paths.
    version_1 = {
        "id": 901,
        "subject": "BusinessEvent",
        "version": 1,
        "file": str(old_file),
    }
    version_2 = {
        "id": 902,
        "subject": "BusinessEvent",
        "version": 2,
        "file": "pipeline.BusinessEvent.avsc",
    }
    writer_catalog = catalog_file(tmp_path / "writer-catalog.json", [version_1])
    reader_catalog = catalog_file(
        tmp_path / "reader-catalog.json", [version_1, version_2]
    )

    # 3. Old code writes a record, current code reads it.
    old_codec = AvroCodec(catalog_file=writer_catalog)
    event = generate_one(old_codec.reader_schema("BusinessEvent"))
    framed = old_codec.encode("BusinessEvent", event)
    decoded = AvroCodec(catalog_file=reader_catalog).decode("BusinessEvent", framed)

    assert framed[1:5] == (901).to_bytes(4, "big")
    assert decoded["event_id"] == event["event_id"]
    assert decoded["account_key"] == event["account_key"]
    for name in defaulted:
        field = next(f for f in current["fields"] if f["name"] == name)
        assert decoded[name] == field["default"], name
    old_schema, new_schema = load_avro(old_file), load_avro(SCHEMA_DIR / old_file.name)
    assert incompatibilities(old_schema, new_schema, FULL) == []
