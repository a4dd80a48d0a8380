"""What the API needs to run: a small typed configuration built by the composition root.

The API never reads the environment or the project's settings; the composition root
(``itms.wiring.api.api_config``) builds an :class:`ApiConfig` from them. Every field is required,
so the defaults live in one place (the settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Configuration of one API process (times in seconds, sizes in bytes)."""

    dsn: str
    """libpq connection string of the database."""
    version: str
    """Version reported in the OpenAPI document."""
    secret_key: str
    """Signs bearer tokens and hashes API keys."""
    token_ttl_s: int
    """Lifetime of bearer tokens, s."""
    privacy_min_vehicles: int
    """Publish a probe-based speed only from this many vehicles."""
    rate_limit_per_s: float
    """Requests per second per client (0 = no limit)."""
    rate_limit_burst: int
    """Token-bucket size per client."""
    cors_origins: str
    """Comma-separated allowed CORS origins."""
    max_body_bytes: int
    """Larger request bodies are refused with 413."""
    state_cache_s: float
    """How long one read of the current state is reused, s."""
    stream_poll_s: float
    """Live streams poll the database this often, s."""
    corridors: Path | None
    """Corridor file (YAML); ``None`` = the bundled Hai Phong corridors."""
    kafka_bootstrap: str
    """Kafka bootstrap servers, read by the dashboard's feed health."""
    feed_topics: Mapping[str, str]
    """Full Kafka topic name per logical feed topic (``gps``, ``detectors``, ``deadletter``)."""
