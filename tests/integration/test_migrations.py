"""Alembic is the only way the schema is made; models and migrations must not drift."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from foundation.migrate import alembic_config, downgrade_to_base, upgrade_to_head
from foundation.models import Base
from processes.devstack.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration

# The simulators' ledgers, which the product's database held until migration 0006.
SIMULATOR_SCHEMAS = {"payment_gateway", "carrier"}


def test_models_match_the_migrated_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        # include_schemas: a table in any other schema, one the models lack, is drift too.
        context = MigrationContext.configure(connection, opts={"include_schemas": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_database_migrated_to_head_has_no_simulator_schemas(database_url: str) -> None:
    engine = create_engine(database_url)
    schemas = set(inspect(engine).get_schema_names())
    engine.dispose()
    assert not SIMULATOR_SCHEMAS & schemas


def test_migration_0006_drops_the_simulator_ledgers_an_old_0004_created(
    postgres: EmbeddedPostgres,
) -> None:
    postgres.create_database("migration_old_ledgers")
    url = postgres.url("migration_old_ledgers")
    command.upgrade(alembic_config(url), "0005")
    engine = create_engine(url)
    # What the old 0004 left behind, a ledger row included.
    with engine.begin() as connection:
        for schema in SIMULATOR_SCHEMAS:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
            connection.execute(text(f"CREATE TABLE {schema}.attempts (idempotency_key text)"))
            connection.execute(text(f"INSERT INTO {schema}.attempts VALUES ('k')"))

    upgrade_to_head(url)

    assert not SIMULATOR_SCHEMAS & set(inspect(engine).get_schema_names())
    engine.dispose()


def test_downgrade_to_base_then_upgrade_to_head_round_trips(postgres: EmbeddedPostgres) -> None:
    postgres.create_database("migration_round_trip")
    url = postgres.url("migration_round_trip")
    upgrade_to_head(url)
    downgrade_to_base(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert not SIMULATOR_SCHEMAS & set(inspect(engine).get_schema_names())
    upgrade_to_head(url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM products")) == 5
    assert {"orders", "order_items", "idempotency_keys", "products"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
