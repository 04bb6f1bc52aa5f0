"""One typed settings object per process, read from the environment and an optional file.

Environment variables use the ``PIPELINE_`` prefix and ``__`` between nested names, e.g.
``PIPELINE_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092`` or ``PIPELINE_ODOO__API_KEY=...``.
``PIPELINE_CONFIG_FILE`` may name a TOML file with the same structure; the environment
wins over the file. Secrets are ``SecretStr`` so they print redacted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_FREE_MAIL_DOMAINS = [
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "t-online.de",
    "mail.ru",
    "yandex.ru",
    "qq.com",
    "163.com",
    "zoho.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
    "orange.fr",
    "free.fr",
    "libero.it",
    "mailbox.org",
]


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    schema_registry_url: str | None = Field(
        default=None,
        description="Confluent Schema Registry; unset uses the embedded catalog.",
    )
    topic_prefix: str = ""
    partitions: int = 6
    replication_factor: int = 1


class OdooSettings(BaseModel):
    url: str = "http://127.0.0.1:8069"
    database: str = "pipeline"
    protocol: Literal["json2", "jsonrpc"] = Field(
        default="json2",
        description="json2 for Odoo 19+, jsonrpc (execute_kw) for Odoo <= 18.",
    )
    login: str = Field(
        default="admin", description="User for JSON-RPC (JSON-2 uses the key)."
    )
    api_key: SecretStr = SecretStr("standin-dev-key")
    xmlid_module: str = Field(
        default="saas_pipeline",
        description="ir.model.data module of the external ids we own.",
    )
    timeout_seconds: float = 30.0


class IngestSettings(BaseModel):
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8780
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=lambda: {
            "billing": SecretStr("dev-billing-secret"),
            "product": SecretStr("dev-product-secret"),
            "helpdesk": SecretStr("dev-helpdesk-secret"),
        },
        description="Shared HMAC secret per webhook source.",
    )
    max_line_bytes: int = 65536


class ProcessorSettings(BaseModel):
    app_id: str = "saas-odoo-pipeline"
    state_dir: Path = Path(".state/processors")
    dedup_retention_days: float = Field(
        default=7.0,
        description="How long event ids are remembered (Stripe retries 3 days).",
    )
    free_mail_domains: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FREE_MAIL_DOMAINS)
    )
    web_port: int = 6066
    usage_grace_days: float = Field(
        default=92.0,
        description="How long a UTC day of usage accepts late calls after it ends, "
        "measured per workspace on the newest call time seen for it.",
    )
    output_journal_span: int = Field(
        default=20_000,
        ge=1,
        description="Input offsets whose correlate changes and outputs are kept for "
        "recovery after a crash; must exceed the records processed between commits.",
    )
    reorder_hold_seconds: float = Field(
        default=3.0,
        ge=0.0,
        description="How long correlate holds an event (by record arrival time) so "
        "that events delivered out of order are applied in event-time order.",
    )
    reorder_max_per_account: int = Field(
        default=1000,
        ge=1,
        description="Most events held for one account; beyond it the oldest go early.",
    )
    reorder_dependency_wait_seconds: float = Field(
        default=15.0,
        ge=0.0,
        description="How long a payment waits in the buffer for its invoice.",
    )
    reorder_tick_seconds: float = Field(
        default=1.0,
        gt=0.0,
        description="While events are held, how often the worker sends a tick record "
        "so holds end even when no new event arrives.",
    )
    table_cache_mb: int = Field(
        default=16,
        ge=1,
        description="RocksDB block cache of each local table store (one per table "
        "partition), MiB.",
    )
    table_write_buffer_mb: int = Field(
        default=8,
        ge=1,
        description="RocksDB memtable size of each local table store, MiB; a store "
        "keeps at most two.",
    )


class SinkSettings(BaseModel):
    group_id: str = "odoo-sink"
    batch_max_records: int = Field(
        default=200, description="Most records gathered into one batch of writes."
    )
    poll_timeout_seconds: float = 1.0
    batching: bool = Field(
        default=True,
        description="Batch Odoo calls per poll; false applies one record at a time.",
    )
    flush_interval_seconds: float = Field(
        default=0.2,
        description="How long a batch keeps gathering records after its first one.",
    )
    retry_seconds: float = Field(
        default=60.0,
        description="How long one batch keeps retrying a transiently failing Odoo "
        "before its partitions are paused.",
    )
    outage_pause_seconds: float = Field(
        default=5.0,
        description="First pause of partitions while Odoo is unavailable; doubles "
        "up to outage_pause_max_seconds.",
    )
    outage_pause_max_seconds: float = 60.0
    field_ownership_file: Path | None = Field(
        default=None,
        description="TOML file saying which source owns which Odoo field; unset "
        "uses deploy/field_ownership.toml of the repository.",
    )
    audit_mask_personal_data: bool = Field(
        default=True,
        description="Mask e-mails, phones and names in audit events.",
    )
    instance_id: str = Field(
        default="", description="Names this sink in audit events (default host:pid)."
    )


class TracingSettings(BaseModel):
    spans_file: Path = Path(".state/spans.jsonl")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIPELINE_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    odoo: OdooSettings = Field(default_factory=OdooSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    processors: ProcessorSettings = Field(default_factory=ProcessorSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("PIPELINE_CONFIG_FILE")
        if config_file:
            sources.append(
                TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file))
            )
        return tuple(sources)

    def redacted(self) -> dict[str, Any]:
        """Settings as plain data with every secret replaced by ``**********``."""
        return json.loads(self.model_dump_json())


class SettingsError(Exception):
    """The environment or the config file holds settings that do not validate.

    The message names each setting and what is wrong with it, never the value given:
    a misshapen secret must not be printed while it is reported.
    """


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem['loc'])} "
        f"(PIPELINE_{'__'.join(str(part) for part in problem['loc'][:2]).upper()}): "
        f"{problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)
    ]
    return "invalid settings: " + "; ".join(problems)
