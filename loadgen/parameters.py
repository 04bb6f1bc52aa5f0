"""What a caller may choose about a generated corpus (validated at the edge)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GenerationParameters(BaseModel):
    """Size, seed and fault rates of one generated corpus.

    Rates are probabilities per delivered event line (per account for
    ``unlinked_rate``, per CRM company for ``bad_csv_rate``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: int | None = Field(default=None, ge=1)
    accounts: int | None = Field(default=None, ge=1)
    seed: int = 1
    duplicate_rate: float = Field(default=0.02, ge=0.0, le=1.0)
    disorder_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    late_rate: float = Field(default=0.005, ge=0.0, le=1.0)
    bad_rate: float = Field(default=0.005, ge=0.0, le=1.0)
    bad_csv_rate: float = Field(default=0.02, ge=0.0, le=1.0)
    unlinked_rate: float = Field(default=0.08, ge=0.0, le=1.0)
    start_date: date = date(2024, 9, 2)
    days: int = Field(default=80, ge=20, le=3650)
    interleave: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="accounts whose events are merged by time before delivery",
    )

    @model_validator(mode="after")
    def _one_size(self) -> GenerationParameters:
        if self.events is None and self.accounts is None:
            raise ValueError("give a size: events or accounts")
        return self
