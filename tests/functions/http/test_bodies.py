"""Reading JSON bodies (functions/http/bodies.py): the quick test for repeated keys never
misses one, whatever the spacing, escapes or nesting."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.http.bodies import may_repeat_keys

names = st.sampled_from(["carat", "cut", "a", "", 'q"uote', "colon:", "\\", "é"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), names)
pairs = st.lists(st.tuples(names, scalars), max_size=6)
spacing = st.sampled_from(["", " ", "\n", "\t "])


@st.composite
def texts(draw) -> str:
    """A JSON object (or a list of them) written with keys possibly repeated."""

    def obj() -> str:
        gap = draw(spacing)
        items = [f"{json.dumps(k)}{gap}:{draw(spacing)}{json.dumps(v)}" for k, v in draw(pairs)]
        return "{" + ",".join(items) + "}"

    if draw(st.booleans()):
        return obj()
    return "[" + ",".join(obj() for _ in range(draw(st.integers(0, 3)))) + "]"


def repeats(text: str) -> bool:
    found = []

    def hook(items: list) -> dict:
        found.append(len(items) != len({k for k, _ in items}))
        return dict(items)

    json.loads(text, object_pairs_hook=hook)
    return any(found)


@settings(max_examples=500, deadline=None)
@given(texts())
def test_the_quick_test_never_misses_a_repeated_key(text: str) -> None:
    data = text.encode()
    if repeats(text):
        assert may_repeat_keys(data, orjson.loads(data))


def test_a_plain_list_of_stones_is_cleared_without_a_second_parse() -> None:
    stone = {"carat": 1.01, "cut": "Ideal", "color": "E", "table": 57}
    data = orjson.dumps([stone] * 100)
    assert not may_repeat_keys(data, orjson.loads(data))
    assert not may_repeat_keys(json.dumps(stone).encode(), stone)
