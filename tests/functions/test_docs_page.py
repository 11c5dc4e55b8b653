"""The documentation page, rendered by headless Chromium (Debian's package, no download)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..service_fixtures import free_port, start_function, wait_until_healthy

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pricing_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("docs")
    port = free_port()
    env = {
        **os.environ,
        "DIAMONDS_DATA_ROOT": (root / "data").as_uri(),
        "DIAMONDS_MODELS_ROOT": (root / "models").as_uri(),
        "DIAMONDS_DATABASE_URL": f"sqlite:///{root / 'db.sqlite'}",
    }
    process = start_function("pricing", port, env, root, subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(port)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_the_docs_page_renders_every_endpoint_offline(
    browser, pricing_url: str, tmp_path: Path
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(pricing_url) else None
        ),
    )
    page.goto(pricing_url + "/v1/docs")
    assert page.title() == "Diamond pricing API"
    headings = page.locator("section h3").all_inner_texts()
    for expected in (
        "POST /v1/price",
        "GET /v1/diamonds",
        "PATCH /v1/diamonds/{id}",
        "POST /v1/retrain",
        "POST /v1/models/{version}/promote",
        "GET /v1/runs/{run_id}",
    ):
        assert any(h.replace("\n", " ").strip() == expected for h in headings), headings
    assert page.locator("section pre", has_text="curl").count() == len(headings)
    assert page.locator("#examples + p + pre", has_text="VERSION=").is_visible()
    assert page.locator("#problem-422").is_visible()
    page.screenshot(path=str(tmp_path / "docs.png"))
    assert errors == [] and outside == []
    with page.expect_navigation():
        page.click("a[href='/v1/openapi.json']")
    assert '"openapi":"3.1.0"' in page.content().replace(" ", "")
