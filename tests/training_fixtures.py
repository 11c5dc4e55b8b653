"""Shared fixtures for the training tests: the customer's file, and small fast models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from training.model import ModelParams, PriceModel

REPO = Path(__file__).resolve().parents[1]
CUSTOMER_FILE = REPO.parent / "shared" / "data" / "diamonds.csv"
FAST = ModelParams(n_estimators=40, calibration_folds=3)


@pytest.fixture(scope="session")
def customer_csv() -> bytes:
    """The customer's own file; required in CI, skipped elsewhere when absent."""
    if not CUSTOMER_FILE.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the customer's file is missing: {CUSTOMER_FILE.name}")
        pytest.skip("the customer's data file is not beside the checkout")
    return CUSTOMER_FILE.read_bytes()


@pytest.fixture(scope="session")
def public_csv() -> bytes:
    from training.datasets import public_diamonds_path

    return public_diamonds_path().read_bytes()


@pytest.fixture(scope="session")
def sample_csv(public_csv: bytes) -> bytes:
    """The first 1,500 stones of the public data set: enough to train a small model quickly."""
    return b"\n".join(public_csv.splitlines()[:1501]) + b"\n"


@pytest.fixture(scope="session")
def trained(sample_csv: bytes) -> tuple[PriceModel, np.ndarray, np.ndarray]:
    """A small model fitted on the sample, the sample's features and its prices."""
    from training.features import feature_matrix
    from training.validation import read_records

    records = read_records(sample_csv).accepted
    X, price = feature_matrix(records), records["price"].to_numpy(float)
    return PriceModel(FAST).fit(X, price), X, price


@pytest.fixture()
def roots(tmp_path: Path) -> dict[str, str]:
    return {
        "data": (tmp_path / "data").as_uri(),
        "models": (tmp_path / "models").as_uri(),
    }
