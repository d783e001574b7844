"""Alembic migrations that install the textbook extension, and an
autogenerate that leaves the extension's tables alone.

Run (see examples/README.md):
    PGHOST=/path/to/socketdir PGPORT=5432 PGUSER=postgres \\
        /usr/bin/python3 -m unittest -v test_alembic          # in this directory

The tests migrate a database of their own, TEXTBOOK_ALEMBIC_TEST_DB
(default textbook_alembic_test), created and dropped through the database
PGDATABASE (default postgres) -- or through the database of
TEXTBOOK_TEST_DSN when that is set -- since they drop the extension.
CREATE EXTENSION textbook needs a superuser.
"""

import ast
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "sqlalchemy"))

from alembic import command  # noqa: E402
from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Column,
    DefaultClause,
    Integer,
    MetaData,
    Text,
    create_engine,
    text,
)
from sqlalchemy.engine import make_url  # noqa: E402

import app_models  # noqa: E402,F401  (the application's table on Base)
from extension_filter import ExtensionFilter  # noqa: E402
from textbook_models import EXTENSION_TABLES, Base  # noqa: E402

DB_NAME = os.environ.get("TEXTBOOK_ALEMBIC_TEST_DB", "textbook_alembic_test")
TEXTBOOK_TABLES = sorted(t.name for t in EXTENSION_TABLES)
HEAD = "0003"

# as in env.py: reflecting study_goals' foreign key reflects textbook.users,
# whose lower(...) unique indexes SQLAlchemy cannot reflect
warnings.filterwarnings(
    "ignore",
    message=r"Skipped unsupported reflection of expression-based index users_(username|email)_key")

admin_url = None
db_url = None
engine = None


def setUpModule():
    global admin_url, db_url, engine
    dsn = os.environ.get("TEXTBOOK_TEST_DSN")
    if dsn:
        admin_url = make_url(dsn)
    else:
        admin_url = make_url("postgresql+psycopg2://").set(
            database=os.environ.get("PGDATABASE", "postgres"))
    db_url = admin_url.set(database=DB_NAME)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    engine = create_engine(db_url, future=True)


def tearDownModule():
    engine.dispose()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    admin.dispose()


def alembic_config(connection, **options):
    cfg = Config(os.path.join(HERE, "alembic.ini"))
    cfg.attributes["connection"] = connection     # used by env.py
    cfg.attributes["configure_logger"] = False    # keep unittest's output
    for key, value in options.items():
        cfg.set_main_option(key, value)
    return cfg


def migrate(target, direction="upgrade"):
    with engine.begin() as conn:
        getattr(command, direction)(alembic_config(conn), target)


def diffs(metadata, use_filter=True, include_schemas=True):
    """autogenerate's comparison, configured as env.py configures it."""
    with engine.connect() as conn, warnings.catch_warnings():
        opts = {"include_schemas": include_schemas}
        if use_filter:
            opts.update(ExtensionFilter(conn).configure_kwargs())
        else:
            # "autogenerate skipping functional index users_username_key"
            warnings.simplefilter("ignore")
        ctx = MigrationContext.configure(conn, opts=opts)
        return compare_metadata(ctx, metadata)


def tables_in(diff_list):
    """(operation, "schema.table") of each table-level diff."""
    out = []
    for d in diff_list:
        if isinstance(d, tuple) and d[0] in ("add_table", "remove_table"):
            out.append((d[0], f"{d[1].schema or 'public'}.{d[1].name}"))
    return sorted(out)


class AlembicTest(unittest.TestCase):

    def setUp(self):
        migrate("head")

    def scalar(self, sql):
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def test_upgrade_head_installs_the_extension(self):
        self.assertEqual(self.scalar("SELECT extversion FROM pg_extension"
                                     " WHERE extname = 'textbook'"),
                         self.scalar("SELECT default_version FROM pg_available_extensions"
                                     " WHERE name = 'textbook'"))
        self.assertEqual(self.scalar("SELECT version_num FROM alembic_version"), HEAD)
        self.assertEqual(self.scalar("SELECT to_regclass('textbook.users')::text"),
                         "textbook.users")
        self.assertEqual(self.scalar("SELECT to_regclass('public.study_goals')::text"),
                         "study_goals")
        migrate("head")                      # again: nothing to do
        self.assertEqual(self.scalar("SELECT version_num FROM alembic_version"), HEAD)

    def test_app_table_cascades_from_textbook_users(self):
        with engine.connect() as conn:
            tx = conn.begin()
            uid = conn.execute(text(
                "INSERT INTO textbook.users (username, email, password_hash)"
                " VALUES ('goal_user', 'goal@example.org',"
                " 'pbkdf2_sha256$600000$abcd$0123456789abcdef0123456789abcdef=')"
                " RETURNING id")).scalar()
            conn.execute(text("INSERT INTO study_goals (user_id, minutes_per_week)"
                              " VALUES (:u, 120)"), {"u": uid})
            conn.execute(text("DELETE FROM textbook.users WHERE id = :u"), {"u": uid})
            self.assertEqual(conn.execute(text("SELECT count(*) FROM study_goals")).scalar(), 0)
            tx.rollback()

    def test_autogenerate_proposes_nothing(self):
        self.assertEqual(diffs(Base.metadata), [])
        # the same when only the default schema is reflected
        self.assertEqual(diffs(Base.metadata, include_schemas=False), [])

    def test_autogenerate_revision_is_empty(self):
        # `alembic revision --autogenerate` through the real env.py; the new
        # file goes to a temporary version directory
        with tempfile.TemporaryDirectory() as tmp, engine.begin() as conn:
            cfg = alembic_config(
                conn, version_locations=os.pathsep.join(
                    [os.path.join(HERE, "versions"), tmp]))
            with contextlib.redirect_stdout(io.StringIO()):   # "Generating ..."
                script = command.revision(cfg, message="nothing to do",
                                          autogenerate=True, rev_id="9999",
                                          version_path=tmp)
            self.assertEqual(os.path.dirname(script.path), tmp)
            with open(script.path) as f:
                tree = ast.parse(f.read())
        bodies = {node.name: node.body for node in tree.body
                  if isinstance(node, ast.FunctionDef)}
        for name in ("upgrade", "downgrade"):
            self.assertEqual([type(stmt) for stmt in bodies[name]], [ast.Pass],
                             f"{name}() of the autogenerated revision is not empty")

    def test_without_the_filter_autogenerate_would_drop_or_create_textbook_tables(self):
        textbook = [f"textbook.{name}" for name in TEXTBOOK_TABLES]

        # metadata without the textbook models (an application that does
        # not map them), all schemas reflected: drop every textbook table
        empty = MetaData()
        self.assertEqual(tables_in(diffs(empty, use_filter=False)),
                         sorted([("remove_table", "public.study_goals")]
                                + [("remove_table", t) for t in textbook]))
        self.assertEqual(tables_in(diffs(empty)),
                         [("remove_table", "public.study_goals")])

        # the application's metadata, default schema only: create them
        self.assertEqual(tables_in(diffs(Base.metadata, use_filter=False,
                                         include_schemas=False)),
                         [("add_table", t) for t in textbook])
        # (with the application's metadata and all schemas reflected it
        # compares them in detail; see test_models_match_the_extension_tables)

    def test_models_match_the_extension_tables(self):
        # The filter makes autogenerate blind to the extension's tables, so
        # check separately that textbook_models.py maps them as installed:
        # columns, types, nullability, server defaults, foreign keys,
        # unique constraints and (plain) indexes.
        def only_textbook(obj, name, type_, reflected, compare_to):
            return type_ != "table" or obj.schema == "textbook"

        def compare(metadata):
            with engine.connect() as conn, warnings.catch_warnings():
                # the lower(...) unique indexes cannot be reflected
                warnings.simplefilter("ignore")
                ctx = MigrationContext.configure(conn, opts={
                    "include_schemas": True, "include_object": only_textbook,
                    "compare_type": True, "compare_server_default": True})
                return compare_metadata(ctx, metadata)

        self.assertEqual(compare(Base.metadata), [])

        # and that the comparison would notice a model that drifted
        drifted = MetaData()
        for table in EXTENSION_TABLES:
            table.to_metadata(drifted)
        drifted.tables["textbook.users"].append_column(Column("nickname", Text))
        drifted.tables["textbook.user_profiles"].c.font_size.server_default = \
            DefaultClause(text("17"))
        drifted.tables["textbook.conversations"].c.confidence_score.type = Integer()
        found = compare(drifted)
        kinds = sorted(d[0] if isinstance(d, tuple) else d[0][0] for d in found)
        self.assertEqual(kinds, ["add_column", "modify_default", "modify_type"], found)

    def test_filter_follows_the_catalog_not_the_schema_name(self):
        # A table the models do not know, added to the extension the way a
        # future ALTER EXTENSION textbook UPDATE would, even outside schema
        # textbook: the pg_depend lookup skips it; an application table in
        # schema textbook is still compared.  All rolled back.
        with engine.connect() as conn:
            tx = conn.begin()
            conn.execute(text("CREATE TABLE public.textbook_future (id int)"))
            conn.execute(text("ALTER EXTENSION textbook ADD TABLE public.textbook_future"))
            conn.execute(text("CREATE TABLE textbook.app_owned (id int)"))
            ctx = MigrationContext.configure(
                conn, opts={"include_schemas": True,
                            **ExtensionFilter(conn).configure_kwargs()})
            found = tables_in(compare_metadata(ctx, Base.metadata))
            tx.rollback()
        self.assertEqual(found, [("remove_table", "textbook.app_owned")])

    def test_downgrade_to_base_and_back(self):
        migrate("base", "downgrade")
        self.assertIsNone(self.scalar("SELECT extname FROM pg_extension"
                                      " WHERE extname = 'textbook'"))
        self.assertIsNone(self.scalar("SELECT to_regclass('public.study_goals')"))
        self.assertIsNone(self.scalar("SELECT to_regnamespace('textbook')"))
        self.assertIsNone(self.scalar("SELECT version_num FROM alembic_version"))
        # before any migration, autogenerate wants the application's table
        # only, not the extension's (the models' info marker)
        self.assertEqual(tables_in(diffs(Base.metadata)),
                         [("add_table", "public.study_goals")])
        migrate("0002")
        self.assertEqual(tables_in(diffs(Base.metadata)),
                         [("add_table", "public.study_goals")])
        migrate("head")
        self.assertEqual(diffs(Base.metadata), [])

    def test_command_line(self):
        # what the README tells an operator to type; env.py opens its own
        # connection here, so this also shows that its changes are committed
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        url = db_url.render_as_string(hide_password=False)

        def alembic(*args):
            run = subprocess.run(
                [sys.executable, "-m", "alembic", "-c", os.path.join(HERE, "alembic.ini"),
                 "-x", f"url={url}", *args],
                cwd=HERE, env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(run.returncode, 0, run.stderr)
            return run.stdout.strip()

        self.assertEqual(alembic("current"), f"{HEAD} (head)")
        alembic("downgrade", "0002")
        self.assertEqual(self.scalar("SELECT version_num FROM alembic_version"), "0002")
        self.assertIsNone(self.scalar("SELECT to_regclass('public.study_goals')"))
        alembic("upgrade", "head")
        self.assertEqual(self.scalar("SELECT version_num FROM alembic_version"), HEAD)
        self.assertEqual(alembic("current"), f"{HEAD} (head)")


if __name__ == "__main__":
    unittest.main()
