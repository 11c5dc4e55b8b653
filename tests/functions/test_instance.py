"""A function instance's resources."""

from __future__ import annotations

import gc
from pathlib import Path

from functions.instance import Instance
from functions.settings import ServiceSettings


def test_what_an_instance_makes_is_frozen_out_of_full_collections(tmp_path: Path) -> None:
    instance = Instance(ServiceSettings(data_root=tmp_path.as_uri()))
    earlier = [[]]
    assert any(o is earlier for o in gc.get_objects())
    storage = instance.data
    assert not any(o is earlier for o in gc.get_objects())
    assert instance.data is storage
