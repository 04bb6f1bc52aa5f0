"""Odoo domains in the stand-in: prefix parsing, and what each operator matches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from odoo_standin.domain import (
    And,
    Constant,
    DomainCompiler,
    DomainError,
    Leaf,
    Not,
    Or,
    mentions_field,
    parse_domain,
)
from odoo_standin.orm import Orm
from odoo_standin.registry import build_registry
from odoo_standin.store import Store

A = Leaf(("name",), "=", "a")
B = Leaf(("name",), "=", "b")
C = Leaf(("name",), "=", "c")


def test_empty_domain_matches_everything() -> None:
    assert parse_domain([]) == Constant(True)


def test_consecutive_leaves_are_joined_with_an_implicit_and() -> None:
    domain = [["name", "=", "a"], ["name", "=", "b"], ["name", "=", "c"]]
    assert parse_domain(domain) == And((A, B, C))


def test_or_takes_the_next_two_expressions() -> None:
    domain = ["|", ["name", "=", "a"], ["name", "=", "b"], ["name", "=", "c"]]
    assert parse_domain(domain) == And((Or((A, B)), C))


def test_nested_operators() -> None:
    domain = ["|", "&", ["name", "=", "a"], ["name", "=", "b"], "!", ["name", "=", "c"]]
    assert parse_domain(domain) == Or((And((A, B)), Not(C)))


def test_double_negation_and_tuples() -> None:
    assert parse_domain(["!", "!", ("name", "=", "a")]) == Not(Not(A))


def test_constant_leaves() -> None:
    assert parse_domain([(1, "=", 1)]) == Constant(True)
    assert parse_domain([[0, "=", 1]]) == Constant(False)


def test_in_accepts_a_scalar_and_operators_are_case_insensitive() -> None:
    assert parse_domain([["id", "IN", 3]]) == Leaf(("id",), "in", [3])


def test_dotted_paths_are_split() -> None:
    leaf = parse_domain([["partner_id.ref", "=", "x"]])
    assert leaf == Leaf(("partner_id", "ref"), "=", "x")


def test_mentions_field_looks_into_every_branch() -> None:
    tree = parse_domain(["|", ["name", "=", "a"], "!", ["active", "=", False]])
    assert mentions_field(tree, "active")
    assert not mentions_field(parse_domain([["parent_id.active", "=", True]]), "active")


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("name = a", "is a list"),
        (["&", ["name", "=", "a"]], "ends before"),
        (["|"], "ends before"),
        (["!"], "ends before"),
        (["xor", ["name", "=", "a"]], "unknown domain operator 'xor'"),
        ([["name", "=="]], "expected an operator or a"),
        ([["name", "between", [1, 2]]], "unknown operator 'between'"),
        ([["", "=", 1]], "field path must be a name"),
        ([["partner_id..ref", "=", 1]], "field path must be a name"),
        ([["name", "=", ["a", "b"]]], "takes one value"),
        ([42], "expected an operator or a"),
    ],
)
def test_invalid_domains_are_refused_with_the_reason(domain: Any, reason: str) -> None:
    with pytest.raises(DomainError, match=reason):
        parse_domain(domain)


def test_a_domain_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_domain(["&"])


# -- translation, checked by what the SQL selects ----------------------------------


@pytest.fixture
def orm(tmp_path: Path) -> Iterator[Orm]:
    registry = build_registry()
    store = Store(tmp_path / "domain.sqlite", registry)
    orm = Orm(registry, store)
    orm.execute(
        "res.partner",
        "create",
        ids=[],
        args=[
            [
                {"name": "Alpha", "email": "a@x.io", "x_profile_revision": 1},
                {"name": "beta", "email": "B@Y.io", "x_profile_revision": 2},
                {"name": "Gamma", "x_profile_revision": 3, "x_linked_to_crm": True},
                {"name": "Ünicode", "email": "u@x.io", "active": False},
                {"name": "50%_off", "email": "p@x.io"},
            ]
        ],
    )
    yield orm
    store.close()


def names(orm: Orm, domain: list[Any], **context: Any) -> set[str]:
    rows = orm.execute(
        "res.partner",
        "search_read",
        ids=[],
        kwargs={"domain": domain, "fields": ["name"]},
        context=context,
    )
    return {row["name"] for row in rows}


ALL_ACTIVE = {"Alpha", "beta", "Gamma", "50%_off"}


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ([], ALL_ACTIVE),
        ([["name", "=", "Alpha"]], {"Alpha"}),
        ([["name", "!=", "Alpha"]], ALL_ACTIVE - {"Alpha"}),
        ([["email", "=", False]], {"Gamma"}),
        ([["email", "!=", False]], ALL_ACTIVE - {"Gamma"}),
        ([["email", "!=", "a@x.io"]], ALL_ACTIVE - {"Alpha"}),
        # An unset integer compares like SQL NULL: neither below nor above anything.
        ([["x_profile_revision", "<", 2]], {"Alpha"}),
        ([["x_profile_revision", ">", 2]], {"Gamma"}),
        ([["x_profile_revision", "<=", 2]], {"Alpha", "beta"}),
        ([["x_profile_revision", ">=", 2]], {"beta", "Gamma"}),
        ([["name", "in", ["Alpha", "beta"]]], {"Alpha", "beta"}),
        ([["name", "in", []]], set()),
        ([["email", "in", ["a@x.io", False]]], {"Alpha", "Gamma"}),
        ([["email", "not in", ["a@x.io"]]], ALL_ACTIVE - {"Alpha"}),
        ([["email", "not in", ["a@x.io", False]]], {"beta", "50%_off"}),
        ([["name", "not in", []]], ALL_ACTIVE),
        ([["name", "like", "lph"]], {"Alpha"}),
        ([["name", "like", "ALPH"]], set()),
        ([["name", "ilike", "ALPH"]], {"Alpha"}),
        ([["email", "not like", "x.io"]], {"beta", "Gamma"}),
        ([["email", "not ilike", "Y.IO"]], ALL_ACTIVE - {"beta"}),
        ([["name", "=like", "G%"]], {"Gamma"}),
        ([["name", "=like", "g%"]], set()),
        ([["name", "=ilike", "g%"]], {"Gamma"}),
        ([["x_linked_to_crm", "=", True]], {"Gamma"}),
        ([["x_linked_to_crm", "=", False]], ALL_ACTIVE - {"Gamma"}),
        ([["x_linked_to_crm", "!=", True]], ALL_ACTIVE - {"Gamma"}),
        (["|", ["name", "=", "Alpha"], ["name", "=", "beta"]], {"Alpha", "beta"}),
        (["!", ["name", "=", "Alpha"]], ALL_ACTIVE - {"Alpha"}),
        (
            ["!", "|", ["name", "=", "Alpha"], ["name", "=", "beta"]],
            {"Gamma", "50%_off"},
        ),
        ([["name", "ilike", "a"], ["x_profile_revision", ">=", 2]], {"beta", "Gamma"}),
        ([(0, "=", 1)], set()),
    ],
)
def test_operator_semantics(orm: Orm, domain: list[Any], expected: set[str]) -> None:
    assert names(orm, domain) == expected


def test_archived_records_need_the_domain_to_name_active(orm: Orm) -> None:
    assert "Ünicode" not in names(orm, [["email", "ilike", "x.io"]])
    assert names(orm, [["active", "=", False]]) == {"Ünicode"}
    assert names(
        orm, [["active", "in", [True, False]], ["email", "=ilike", "u@%"]]
    ) == {"Ünicode"}
    assert "Ünicode" in names(orm, [], active_test=False)


def test_ilike_folds_non_ascii_case(orm: Orm) -> None:
    assert names(orm, [["name", "ilike", "üNI"], ["active", "=", False]]) == {"Ünicode"}


def test_unknown_field_and_bad_value_are_domain_errors(orm: Orm) -> None:
    with pytest.raises(DomainError, match="x_nope"):
        names(orm, [["x_nope", "=", 1]])
    with pytest.raises(DomainError, match="'name' is not a many2one"):
        names(orm, [["name.ref", "=", 1]])
    with pytest.raises(DomainError, match="not a scalar"):
        names(orm, [["name", "<", {"a": 1}]])


def test_many2one_path_and_name_match() -> None:
    registry = build_registry()
    compiler = DomainCompiler(registry)
    partner = registry["res.partner"]
    condition = compiler.where(partner, [["parent_id.ref", "=", "R1"]])
    assert 'IN (SELECT "id" FROM "res_partner" WHERE "ref" = ?)' in condition.sql
    assert condition.params == ("R1",)
    assert condition.sql.endswith('("active" = 1)')
    # A string compared with a many2one matches the target's display name.
    by_name = compiler.where(
        partner, [["country_id", "=", "Germany"]], active_test=False
    )
    assert (
        by_name.sql
        == '"country_id" IN (SELECT "id" FROM "res_country" WHERE "name" = ?)'
    )
    assert by_name.params == ("Germany",)


def test_an_in_list_longer_than_sqlites_parameter_limit_matches(orm: Orm) -> None:
    # SQLite takes a bounded number of parameters per statement (32,766 by default,
    # 250,000 in some builds); Odoo takes a list of any length.
    many = [f"absent-{n}" for n in range(260_000)]

    assert names(orm, [["name", "in", [*many, "Alpha", "beta"]]]) == {"Alpha", "beta"}
    assert names(orm, [["name", "not in", many]]) == ALL_ACTIVE
    assert names(orm, [["email", "in", [*many, False]]]) == {"Gamma"}


def test_records_are_read_by_an_id_list_of_any_length(orm: Orm) -> None:
    ids = orm.execute("res.partner", "search", ids=[], kwargs={"domain": []}).ids
    many = [*ids, *range(10_000_000, 10_260_000)]

    rows = orm.execute("res.partner", "read", ids=ids, kwargs={"fields": ["name"]})
    found = orm.execute("res.partner", "exists", ids=many)

    assert {row["name"] for row in rows} == ALL_ACTIVE
    assert sorted(found.ids) == sorted(ids)
