"""Alembic is the only way the schema is made; models and migrations must not drift."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from orderapi.devstack.postgres import EmbeddedPostgres
from orderapi.migrate import downgrade_to_base, upgrade_to_head
from orderapi.models import Base

pytestmark = pytest.mark.integration


def test_models_match_the_migrated_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_then_upgrade_to_head_round_trips(postgres: EmbeddedPostgres) -> None:
    postgres.create_database("migration_round_trip")
    url = postgres.url("migration_round_trip")
    upgrade_to_head(url)
    downgrade_to_base(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade_to_head(url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM products")) == 5
    assert {"orders", "order_items", "idempotency_keys", "products"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
