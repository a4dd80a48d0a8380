"""Wiring of the API: its typed configuration from the settings, and the app."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from api.config import ApiConfig
from api.feed_offsets import FEED_TOPICS
from itms import __version__
from itms.settings import Settings


def api_config(settings: Settings) -> ApiConfig:
    """The API's configuration from the settings (the Kafka topics of the dashboard's feed
    health with their full, prefixed names)."""
    return ApiConfig(
        dsn=settings.dsn,
        version=__version__,
        secret_key=settings.secret_key,
        token_ttl_s=settings.token_ttl_s,
        privacy_min_vehicles=settings.privacy_min_vehicles,
        rate_limit_per_s=settings.rate_limit_per_s,
        rate_limit_burst=settings.rate_limit_burst,
        cors_origins=settings.cors_origins,
        max_body_bytes=settings.api_max_body_bytes,
        state_cache_s=settings.state_cache_s,
        stream_poll_s=settings.stream_poll_s,
        corridors=settings.corridors,
        kafka_bootstrap=settings.bootstrap_servers,
        feed_topics={name: settings.topic(name) for name in FEED_TOPICS},
    )


def build_app(settings: Settings | None = None) -> FastAPI:
    """The API app for the settings (default: read from the environment)."""
    return create_app(api_config(settings or Settings()))
