"""Apply Alembic migrations programmatically (used by `order-api run` and the tests)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A source checkout keeps alembic.ini and migrations/ beside the packages; an installed wheel (the
# image) does not, so the image names the directory that holds them.
MIGRATIONS_ROOT_VARIABLE = "ORDER_API_MIGRATIONS_ROOT"


def migrations_root() -> Path:
    return Path(os.environ.get(MIGRATIONS_ROOT_VARIABLE) or PROJECT_ROOT)


def alembic_config(database_url: str) -> Config:
    root = migrations_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def downgrade_to_base(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "base")
