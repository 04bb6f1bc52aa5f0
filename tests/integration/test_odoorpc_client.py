"""The third-party ``odoorpc`` library talks to the stand-in like to an Odoo <= 18."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import odoorpc
import pytest
from standin_fixture import RunningStandin, running_standin

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    with running_standin(tmp_path_factory.mktemp("odoorpc")) as server:
        yield server


def connect(standin: RunningStandin) -> odoorpc.ODOO:
    address = urlsplit(standin.url)
    return odoorpc.ODOO(address.hostname, protocol="jsonrpc", port=address.port)


def test_odoorpc_logs_in_creates_and_reads_a_partner(standin: RunningStandin) -> None:
    odoo = connect(standin)
    assert odoo.version == "17.0"
    assert odoo.db.list() == [standin.database]

    odoo.login(standin.database, standin.login, standin.api_key)
    partners = odoo.env["res.partner"]
    partner_id = partners.create(
        {"name": "Odoorpc Partner", "email": "rpc@example.com"}
    )
    assert isinstance(partner_id, int)

    [row] = partners.read([partner_id], ["name", "email"])
    assert row == {
        "id": partner_id,
        "name": "Odoorpc Partner",
        "email": "rpc@example.com",
    }

    record = partners.browse(partner_id)
    assert record.name == "Odoorpc Partner"
    record.write({"phone": "+49 30 1234"})
    found = odoo.execute_kw(
        "res.partner",
        "search_read",
        [[["phone", "=", "+49 30 1234"]]],
        {"fields": ["name"]},
    )
    assert found == [{"id": partner_id, "name": "Odoorpc Partner"}]


def test_odoorpc_refuses_a_wrong_key(standin: RunningStandin) -> None:
    odoo = connect(standin)
    with pytest.raises(odoorpc.error.RPCError):
        odoo.login(standin.database, standin.login, "wrong-key")
