"""Alembic environment of the textbook example application.

The extension is installed and updated by migrations like any other schema
change (versions/0001 and 0002); the application's own tables follow
(0003).  Autogenerate compares the application's metadata, which maps the
extension's tables too, with the database; ExtensionFilter (see
extension_filter.py) makes it ignore every table that belongs to an
extension, so it never proposes to create, alter or drop textbook.*.
"""

import os
import sys
import warnings
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "sqlalchemy"))

import app_models  # noqa: E402,F401  (adds the application's tables to Base)
from extension_filter import ExtensionFilter  # noqa: E402
from textbook_models import Base  # noqa: E402

config = context.config

# Programs that run commands themselves (the tests) keep their logging.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata

# Reflecting study_goals' foreign key reflects textbook.users too, whose
# unique indexes on lower(username)/lower(email) SQLAlchemy 1.4 cannot
# reflect; it says so on every autogenerate.  Harmless: the table itself is
# filtered out below.
warnings.filterwarnings(
    "ignore",
    message=r"Skipped unsupported reflection of expression-based index users_(username|email)_key")


def database_url():
    return (context.get_x_argument(as_dictionary=True).get("url")
            or os.environ.get("TEXTBOOK_DATABASE_URL")
            or config.get_main_option("sqlalchemy.url"))


def run_migrations_offline():
    """--sql: print the migrations' SQL (no connection, no autogenerate)."""
    context.configure(url=database_url(), target_metadata=target_metadata,
                      literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_with(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # the application's tables may be in several schemas; the filter
        # keeps schema "textbook" (and any extension's tables) out
        include_schemas=True,
        **ExtensionFilter(connection).configure_kwargs(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    # a caller may pass its own connection (Alembic cookbook: "Sharing a
    # Connection across one or more programmatic migration commands")
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool, future=True)
    with engine.connect() as connection:
        run_with(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
