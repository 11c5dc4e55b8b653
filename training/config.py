"""Settings from DIAMONDS_* environment variables; zero configuration gives the local setup.

Plain pydantic models read the environment themselves (pydantic-settings costs a third of a
second to import, which a function's cold start cannot afford).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from training.storage import check_uri

LOCAL_HOME = Path(".diamonds")
PREFIX = "DIAMONDS_"


class Settings(BaseModel):
    """Base of the settings classes: each field is read from DIAMONDS_<FIELD>."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        environ = os.environ if environ is None else environ
        values = {
            name: environ[PREFIX + name.upper()]
            for name in cls.model_fields
            if PREFIX + name.upper() in environ
        }
        return cls.model_validate({**values, **overrides})


StorageURI = Annotated[str, AfterValidator(check_uri)]


class TrainingSettings(Settings):
    """What a training run needs to know about its surroundings."""

    data_root: StorageURI = Field(
        default_factory=lambda: (LOCAL_HOME / "data").resolve().as_uri(),
        description="URI of the DATA root: file:///abs/path or gs://bucket[/prefix]",
    )
    models_root: StorageURI = Field(
        default_factory=lambda: (LOCAL_HOME / "models").resolve().as_uri(),
        description="URI of the MODELS root: file:///abs/path or gs://bucket[/prefix]",
    )
    gate_tolerance: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="How much worse (relative MAPE) a new model may be and still be promoted",
    )

    def training_environment(self) -> dict[str, str]:
        """These settings as the environment a training job reads them from: what every runner
        gives the job it starts (a subclass's own settings left out)."""
        return {
            PREFIX + name.upper(): str(getattr(self, name))
            for name in TrainingSettings.model_fields
        }


def settings_problem(error: ValidationError) -> str:
    """One line naming each environment variable that holds an unusable value."""
    return "bad setting: " + "; ".join(
        f"{PREFIX}{str(e['loc'][0]).upper()}: {e['msg']}" for e in error.errors()
    )
