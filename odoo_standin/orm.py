"""The ORM methods both protocols expose, with Odoo's argument names and results.

Every call runs in one store transaction (see store.py): an error anywhere rolls the whole
call back, which is what Odoo does with its own PostgreSQL transaction.

Methods are either *model* methods (``search``, ``create``, ``fields_get``...), called
without record ids, or *record* methods (``read``, ``write``, ``unlink``...), called on
the ids given first. Methods that return records in Odoo return a ``Records`` value;
each protocol turns it into ids its own way.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from odoo_standin.domain import DomainCompiler
from odoo_standin.exceptions import (
    InvalidArguments,
    InvalidValue,
    MissingError,
    StandinError,
    ValidationError,
)
from odoo_standin.registry import Field, Model
from odoo_standin.store import ID_LIST, Store, id_list

logger = logging.getLogger(__name__)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Records:
    """A recordset result; ``single`` when Odoo would answer one id (create of a dict)."""

    model: str
    ids: list[int]
    single: bool = False


@dataclass
class CallScope:
    """What one method call works with: its cursor, model, ids and context."""

    cursor: sqlite3.Cursor
    model: Model
    ids: list[int]
    context: Mapping[str, Any] = field(default_factory=dict)


Method = Callable[..., Any]


@dataclass(frozen=True)
class MethodSpec:
    function: Method
    on_records: bool


class Orm:
    def __init__(self, registry: Mapping[str, Model], store: Store) -> None:
        self.registry = registry
        self._store = store
        self._compiler = DomainCompiler(registry)
        self._methods: dict[str, MethodSpec] = {
            "search": MethodSpec(self._search, on_records=False),
            "search_count": MethodSpec(self._search_count, on_records=False),
            "search_read": MethodSpec(self._search_read, on_records=False),
            "create": MethodSpec(self._create, on_records=False),
            "fields_get": MethodSpec(self._fields_get, on_records=False),
            "read": MethodSpec(self._read, on_records=True),
            "write": MethodSpec(self._write, on_records=True),
            "unlink": MethodSpec(self._unlink, on_records=True),
            "exists": MethodSpec(self._exists, on_records=True),
        }
        self._model_methods: dict[tuple[str, str], MethodSpec] = {
            ("res.users", "context_get"): MethodSpec(
                self._context_get, on_records=False
            ),
            ("ir.model.data", "check_object_reference"): MethodSpec(
                self._check_object_reference, on_records=False
            ),
        }

    # -- dispatch -----------------------------------------------------------------

    def model(self, name: str) -> Model | None:
        return self.registry.get(name)

    def method(self, model: str, method: str) -> MethodSpec | None:
        return self._model_methods.get((model, method)) or self._methods.get(method)

    def execute(
        self,
        model_name: str,
        method_name: str,
        *,
        ids: Sequence[int],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run one method in one transaction; the caller checked that both exist."""
        model = self.registry[model_name]
        spec = self.method(model_name, method_name)
        assert spec is not None
        record_ids = _ids(ids)
        kwargs = dict(kwargs or {})
        try:
            inspect.signature(spec.function).bind(None, *args, **kwargs)
        except TypeError as exc:
            raise InvalidArguments(f"{model_name}.{method_name}(): {exc}") from exc
        with self._store.transaction() as cursor:
            scope = CallScope(cursor, model, record_ids, dict(context or {}))
            return spec.function(scope, *args, **kwargs)

    # -- model methods ------------------------------------------------------------

    def _search(
        self,
        scope: CallScope,
        domain: Any = (),
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> Records:
        ids = self._search_ids(scope, domain, offset, limit, order)
        return Records(scope.model.name, ids)

    def _search_count(
        self, scope: CallScope, domain: Any = (), limit: int | None = None
    ) -> int:
        condition = self._compiler.where(
            scope.model, domain or [], active_test=_active_test(scope)
        )
        sql = f'SELECT COUNT(*) FROM "{scope.model.table}" WHERE {condition.sql}'
        (count,) = scope.cursor.execute(sql, condition.params).fetchone()
        return min(count, limit) if limit else count

    def _search_read(
        self,
        scope: CallScope,
        domain: Any = None,
        fields: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        ids = self._search_ids(scope, domain or [], offset, limit, order)
        return self._read_rows(scope, ids, fields)

    def _create(
        self, scope: CallScope, vals_list: Mapping[str, Any] | Sequence[Any]
    ) -> Records:
        single = isinstance(vals_list, Mapping)
        batch = [vals_list] if single else list(vals_list)
        ids = [
            self._insert(scope, vals, position, len(batch))
            for position, vals in enumerate(batch)
        ]
        logger.debug("created %s%s", scope.model.name, ids)
        return Records(scope.model.name, ids, single=single)

    def _fields_get(
        self,
        scope: CallScope,
        allfields: Sequence[str] | None = None,
        attributes: Sequence[str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        described: dict[str, dict[str, Any]] = {
            "id": {"type": "integer", "string": "ID", "readonly": True},
            "display_name": {
                "type": "char",
                "string": "Display Name",
                "readonly": True,
            },
        }
        for model_field in scope.model.fields.values():
            described[model_field.name] = model_field.describe()
        for name in scope.model.computed:
            described[name] = {"type": "char", "string": name, "readonly": True}
        if allfields:
            described = {k: v for k, v in described.items() if k in allfields}
        if attributes:
            described = {
                name: {k: v for k, v in info.items() if k in attributes}
                for name, info in described.items()
            }
        return described

    def _context_get(self, scope: CallScope) -> dict[str, Any]:
        return {"lang": "en_US", "tz": "UTC"}

    def _check_object_reference(
        self,
        scope: CallScope,
        module: str,
        xml_id: str,
        raise_on_access_error: bool = False,
    ) -> list[Any]:
        row = scope.cursor.execute(
            'SELECT "model", "res_id" FROM "ir_model_data" '
            'WHERE "module" = ? AND "name" = ?',
            (module, xml_id),
        ).fetchone()
        if row is None:
            raise ValueError(f"External ID not found in the system: {module}.{xml_id}")
        return [row["model"], row["res_id"]]

    # -- record methods -----------------------------------------------------------

    def _read(
        self,
        scope: CallScope,
        fields: Sequence[str] | None = None,
        load: str = "_classic_read",
    ) -> list[dict[str, Any]]:
        self._require_existing(scope, scope.ids)
        return self._read_rows(scope, scope.ids, fields)

    def _write(self, scope: CallScope, vals: Mapping[str, Any]) -> bool:
        if not isinstance(vals, Mapping):
            raise ValidationError(f"{scope.model.name}.write: values must be an object")
        self._require_existing(scope, scope.ids)
        label = f"{scope.model.name}{scope.ids}"
        columns = {
            name: self._column_value(scope, scope.model.field(name), value, label)
            for name, value in vals.items()
        }
        if not columns or not scope.ids:
            return True
        for record_id in scope.ids:
            self._check_constraints(scope, columns, label, record_id)
        assignments = ", ".join(f'"{name}" = ?' for name in columns)
        scope.cursor.execute(
            f'UPDATE "{scope.model.table}" SET {assignments} WHERE "id" IN ({ID_LIST})',
            (*columns.values(), id_list(scope.ids)),
        )
        return True

    def _unlink(self, scope: CallScope) -> bool:
        if not scope.ids:
            return True
        self._require_existing(scope, scope.ids)
        ids = id_list(scope.ids)
        # 1. Odoo's default for a many2one is ``ondelete='set null'``.
        for other in self.registry.values():
            for model_field in other.fields.values():
                if model_field.relation == scope.model.name:
                    scope.cursor.execute(
                        f'UPDATE "{other.table}" SET "{model_field.name}" = NULL '
                        f'WHERE "{model_field.name}" IN ({ID_LIST})',
                        (ids,),
                    )
        # 2. External ids of deleted records go with them, as in Odoo.
        scope.cursor.execute(
            f'DELETE FROM "ir_model_data" WHERE "model" = ? '
            f'AND "res_id" IN ({ID_LIST})',
            (scope.model.name, ids),
        )
        # 3. The records themselves.
        scope.cursor.execute(
            f'DELETE FROM "{scope.model.table}" WHERE "id" IN ({ID_LIST})', (ids,)
        )
        return True

    def _exists(self, scope: CallScope) -> Records:
        return Records(scope.model.name, self._existing(scope, scope.ids))

    # -- searching ----------------------------------------------------------------

    def _search_ids(
        self,
        scope: CallScope,
        domain: Any,
        offset: Any,
        limit: Any,
        order: Any,
    ) -> list[int]:
        condition = self._compiler.where(
            scope.model, domain or [], active_test=_active_test(scope)
        )
        sql = (
            f'SELECT "id" FROM "{scope.model.table}" WHERE {condition.sql} '
            f"ORDER BY {_order_by(scope.model, order)}"
        )
        params: list[Any] = list(condition.params)
        if limit or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [
                _count_argument("limit", limit, -1),
                _count_argument("offset", offset, 0),
            ]
        return [row[0] for row in scope.cursor.execute(sql, params)]

    def _existing(self, scope: CallScope, ids: Sequence[int]) -> list[int]:
        if not ids:
            return []
        rows = scope.cursor.execute(
            f'SELECT "id" FROM "{scope.model.table}" WHERE "id" IN ({ID_LIST})',
            (id_list(ids),),
        )
        found = {row[0] for row in rows}
        return [record_id for record_id in ids if record_id in found]

    def _require_existing(self, scope: CallScope, ids: Sequence[int]) -> None:
        missing = sorted(set(ids) - set(self._existing(scope, ids)))
        if missing:
            raise MissingError(
                f"Record {scope.model.name}{missing} does not exist or has been deleted"
            )

    # -- reading ------------------------------------------------------------------

    def _read_rows(
        self, scope: CallScope, ids: Sequence[int], fields: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        model = scope.model
        names = list(fields) if fields else [*model.fields, "display_name"]
        for name in names:
            if name not in ("id", "display_name") and name not in model.computed:
                model.field(name)
        if not ids:
            return []
        rows = {
            row["id"]: row
            for row in scope.cursor.execute(
                f'SELECT * FROM "{model.table}" WHERE "id" IN ({ID_LIST})',
                (id_list(ids),),
            )
        }
        names_by_relation = self._related_names(scope, model, rows.values(), names)
        own_names = (
            self._display_names(scope.cursor, model, list(rows))
            if "display_name" in names
            else {}
        )
        results = []
        for record_id in ids:
            row = rows[record_id]
            record: dict[str, Any] = {"id": record_id}
            for name in names:
                if name == "id":
                    continue
                if name == "display_name":
                    record[name] = own_names[record_id]
                elif name in model.computed:
                    record[name] = model.computed[name](row)
                else:
                    record[name] = _read_value(
                        model.fields[name], row[name], names_by_relation
                    )
            results.append(record)
        return results

    def _related_names(
        self,
        scope: CallScope,
        model: Model,
        rows: Any,
        names: Sequence[str],
    ) -> dict[tuple[str, int], str]:
        rows = list(rows)
        related: dict[tuple[str, int], str] = {}
        for name in names:
            model_field = model.fields.get(name)
            if model_field is None or model_field.relation is None:
                continue
            target = self.registry[model_field.relation]
            ids = sorted({row[name] for row in rows if row[name] is not None})
            for target_id, display in self._display_names(
                scope.cursor, target, ids
            ).items():
                related[(target.name, target_id)] = display
        return related

    def _display_names(
        self, cursor: sqlite3.Cursor, model: Model, ids: Sequence[int]
    ) -> dict[int, str]:
        if not ids:
            return {}
        rows = list(
            cursor.execute(
                f'SELECT * FROM "{model.table}" WHERE "id" IN ({ID_LIST})',
                (id_list(ids),),
            )
        )
        parents: dict[int, str] = {}
        if model.name == "res.partner":
            parent_ids = sorted({r["parent_id"] for r in rows if r["parent_id"]})
            parents = self._display_names(cursor, model, parent_ids)
        names: dict[int, str] = {}
        for row in rows:
            if model.rec_name in model.computed:
                own = model.computed[model.rec_name](row)
            else:
                own = row[model.rec_name]
            # A contact of a company shows as "Company, Contact" in Odoo.
            parent = parents.get(row["parent_id"]) if parents else None
            if parent and own and not row["is_company"]:
                own = f"{parent}, {own}"
            names[row["id"]] = own or f"{model.name},{row['id']}"
        return names

    # -- writing ------------------------------------------------------------------

    def _insert(
        self, scope: CallScope, vals: Any, position: int, batch_size: int
    ) -> int:
        model = scope.model
        if not isinstance(vals, Mapping):
            raise ValidationError(
                f"{model.name} record {position + 1} of {batch_size}: "
                f"values must be an object, not {type(vals).__name__}"
            )
        label = _record_label(model, vals, position, batch_size)
        try:
            columns = {
                name: self._column_value(scope, model.field(name), value, label)
                for name, value in vals.items()
            }
        except InvalidValue as exc:
            raise InvalidValue(f"{label}: {exc.message}") from exc
        for model_field in model.fields.values():
            if model_field.name not in columns and model_field.default is not None:
                columns[model_field.name] = _stored(model_field, model_field.default)
            if model_field.required and columns.get(model_field.name) is None:
                raise ValidationError(
                    f"{label}: missing required value for field "
                    f"'{model_field.label}' ({model_field.name})"
                )
        self._check_constraints(scope, columns, label, None)
        if columns:
            names = ", ".join(f'"{name}"' for name in columns)
            marks = ", ".join("?" for _ in columns)
            sql = f'INSERT INTO "{model.table}" ({names}) VALUES ({marks})'
        else:
            sql = f'INSERT INTO "{model.table}" DEFAULT VALUES'
        scope.cursor.execute(sql, tuple(columns.values()))
        record_id = int(scope.cursor.lastrowid or 0)
        if model.name == "sale.order" and columns.get("name") == "New":
            # Odoo numbers orders from a sequence when they are created as "New".
            scope.cursor.execute(
                'UPDATE "sale_order" SET "name" = ? WHERE "id" = ?',
                (f"S{record_id:05d}", record_id),
            )
        return record_id

    def _column_value(
        self, scope: CallScope, model_field: Field, value: Any, label: str
    ) -> Any:
        try:
            stored = _stored(model_field, value)
        except ValueError as exc:
            raise ValidationError(
                f"{label}: wrong value for {scope.model.name}.{model_field.name}: {exc}"
            ) from None
        if stored is None and model_field.required:
            raise ValidationError(
                f"{label}: missing required value for field '{model_field.label}' "
                f"({model_field.name})"
            )
        if model_field.relation is not None and stored is not None:
            target = self.registry[model_field.relation]
            row = scope.cursor.execute(
                f'SELECT 1 FROM "{target.table}" WHERE "id" = ?', (stored,)
            ).fetchone()
            if row is None:
                raise ValidationError(
                    f"{label}: {scope.model.name}.{model_field.name} points at "
                    f"{target.name}({stored}), which does not exist"
                )
        return stored

    def _check_constraints(
        self,
        scope: CallScope,
        columns: Mapping[str, Any],
        label: str,
        record_id: int | None,
    ) -> None:
        """Odoo's SQL constraint on ir.model.data: one (module, name) pair per id."""
        if scope.model.name != "ir.model.data":
            return
        if "module" not in columns and "name" not in columns:
            return
        module, name = columns.get("module"), columns.get("name")
        if record_id is not None:
            current = scope.cursor.execute(
                'SELECT "module", "name" FROM "ir_model_data" WHERE "id" = ?',
                (record_id,),
            ).fetchone()
            module = module if "module" in columns else current["module"]
            name = name if "name" in columns else current["name"]
        clash = scope.cursor.execute(
            'SELECT "id" FROM "ir_model_data" WHERE "module" = ? AND "name" = ? '
            'AND "id" != ?',
            (module, name, record_id or 0),
        ).fetchone()
        if clash is not None:
            raise ValidationError(
                f"{label}: external id {module}.{name} already exists "
                f"(ir.model.data {clash['id']})"
            )


def _ids(ids: Any) -> list[int]:
    if ids is None or ids is False:
        return []
    if isinstance(ids, int) and not isinstance(ids, bool):
        return [ids]
    if not isinstance(ids, list | tuple) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        raise InvalidArguments(f"record ids must be a list of integers, not {ids!r}")
    return list(ids)


def _active_test(scope: CallScope) -> bool:
    return bool(scope.context.get("active_test", True))


def _count_argument(name: str, value: Any, unset: int) -> int:
    if value is None or value is False:
        return unset
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArguments(f"{name} must be a non-negative integer, not {value!r}")
    return value


def _order_by(model: Model, order: Any) -> str:
    spec = order or model.order
    if not isinstance(spec, str):
        raise InvalidValue(f"order must be a string, not {spec!r}")
    terms = []
    for term in spec.split(","):
        words = term.split()
        if not words or len(words) > 2:
            raise InvalidValue(f"Invalid order {spec!r} for model {model.name}")
        name = words[0]
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise InvalidValue(f"Invalid order {spec!r} for model {model.name}")
        if name != "id":
            model.field(name)
        terms.append(f'"{name}" {direction}')
    if '"id"' not in " ".join(terms):
        terms.append('"id" ASC')
    return ", ".join(terms)


def _record_label(
    model: Model, vals: Mapping[str, Any], position: int, size: int
) -> str:
    label = f"{model.name} record {position + 1} of {size}"
    display = vals.get(model.rec_name) or vals.get("name")
    if isinstance(display, str) and display:
        label += f" ({display!r})"
    return label


def _stored(model_field: Field, value: Any) -> Any:
    """The SQLite value of a field value sent by a client; ValueError when invalid."""
    if model_field.type == "boolean":
        if value is None or isinstance(value, bool) or value in (0, 1):
            return int(bool(value))
        raise ValueError(f"{value!r} is not a boolean")
    if value is None or value is False:
        return None
    kind = model_field.type
    if kind in ("char", "text"):
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a string")
        return value
    if kind == "selection":
        allowed = [key for key, _ in model_field.selection]
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if kind in ("integer", "many2one"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer")
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"{value} does not fit in 64 bits")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        return float(value)
    if kind == "date":
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
        return dt.date.fromisoformat(value).isoformat()
    if not isinstance(value, str) or len(value) != 19:
        raise ValueError(f"{value!r} is not a datetime (YYYY-MM-DD HH:MM:SS)")
    return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").strftime(
        "%Y-%m-%d %H:%M:%S"
    )


def _read_value(
    model_field: Field, stored: Any, names: Mapping[tuple[str, int], str]
) -> Any:
    kind = model_field.type
    if kind == "boolean":
        return bool(stored)
    # Odoo reads unset numbers as zero and every other unset value as False.
    if kind == "integer":
        return stored if stored is not None else 0
    if kind == "float":
        return stored if stored is not None else 0.0
    if stored is None:
        return False
    if model_field.relation is not None:
        display = names.get((model_field.relation, stored))
        return [stored, display] if display is not None else False
    return stored


__all__ = ["Orm", "Records", "StandinError"]
