"""A real client built from the served document: openapi-python-client (the most used Python
generator) builds one with no warning, and through it a program prices a stone, pages the
inventory and reads a 422's field pointers, against every function under functions-framework
behind one address, on SQLite and on PostgreSQL."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from ..service_fixtures import KEY, PARTNER_KEY, FrontDoor
from .test_api import SLIP, STONE

PACKAGE = "diamond_pricing_api_client"


@pytest.fixture(scope="module")
def generated(front_door: FrontDoor, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The client package generated from the document the API serves, imported; and what
    the generator printed."""
    root = tmp_path_factory.mktemp("client")
    spec = root / "openapi.json"
    spec.write_bytes(requests.get(f"{front_door.url}/v1/openapi.json", timeout=30).content)
    tools = Path(sys.executable).parent
    result = subprocess.run(
        [str(tools / "openapi-python-client"), "generate", "--path", str(spec)],
        cwd=root,
        env={**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    project = next(p for p in root.iterdir() if p.is_dir())
    sys.path.insert(0, str(project))
    try:
        package = importlib.import_module(PACKAGE)
        yield SimpleNamespace(package=package, output=output, url=front_door.url)
    finally:
        sys.path.remove(str(project))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_the_client_builds_without_a_warning(generated) -> None:
    assert "warning" not in generated.output.lower(), generated.output
    assert "Generating" in generated.output


def test_price_a_stone_through_the_client(generated) -> None:
    from diamond_pricing_api_client import Client
    from diamond_pricing_api_client.api.pricing import get_v1_price, post_v1_price
    from diamond_pricing_api_client.models import (
        GetV1PriceClarity,
        GetV1PriceColor,
        GetV1PriceCut,
        Price,
        PriceList,
        Stone,
    )

    client = Client(base_url=generated.url)
    response = post_v1_price.sync_detailed(
        client=client, body=Stone.from_dict(STONE), explain=True, comparables=2
    )
    assert response.status_code == 200, response.content
    price = response.parsed
    assert isinstance(price, Price)
    assert price.interval.low < price.price < price.interval.high
    assert price.interval.coverage == 0.9 and price.model_version
    assert [f.characteristic.value for f in price.explanation.factors] == [
        "carat",
        "cut",
        "color",
        "clarity",
        "proportions",
    ]
    many = post_v1_price.sync(client=client, body=[Stone.from_dict(STONE)] * 3)
    assert isinstance(many, PriceList) and len(many.prices) == 3
    grades = {
        "cut": GetV1PriceCut(STONE["cut"]),
        "color": GetV1PriceColor(STONE["color"]),
        "clarity": GetV1PriceClarity(STONE["clarity"]),
    }
    by_query = get_v1_price.sync(client=client, **{**STONE, **grades})
    assert by_query.price == pytest.approx(price.price)


def test_page_the_inventory_through_the_client(generated) -> None:
    from diamond_pricing_api_client import AuthenticatedClient
    from diamond_pricing_api_client.api.inventory import get_v1_diamonds, post_v1_diamonds
    from diamond_pricing_api_client.models import Diamond, DiamondPage, GetV1DiamondsCutItem

    writer = AuthenticatedClient(base_url=generated.url, token=KEY)
    stones = [Diamond.from_dict({**STONE, "cut": "Fair", "price": 4000.0 + i}) for i in range(7)]
    created = post_v1_diamonds.sync_detailed(client=writer, body=stones)
    assert created.status_code == 201, created.content
    ids = {stone.id for stone in created.parsed}

    partner = AuthenticatedClient(base_url=generated.url, token=PARTNER_KEY)
    seen, cursor, pages = [], None, 0
    while True:
        page = get_v1_diamonds.sync(
            client=partner,
            cut=[GetV1DiamondsCutItem.FAIR],
            price_min=4000,
            price_max=4006,
            limit=3,
            **({"cursor": cursor} if cursor is not None else {}),
        )
        assert isinstance(page, DiamondPage)
        seen += [stone.id for stone in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert set(seen) >= ids and len(seen) == len(set(seen)) == page.total
    assert pages == -(-page.total // 3)


def test_read_a_422s_field_pointers_through_the_client(generated) -> None:
    from diamond_pricing_api_client import AuthenticatedClient, Client
    from diamond_pricing_api_client.api.inventory import get_v1_diamonds, patch_v1_diamonds_id
    from diamond_pricing_api_client.api.pricing import post_v1_price
    from diamond_pricing_api_client.models import DiamondPatch, ProblemDetails, Stone

    client = Client(base_url=generated.url)
    one = post_v1_price.sync(client=client, body=Stone.from_dict(SLIP))
    assert isinstance(one, ProblemDetails) and one.status == 422
    assert one.type_ == "/v1/docs#implausible-stone"
    # its weight and depth disagree with its dimensions; y is far beyond the training stones
    assert [e.field for e in one.errors] == ["/carat", "/depth", "/y"]
    many = post_v1_price.sync(client=client, body=[Stone.from_dict(STONE), Stone.from_dict(SLIP)])
    assert [e.field for e in many.errors] == ["/1/carat", "/1/depth", "/1/y"]

    reader = AuthenticatedClient(base_url=generated.url, token=PARTNER_KEY)
    bad_page = get_v1_diamonds.sync(client=reader, limit=0)
    assert isinstance(bad_page, ProblemDetails)
    assert [e.field for e in bad_page.errors] == ["/query/limit"]
    writer = AuthenticatedClient(base_url=generated.url, token=KEY)
    missing = patch_v1_diamonds_id.sync(
        client=writer, id=2**31 - 1, body=DiamondPatch.from_dict({"price": 1.0})
    )
    assert isinstance(missing, ProblemDetails) and missing.status == 404


def test_a_partner_prices_reads_its_usage_and_meets_its_limit_through_the_client(
    generated,
) -> None:
    import time

    from diamond_pricing_api_client import AuthenticatedClient
    from diamond_pricing_api_client.api.partners import (
        get_v1_usage,
        post_v1_partners,
        post_v1_partners_name_keys,
    )
    from diamond_pricing_api_client.api.pricing import post_v1_price
    from diamond_pricing_api_client.models import (
        IssuedKey,
        KeyRequest,
        PartnerNew,
        Price,
        PriceList,
        ProblemDetails,
        Stone,
        UsageReport,
    )

    admin = AuthenticatedClient(base_url=generated.url, token=KEY)
    plan = {"name": "client-co", "contact": "dev@client.example", "requests_per_minute": 4}
    created = post_v1_partners.sync_detailed(client=admin, body=PartnerNew.from_dict(plan))
    assert created.status_code == 201, created.content
    issued = post_v1_partners_name_keys.sync(
        client=admin, name="client-co", body=KeyRequest.from_dict({})
    )
    assert isinstance(issued, IssuedKey) and issued.key.startswith("dmd_live_")

    partner = AuthenticatedClient(base_url=generated.url, token=issued.key)
    assert isinstance(post_v1_price.sync(client=partner, body=Stone.from_dict(STONE)), Price)
    batch = post_v1_price.sync(client=partner, body=[Stone.from_dict(STONE)] * 5)
    assert isinstance(batch, PriceList) and len(batch.prices) == 5
    deadline = time.monotonic() + 10
    while True:
        counted = get_v1_usage.sync(client=admin, partner="client-co")
        if (counted.partners and counted.partners[0].stones == 6) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    usage = get_v1_usage.sync(client=partner)
    assert isinstance(usage, UsageReport)
    (total,) = usage.partners
    assert total.partner == "client-co" and total.stones == 6
    answers = [
        post_v1_price.sync_detailed(client=partner, body=Stone.from_dict(STONE)) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]  # 4 pricing requests a minute
    assert isinstance(answers[-1].parsed, ProblemDetails)
    assert int(answers[-1].headers["Retry-After"]) >= 1
