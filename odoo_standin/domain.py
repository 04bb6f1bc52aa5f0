"""Odoo search domains: parsing the prefix notation and translating it to SQLite.

A domain is a list in Polish (prefix) notation: ``'&'`` and ``'|'`` take the next two
expressions, ``'!'`` the next one, and consecutive expressions without an operator are
joined with an implicit AND. A leaf is ``[path, operator, value]``; ``path`` may go
through one or more many2one fields (``partner_id.ref``).

The translation follows Odoo's rules where they matter to callers:

* ``= False`` matches unset values (and, for booleans, false ones);
* negative operators (``!=``, ``not in``, ``not like``, ``not ilike``) also match unset
  values, as Odoo's SQL does;
* ``like``/``ilike`` wrap the value in ``%``; ``=like``/``=ilike`` use it as the pattern;
* on a model with an ``active`` field, records with ``active = False`` are left out
  unless a leaf of the domain names ``active`` (or the context sets ``active_test``
  to false).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from odoo_standin.exceptions import InvalidValue
from odoo_standin.registry import Field, Model

LOGIC_OPERATORS = frozenset({"&", "|", "!"})

LEAF_OPERATORS = frozenset(
    {
        "=",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "in",
        "not in",
        "like",
        "ilike",
        "not like",
        "not ilike",
        "=like",
        "=ilike",
    }
)

# The SQL function registered on every connection (see store.py) that lower-cases the
# whole of Unicode; SQLite's own LOWER() only folds ASCII.
CASEFOLD_FUNCTION = "standin_casefold"
# Longer ``in`` lists are passed as one JSON parameter instead of one each.
MAX_INLINE_VALUES = 500

# Odoo's spelling of the constant leaves, which it inserts in domains it builds.
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)


class DomainError(InvalidValue):
    """A domain that is not well-formed, or names a field or operator Odoo rejects."""


@dataclass(frozen=True)
class Leaf:
    path: tuple[str, ...]
    operator: str
    value: Any


@dataclass(frozen=True)
class Constant:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Leaf | Constant | Not | And | Or


def parse_domain(domain: Sequence[Any]) -> Node:
    """Parse a domain into a tree; an empty domain matches every record."""
    if not isinstance(domain, list | tuple):
        raise DomainError(f"a domain is a list, not {type(domain).__name__}")
    position = 0
    expressions: list[Node] = []
    while position < len(domain):
        node, position = _parse_expression(domain, position)
        expressions.append(node)
    if not expressions:
        return Constant(True)
    if len(expressions) == 1:
        return expressions[0]
    return And(tuple(expressions))


def _parse_expression(domain: Sequence[Any], position: int) -> tuple[Node, int]:
    if position >= len(domain):
        raise DomainError(f"domain {list(domain)!r} ends before an operator's operands")
    token = domain[position]
    if isinstance(token, str):
        if token not in LOGIC_OPERATORS:
            raise DomainError(
                f"unknown domain operator {token!r} at position {position}"
            )
        if token == "!":
            operand, position = _parse_expression(domain, position + 1)
            return Not(operand), position
        left, position = _parse_expression(domain, position + 1)
        right, position = _parse_expression(domain, position)
        combined = And((left, right)) if token == "&" else Or((left, right))
        return combined, position
    return _parse_leaf(token, position), position + 1


def _parse_leaf(token: Any, position: int) -> Node:
    if not isinstance(token, list | tuple) or len(token) != 3:
        raise DomainError(
            f"domain term at position {position} is {token!r}: "
            "expected an operator or a [field, operator, value] leaf"
        )
    path, operator, value = token
    if (path, operator, value) == TRUE_LEAF:
        return Constant(True)
    if (path, operator, value) == FALSE_LEAF:
        return Constant(False)
    if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
        raise DomainError(f"leaf {list(token)!r}: the field path must be a name")
    if not isinstance(operator, str) or operator.lower() not in LEAF_OPERATORS:
        raise DomainError(f"leaf {list(token)!r}: unknown operator {operator!r}")
    operator = operator.lower()
    if operator in ("in", "not in") and not isinstance(value, list | tuple):
        value = [value]
    if operator not in ("in", "not in") and isinstance(value, list | tuple):
        raise DomainError(
            f"leaf {list(token)!r}: operator {operator!r} takes one value"
        )
    return Leaf(tuple(path.split(".")), operator, value)


def mentions_field(node: Node, name: str) -> bool:
    """Whether a leaf of the tree starts its path with ``name``."""
    if isinstance(node, Leaf):
        return node.path[0] == name
    if isinstance(node, Not):
        return mentions_field(node.operand, name)
    if isinstance(node, And | Or):
        return any(mentions_field(child, name) for child in node.operands)
    return False


@dataclass(frozen=True)
class SqlCondition:
    sql: str
    params: tuple[Any, ...]


class DomainCompiler:
    """Translate parsed domains of one registry into SQL conditions."""

    def __init__(self, registry: Mapping[str, Model]) -> None:
        self._registry = registry

    def where(
        self, model: Model, domain: Sequence[Any], *, active_test: bool = True
    ) -> SqlCondition:
        """The WHERE condition selecting the records of ``model`` the domain matches."""
        tree = parse_domain(domain)
        if active_test and model.has_active and not mentions_field(tree, "active"):
            tree = And((tree, Leaf(("active",), "=", True)))
        params: list[Any] = []
        sql = self._node(model, tree, params)
        return SqlCondition(sql, tuple(params))

    def _node(self, model: Model, node: Node, params: list[Any]) -> str:
        if isinstance(node, Constant):
            return "1 = 1" if node.value else "1 = 0"
        if isinstance(node, Not):
            return f"NOT ({self._node(model, node.operand, params)})"
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) else " OR "
            return joiner.join(
                f"({self._node(model, child, params)})" for child in node.operands
            )
        return self._leaf(model, node, params)

    def _leaf(self, model: Model, leaf: Leaf, params: list[Any]) -> str:
        name, *rest = leaf.path
        if name == "id":
            if rest:
                raise DomainError(f"leaf {leaf}: 'id' has no sub-fields")
            return _compare('"id"', None, leaf.operator, leaf.value, params)
        field = self._field(model, name, leaf)
        if rest or (field.type == "many2one" and isinstance(leaf.value, str)):
            return self._through_many2one(field, leaf, rest, params)
        return _compare(f'"{field.name}"', field, leaf.operator, leaf.value, params)

    def _through_many2one(
        self, field: Field, leaf: Leaf, rest: list[str], params: list[Any]
    ) -> str:
        if field.type != "many2one" or field.relation is None:
            raise DomainError(f"leaf {leaf}: {field.name!r} is not a many2one field")
        target = self._registry[field.relation]
        # A string compared with a many2one searches the target's display name,
        # as Odoo's name_search does.
        sub_path = tuple(rest) or (target.rec_name,)
        sub_leaf = Leaf(sub_path, leaf.operator, leaf.value)
        inner = self._leaf(target, sub_leaf, params)
        return f'"{field.name}" IN (SELECT "id" FROM "{target.table}" WHERE {inner})'

    def _field(self, model: Model, name: str, leaf: Leaf) -> Field:
        if name not in model.fields:
            raise DomainError(
                f"Invalid field {model.name}.{name} in leaf "
                f"{['.'.join(leaf.path), leaf.operator, leaf.value]!r}"
            )
        return model.fields[name]


def _compare(
    column: str, field: Field | None, operator: str, value: Any, params: list[Any]
) -> str:
    is_boolean = field is not None and field.type == "boolean"
    if operator in ("=", "!="):
        return _equality(column, is_boolean, operator, value, params)
    if operator in ("in", "not in"):
        return _membership(column, is_boolean, operator, list(value), params)
    if operator in ("<", ">", "<=", ">="):
        params.append(_sql_value(value))
        return f"{column} {operator} ?"
    return _pattern(column, operator, value, params)


def _equality(
    column: str, is_boolean: bool, operator: str, value: Any, params: list[Any]
) -> str:
    if value is False or value is None:
        unset = (
            f"({column} IS NULL OR {column} = 0)" if is_boolean else f"{column} IS NULL"
        )
        return unset if operator == "=" else f"NOT {unset}"
    if is_boolean and value is True:
        return (
            f"{column} = 1"
            if operator == "="
            else f"({column} IS NULL OR {column} = 0)"
        )
    params.append(_sql_value(value))
    if operator == "=":
        return f"{column} = ?"
    return f"({column} != ? OR {column} IS NULL)"


def _membership(
    column: str, is_boolean: bool, operator: str, values: list[Any], params: list[Any]
) -> str:
    wants_unset = any(v is False or v is None for v in values)
    concrete = [_sql_value(v) for v in values if v is not False and v is not None]
    if is_boolean and wants_unset:
        concrete.append(0)
    parts: list[str] = []
    if len(concrete) > MAX_INLINE_VALUES:
        # SQLite refuses a statement with more parameters than its build allows
        # (32,766 by default, 999 in old builds), while Odoo takes a list of any
        # length: a long list travels as one JSON array, unpacked by SQLite itself.
        params.append(json.dumps(concrete))
        parts.append(f"{column} IN (SELECT value FROM json_each(?))")
    elif concrete:
        params.extend(concrete)
        parts.append(f"{column} IN ({', '.join('?' for _ in concrete)})")
    if wants_unset:
        parts.append(f"{column} IS NULL")
    matched = " OR ".join(parts) if parts else "1 = 0"
    if operator == "in":
        return f"({matched})"
    if wants_unset:
        return f"NOT ({matched})"
    # Odoo's "not in" keeps records whose value is unset.
    return f"(NOT ({matched}) OR {column} IS NULL)"


def _pattern(column: str, operator: str, value: Any, params: list[Any]) -> str:
    text = "" if value is None or value is False else str(value)
    pattern = text if operator.startswith("=") else f"%{text}%"
    params.append(pattern)
    if "ilike" in operator:
        condition = f"{CASEFOLD_FUNCTION}({column}) LIKE {CASEFOLD_FUNCTION}(?)"
    else:
        condition = f"{column} LIKE ?"
    if operator.startswith("not "):
        return f"(NOT ({condition}) OR {column} IS NULL)"
    return condition


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str):
        return value
    raise DomainError(f"domain value {value!r} is not a scalar")
