"""The models and fields the stand-in knows: exactly those of docs/odoo-mapping.md.

A model is a name, an ordered set of fields, the field that gives its display name and
its default order. Field types follow Odoo's names so ``fields_get`` answers what a real
server would for the same definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from odoo_standin.exceptions import InvalidValue

FIELD_TYPES = frozenset(
    {
        "char",
        "text",
        "integer",
        "float",
        "boolean",
        "date",
        "datetime",
        "selection",
        "many2one",
    }
)


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    string: str = ""
    required: bool = False
    relation: str | None = None
    selection: tuple[tuple[str, str], ...] = ()
    default: Any = None
    # Searched by value on every write (a business id the sink adopts records by):
    # the column gets an index, as the module defining the field would give it.
    index: bool = False

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type}")
        if (self.type == "many2one") != (self.relation is not None):
            raise ValueError(f"field {self.name}: a relation goes with many2one only")

    @property
    def label(self) -> str:
        return self.string or self.name.removeprefix("x_").replace("_", " ").title()

    def describe(self) -> dict[str, Any]:
        """The ``fields_get`` entry of this field."""
        description: dict[str, Any] = {
            "type": self.type,
            "string": self.label,
            "required": self.required,
            "readonly": False,
            "store": True,
            "searchable": True,
            "sortable": True,
        }
        if self.relation:
            description["relation"] = self.relation
        if self.type == "selection":
            description["selection"] = [list(option) for option in self.selection]
        return description


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    fields: Mapping[str, Field]
    rec_name: str = "name"
    order: str = "id"
    # Indexes over several columns, as Odoo's own tables have them.
    indexes: tuple[tuple[str, ...], ...] = ()
    # Pseudo-fields readable like stored ones but computed from a record's row.
    computed: Mapping[str, Callable[[Mapping[str, Any]], Any]] = field(
        default_factory=dict
    )

    @property
    def table(self) -> str:
        return self.name.replace(".", "_")

    @property
    def has_active(self) -> bool:
        return "active" in self.fields

    def field(self, name: str) -> Field:
        try:
            return self.fields[name]
        except KeyError:
            raise InvalidValue(
                f"Invalid field {name!r} on model {self.name!r}"
            ) from None


def _model(
    name: str,
    description: str,
    fields: list[Field],
    **options: Any,
) -> Model:
    return Model(name, description, {f.name: f for f in fields}, **options)


def _char(name: str, **options: Any) -> Field:
    return Field(name, "char", **options)


def _text(name: str) -> Field:
    return Field(name, "text")


def _integer(name: str) -> Field:
    return Field(name, "integer")


def _boolean(name: str, default: bool = False) -> Field:
    return Field(name, "boolean", default=default)


def _many2one(name: str, relation: str, **options: Any) -> Field:
    return Field(name, "many2one", relation=relation, **options)


def _selection(name: str, options: list[tuple[str, str]], **extra: Any) -> Field:
    return Field(name, "selection", selection=tuple(options), **extra)


PARTNER_TYPES = [
    ("contact", "Contact"),
    ("invoice", "Invoice Address"),
    ("delivery", "Delivery Address"),
    ("other", "Other Address"),
]

SUBSCRIPTION_STATES = [
    ("1_draft", "Quotation"),
    ("2_renewal", "Renewal Quotation"),
    ("3_progress", "In Progress"),
    ("4_paused", "Paused"),
    ("5_renewed", "Renewed"),
    ("6_churn", "Churned"),
    ("7_upsell", "Upsell"),
]

MOVE_TYPES = [
    ("entry", "Journal Entry"),
    ("out_invoice", "Customer Invoice"),
    ("out_refund", "Customer Credit Note"),
    ("in_invoice", "Vendor Bill"),
    ("in_refund", "Vendor Credit Note"),
    ("out_receipt", "Sales Receipt"),
    ("in_receipt", "Purchase Receipt"),
]

TICKET_PRIORITIES = [
    ("0", "Low priority"),
    ("1", "Medium priority"),
    ("2", "High priority"),
    ("3", "Urgent"),
]


def _partner() -> Model:
    return _model(
        "res.partner",
        "Contact",
        [
            _char("name"),
            _boolean("is_company"),
            _selection("type", PARTNER_TYPES, default="contact"),
            _many2one("parent_id", "res.partner", string="Related Company"),
            _char("email"),
            _char("phone"),
            _char("vat", string="Tax ID"),
            _many2one("country_id", "res.country", string="Country"),
            _char("ref", string="Reference"),
            _boolean("active", default=True),
            _text("comment"),
            _integer("x_source_version"),
            _char("x_canonical_account_id", index=True),
            _char("x_domain"),
            _boolean("x_linked_to_crm"),
            _text("x_flags"),
            _text("x_crm_company_ids"),
            _text("x_billing_customer_ids"),
            _text("x_product_group_ids"),
            _text("x_helpdesk_organization_ids"),
            _text("x_contact_emails"),
            _text("x_billing_emails"),
            _integer("x_profile_revision"),
            _char("x_merged_into"),
            _char("x_crm_contact_id", index=True),
        ],
        order="name, id",
    )


def _sale_order() -> Model:
    return _model(
        "sale.order",
        "Sales Order",
        [
            _char("name", required=True, default="New"),
            _many2one("partner_id", "res.partner", required=True, string="Customer"),
            _many2one("currency_id", "res.currency", string="Currency"),
            _char("client_order_ref", string="Customer Reference"),
            _boolean("is_subscription"),
            _selection("subscription_state", SUBSCRIPTION_STATES),
            _integer("x_source_version"),
            _char("x_subscription_id", index=True),
            _char("x_customer_id"),
            _char("x_status"),
            _char("x_price_id"),
            _char("x_price_lookup_key"),
            _char("x_product_id"),
            _integer("x_unit_amount"),
            _char("x_interval"),
            _integer("x_quantity"),
            _boolean("x_cancel_at_period_end"),
        ],
        order="id desc",
    )


def _account_move() -> Model:
    return _model(
        "account.move",
        "Journal Entry",
        [
            _char("name", default="/"),
            _selection("move_type", MOVE_TYPES, required=True, default="entry"),
            _many2one("partner_id", "res.partner", string="Partner"),
            _many2one("currency_id", "res.currency", string="Currency"),
            _char("payment_reference"),
            _integer("x_source_version"),
            _char("x_invoice_id", index=True),
            _char("x_number"),
            _char("x_customer_id"),
            _char("x_subscription_id", index=True),
            _char("x_status"),
            _char("x_payment_status"),
            _integer("x_amount_total"),
            _integer("x_amount_paid"),
            _integer("x_amount_refunded"),
        ],
        order="id desc",
    )


def _helpdesk_ticket() -> Model:
    return _model(
        "helpdesk.ticket",
        "Helpdesk Ticket",
        [
            _char("name", required=True, string="Subject"),
            _many2one("partner_id", "res.partner", string="Customer"),
            _selection("priority", TICKET_PRIORITIES, default="0"),
            _integer("x_source_version"),
            _char("x_ticket_id", index=True),
            _char("x_status"),
            _char("x_priority"),
        ],
        order="priority desc, id desc",
    )


def _product_usage() -> Model:
    return _model(
        "x_product_usage",
        "Product Usage",
        [
            _char("x_name", index=True),
            _many2one("x_partner_id", "res.partner", string="Partner"),
            _char("x_group_id"),
            Field("x_day", "date"),
            _char("x_event"),
            _integer("x_count"),
            _integer("x_quantity"),
            _integer("x_source_version"),
        ],
        rec_name="x_name",
    )


def _external_id(row: Mapping[str, Any]) -> str:
    return f"{row['module']}.{row['name']}"


def _model_data() -> Model:
    return _model(
        "ir.model.data",
        "Model Data",
        [
            _char("module", required=True),
            _char("name", required=True, string="External Identifier"),
            _char("model", required=True, string="Model Name"),
            Field("res_id", "integer", string="Record ID"),
            _boolean("noupdate"),
        ],
        order="module, model, name",
        computed={"complete_name": _external_id},
        rec_name="complete_name",
        # Odoo keeps (module, name) unique and looks records' ids up by (model, res_id).
        indexes=(("module", "name"), ("model", "res_id")),
    )


def _country() -> Model:
    return _model(
        "res.country",
        "Country",
        [_char("name", required=True), _char("code", string="Country Code")],
        order="name",
    )


def _currency() -> Model:
    return _model(
        "res.currency",
        "Currency",
        [
            _char("name", required=True),
            _char("symbol", required=True),
            Field("decimal_places", "integer"),
            _boolean("active", default=True),
        ],
        order="active desc, name",
    )


def _users() -> Model:
    return _model(
        "res.users",
        "User",
        [_char("name", required=True), _char("login", required=True)],
        order="name, login",
    )


def build_registry() -> dict[str, Model]:
    """Every model of the stand-in, by technical name."""
    models = [
        _partner(),
        _sale_order(),
        _account_move(),
        _helpdesk_ticket(),
        _product_usage(),
        _model_data(),
        _country(),
        _currency(),
        _users(),
    ]
    return {model.name: model for model in models}
