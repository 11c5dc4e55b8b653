"""The service's settings: DIAMONDS_* environment variables (the names Terraform sets)."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr

from functions.http.keys import Principal, parse_keys
from training.config import LOCAL_HOME, TrainingSettings


def _database_url(url: str) -> str:
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise ValueError("use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db")
    return url


DatabaseURL = Annotated[str, AfterValidator(_database_url)]


def _app_url(url: SecretStr) -> SecretStr:
    if url.get_secret_value():
        _database_url(url.get_secret_value())
    return url


AppURL = Annotated[SecretStr, AfterValidator(_app_url)]
_MACHINE_TYPE = re.compile(r"[a-z][a-z0-9-]{1,62}")


def _machine_rule(text: object) -> object:
    """`STONES:MACHINE_TYPE,...` as ((stones, machine type), ...): from 0 stones, ascending."""
    if not isinstance(text, str):
        return text
    rule = []
    for entry in text.split(","):
        stones, _, machine = (part.strip() for part in entry.partition(":"))
        if not stones.isdigit() or not _MACHINE_TYPE.fullmatch(machine):
            raise ValueError(f"{entry.strip()!r} is not STONES:MACHINE_TYPE (0:n1-standard-4)")
        rule.append((int(stones), machine))
    if rule[0][0] != 0 or any(a >= b for (a, _), (b, _) in pairwise(rule)):
        raise ValueError("the stones must start at 0 and grow from one machine to the next")
    return tuple(rule)


MachineRule = Annotated[tuple[tuple[int, str], ...], BeforeValidator(_machine_rule)]


def _api_keys(keys: SecretStr) -> SecretStr:
    parse_keys(keys.get_secret_value())
    return keys


ApiKeys = Annotated[SecretStr, AfterValidator(_api_keys)]


class ServiceSettings(TrainingSettings):
    """Everything a function instance reads from its environment; zero configuration is the
    local setup (a folder, SQLite, a subprocess runner)."""

    database_url: DatabaseURL = Field(
        default_factory=lambda: f"sqlite:///{(LOCAL_HOME / 'diamonds.db').resolve()}",
        description="SQLAlchemy URL of the inventory database",
    )
    database_app_url: AppURL = Field(
        default=SecretStr(""),
        description=(
            "the database upgrade's: the URL the functions connect with, whose user it makes a "
            "role that may read and write rows only (PostgreSQL); empty: none"
        ),
    )
    api_keys: ApiKeys = Field(
        default=SecretStr(""),
        description=(
            "the team's comma-separated bearer keys, each [read:][NAME=]KEY: known as env:NAME "
            "(or by its position); a read: key may only read and price, any other is an admin "
            "key; the partners' keys are in the database"
        ),
    )
    read_requires_key: bool = Field(
        default=False, description="whether reads and pricing need a bearer key too"
    )
    training_runner: Literal["local", "vertex"] = Field(
        default="local", description="where retraining runs: a subprocess or a Vertex AI job"
    )
    gcp_project: str = Field(default="", description="GCP project of the Vertex AI job")
    gcp_region: str = Field(default="europe-west1", description="region of the Vertex AI job")
    training_image: str = Field(default="", description="container image of the training job")
    vertex_service_account: str = Field(default="", description="identity of the training job")
    vertex_staging_bucket: str = Field(default="", description="gs:// staging bucket for Vertex")
    vertex_machine_types: MachineRule = Field(
        default=((0, "n1-standard-4"),),
        description=(
            "the Vertex AI job's machine by the size of the snapshot it trains on: "
            "STONES:MACHINE_TYPE,... (from so many stones, that machine), e.g. "
            "0:n1-standard-4,4000000:n1-highmem-8"
        ),
    )
    vertex_endpoint: str = Field(
        default="",
        description="Vertex AI API endpoint override (host[:port] or URL); empty: regional",
    )
    champion_ttl_seconds: float = Field(
        default=10.0, ge=0.0, le=3600.0, description="how often pricing checks champion.json"
    )
    max_body_bytes: int = Field(
        default=8_000_000, ge=1024, le=64_000_000, description="largest request body accepted"
    )
    ingest_lease_seconds: float = Field(
        default=30.0,
        ge=1.0,
        le=86400.0,
        description=(
            "how long a delivery of a data file holds it without renewing (it renews every "
            "quarter of this while it works): a delivery that died is taken over after this"
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")

    def bearer_keys(self) -> tuple[tuple[Principal, bytes], ...]:
        """The team's keys of `api_keys`: each one's principal and secret (functions.http.keys)."""
        return parse_keys(self.api_keys.get_secret_value())
