"""Alembic is the only way the schema is made; models and migrations must not drift."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from foundation.migrate import downgrade_to_base, upgrade_to_head
from foundation.models import CARRIER_SCHEMA, PAYMENT_GATEWAY_SCHEMA, Base
from processes.devstack.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration

SIMULATOR_SCHEMAS = {PAYMENT_GATEWAY_SCHEMA, CARRIER_SCHEMA}
SIMULATOR_TABLES = {
    "payment_gateway.charges",
    "payment_gateway.refunds",
    "payment_gateway.attempts",
    "carrier.shipments",
    "carrier.attempts",
}


def test_models_match_the_migrated_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        # include_schemas: without it the simulators' schemas would not be compared at all.
        context = MigrationContext.configure(connection, opts={"include_schemas": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_the_drift_check_covers_the_simulator_ledgers(database_url: str) -> None:
    engine = create_engine(database_url)
    migrated = {
        f"{schema}.{table}"
        for schema in SIMULATOR_SCHEMAS
        for table in inspect(engine).get_table_names(schema=schema)
    }
    engine.dispose()
    modelled = {name for name, table in Base.metadata.tables.items() if table.schema}
    assert modelled == SIMULATOR_TABLES
    assert migrated == SIMULATOR_TABLES


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
