"""Alembic environment: the URL comes from the caller's config or from the service settings."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from foundation.models import Base
from foundation.settings import settings_or_exit

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
# The simulators keep their ledgers in schemas of their own; autogenerate must see those, and
# only those, besides the default schema.
MANAGED_SCHEMAS = {table.schema for table in target_metadata.tables.values()} - {None}


def _include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    return type_ != "schema" or name is None or name in MANAGED_SCHEMAS


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or settings_or_exit().effective_database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_schemas=True,
            include_name=_include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
