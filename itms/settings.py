"""Runtime settings, read from the environment (prefix ``ITMS_``).

Every part of the system takes a :class:`Settings` instance; nothing reads the
environment at import time. Point ``ITMS_KAFKA_BOOTSTRAP`` and
``ITMS_DATABASE_URL`` at existing services to use them instead of the local
stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.kafka.config import KafkaConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV_SECRET = "itms-development-secret-change-me"


class Settings(BaseSettings):
    """All knobs of the system; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="ITMS_", extra="ignore")

    env: Literal["development", "production"] = "development"
    state_dir: Path = Field(default=REPO_ROOT / ".itms", description="Local stack data and logs.")

    # Kafka
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port list of an existing cluster; unset = local broker."
    )
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    topic_prefix: str = "itms."
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication: int = Field(default=1, ge=1)

    # PostgreSQL / TimescaleDB
    database_url: str | None = Field(
        default=None, description="libpq URL of an existing database; unset = local cluster."
    )
    pg_port: int = 55432
    pg_database: str = "itms"
    pg_user: str = "itms"

    # Feed validation
    max_future_s: float = Field(
        default=300.0, ge=0, description="Reject fixes this far ahead of now."
    )
    max_age_s: float = Field(
        default=7 * 86400.0, ge=0, description="Reject fixes older than this (seconds)."
    )
    unknown_fields: Literal["ignore", "reject"] = "ignore"
    max_message_bytes: int = Field(default=64 * 1024, ge=256)

    # Road network used by workers and simulators (GeoJSON or OSM); unset = bundled demo.
    network: Path | None = None
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh", description="The city's time zone (IANA name)."
    )
    probe_share: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of all vehicles reporting as probes (scales probe counts to flows).",
    )
    uncalibrated_detector_speeds: bool = Field(
        default=True,
        description="Loops whose speed factor is not learned yet (too few minutes shared with"
        " probes) count with their speed as measured; false: their speed is not used.",
    )
    incident_max_wait_s: float = Field(
        default=180.0,
        gt=0,
        description="The incident worker stops waiting for an input partition whose stored"
        " progress has not moved for this long (s).",
    )
    incident_params: Path | None = Field(
        default=None,
        description="TOML file of incident-detection thresholds that differ from the defaults"
        " (see `itms incident-params`).",
    )

    forecast_model: Path | None = Field(
        default=None,
        description="Forecast model file (`itms forecast train`); unset ="
        " <state_dir>/models/forecast.json. Missing or of another network: baselines, flagged.",
    )
    forecast_interval_min: int = Field(
        default=1, ge=1, description="The forecast worker forecasts every this many minutes."
    )

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    secret_key: str = DEFAULT_DEV_SECRET
    token_ttl_s: int = Field(default=3600, ge=60, description="Lifetime of bearer tokens, s.")
    privacy_min_vehicles: int = Field(
        default=3, ge=1, description="Publish a probe-based speed only from this many vehicles."
    )
    rate_limit_per_s: float = Field(
        default=20.0, ge=0, description="Requests per second per client (0 = no limit)."
    )
    rate_limit_burst: int = Field(default=60, ge=1, description="Token-bucket size per client.")
    cors_origins: str = Field(default="*", description="Comma-separated allowed CORS origins.")
    api_max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger request bodies are refused with 413."
    )
    state_cache_s: float = Field(
        default=1.0, ge=0, description="How long the API reuses one read of the current state."
    )
    stream_poll_s: float = Field(default=1.0, gt=0, description="Live streams poll this often.")
    corridors: Path | None = Field(
        default=None, description="Corridor file (YAML); unset = the bundled Hai Phong corridors."
    )

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key == DEFAULT_DEV_SECRET:
            raise ValueError("ITMS_SECRET_KEY must be set to a non-default value in production")
        return self

    @property
    def forecast_model_path(self) -> Path:
        """The forecast model file the worker loads and `itms forecast train` writes."""
        return self.forecast_model or self.state_dir / "models" / "forecast.json"

    @property
    def uses_local_kafka(self) -> bool:
        """True when the project starts its own broker."""
        return not self.kafka_bootstrap

    @property
    def uses_local_postgres(self) -> bool:
        """True when the project starts its own PostgreSQL cluster."""
        return not self.database_url

    @property
    def bootstrap_servers(self) -> str:
        """Kafka bootstrap servers to connect to."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def dsn(self) -> str:
        """libpq connection string of the database."""
        if self.database_url:
            return self.database_url
        return f"postgresql://{self.pg_user}@127.0.0.1:{self.pg_port}/{self.pg_database}"

    @property
    def kafka(self) -> KafkaConfig:
        """What the Kafka clients need: bootstrap servers and the topic layout."""
        return KafkaConfig(
            bootstrap_servers=self.bootstrap_servers,
            topic_prefix=self.topic_prefix,
            partitions=self.topic_partitions,
            replication=self.topic_replication,
        )

    def topic(self, name: str) -> str:
        """Full topic name for a logical topic (``gps``, ``detectors``, ``deadletter`` ...)."""
        return self.kafka.topic(name)
