"""Pricing with the champion (functions/pricer.py): a stone priced alone as among others, its
explanation and comparable stones, a batch with a refused stone priced not at all, and no price
before a champion; a real registry in a folder and a small model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from functions.champion import Champion
from functions.payloads.stones import EXAMPLE_STONE, Stone
from functions.pricer import Pricer
from training.features import GROUPS
from training.record import CATEGORIES, FEATURES
from training.registry import NoChampion, Registry
from training.storage import LocalStorage

VERSION = "v1"
IMPLAUSIBLE = json.loads((Path(__file__).parents[2] / "docs/examples/implausible.json").read_text())


@pytest.fixture(scope="module")
def stones(trained) -> list[Stone]:
    """Twenty stones of the model's own sample, as the API validates them."""
    _, X, _ = trained
    return [
        Stone(
            **{
                name: CATEGORIES[name][int(value)] if name in CATEGORIES else value
                for name, value in zip(FEATURES, x, strict=True)
            }
        )
        for x in X[:: len(X) // 20][:20].tolist()
    ]


@pytest.fixture()
def registry(tmp_path: Path, trained) -> Registry:
    registry = Registry(LocalStorage(tmp_path / "models"))
    registry.register(VERSION, trained[0].to_files(), {})
    registry.promote(VERSION, "first")
    return registry


class Inventory:
    """The comparables of a fake inventory, and what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple] = []

    def __call__(self, cut: str, color: str, clarity: str, carat: float, n: int) -> list[dict]:
        self.asked.append((cut, color, clarity, carat, n))
        return [{"id": i, "carat": carat, "cut": cut} for i in range(n)]


def test_a_stone_is_priced_alone_to_the_last_bit_as_among_others(
    registry: Registry, stones: list[Stone]
) -> None:
    pricer = Pricer(Champion(registry))
    version, batch, problems = pricer.price(stones)
    assert version == VERSION and problems == [[]] * len(stones)
    for stone, among in zip(stones, batch, strict=True):
        assert pricer.price([stone]) == (VERSION, [among], [[]])
        low, price, high = among["interval"]["low"], among["price"], among["interval"]["high"]
        assert low < price < high
        assert among["interval"]["coverage"] == 0.9 and among["model_version"] == VERSION
        assert set(among) == {"price", "interval", "model_version"}


def test_an_explanation_multiplies_back_to_the_price_alone_and_among_others(
    registry: Registry, stones: list[Stone]
) -> None:
    pricer = Pricer(Champion(registry))
    _, batch, _ = pricer.price(stones, explain=True)
    for stone, among in zip(stones, batch, strict=True):
        [alone] = pricer.price([stone], explain=True)[1]
        for result in (alone, among):
            explanation = result["explanation"]
            factors = explanation["factors"]
            assert [f["characteristic"] for f in factors] == list(GROUPS)
            product = explanation["base_price"] * math.prod(f["factor"] for f in factors)
            assert product == pytest.approx(result["price"], rel=1e-9)
            assert explanation["text"].startswith(f"base price ${explanation['base_price']:,.0f}; ")
        assert alone["price"] == among["price"]
        assert [f["label"] for f in alone["explanation"]["factors"]] == [
            f["label"] for f in among["explanation"]["factors"]
        ]
        for one, other in zip(
            alone["explanation"]["factors"], among["explanation"]["factors"], strict=True
        ):
            assert one["factor"] == pytest.approx(other["factor"], rel=1e-12)


def test_each_stone_gets_comparables_of_its_own_grades(
    registry: Registry, stones: list[Stone]
) -> None:
    inventory = Inventory()
    pricer = Pricer(Champion(registry), comparables=inventory)
    _, results, _ = pricer.price(stones[:3], comparables=2)
    assert inventory.asked == [(s.cut, s.color, s.clarity, s.carat, 2) for s in stones[:3]]
    for stone, result in zip(stones[:3], results, strict=True):
        assert result["comparables"] == [
            {"id": i, "carat": stone.carat, "cut": stone.cut} for i in (0, 1)
        ]
    inventory.asked.clear()
    _, results, _ = pricer.price(stones[:3])
    assert inventory.asked == [] and all("comparables" not in r for r in results)
    _, results, _ = Pricer(Champion(registry)).price(stones[:3], comparables=2)
    assert all("comparables" not in r for r in results)


def test_a_batch_with_a_refused_stone_prices_none_and_names_each_problem(
    registry: Registry, stones: list[Stone]
) -> None:
    inventory = Inventory()
    pricer = Pricer(Champion(registry), comparables=inventory)
    far_out = Stone(**{**EXAMPLE_STONE, "carat": 9.0, "x": 13.0, "y": 13.0, "z": 8.0})
    batch = [stones[0], Stone(**IMPLAUSIBLE), far_out, stones[1]]
    version, results, problems = pricer.price(batch, explain=True, comparables=3)
    assert (version, results, inventory.asked) == (VERSION, [], [])
    assert problems[0] == [] and problems[3] == []
    assert "y" in [field for field, _ in problems[1]]
    [carat] = [message for field, message in problems[2] if field == "carat"]
    assert "outside the range the model was trained on" in carat
    assert pricer.price([Stone(**IMPLAUSIBLE)])[1:] == ([], [problems[1]])


def test_there_is_no_price_before_a_champion(tmp_path: Path, stones: list[Stone]) -> None:
    pricer = Pricer(Champion(Registry(LocalStorage(tmp_path / "models"))))
    with pytest.raises(NoChampion):
        pricer.price(stones[:1])
