"""Settings from DIAMONDS_* environment variables; zero configuration gives the local setup."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_HOME = Path(".diamonds")


class TrainingSettings(BaseSettings):
    """What a training run needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="DIAMONDS_", extra="ignore")

    data_root: str = Field(
        default_factory=lambda: (LOCAL_HOME / "data").resolve().as_uri(),
        description="URI of the DATA root: file:///abs/path or gs://bucket[/prefix]",
    )
    models_root: str = Field(
        default_factory=lambda: (LOCAL_HOME / "models").resolve().as_uri(),
        description="URI of the MODELS root: file:///abs/path or gs://bucket[/prefix]",
    )
    gate_tolerance: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="How much worse (relative MAPE) a new model may be and still be promoted",
    )


def settings_problem(error: ValidationError) -> str:
    """One line naming each environment variable that holds an unusable value."""
    return "bad setting: " + "; ".join(
        f"DIAMONDS_{str(e['loc'][0]).upper()}: {e['msg']}" for e in error.errors()
    )
