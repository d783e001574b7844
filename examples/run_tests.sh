#!/bin/sh
# Runs the SQLAlchemy and Alembic example tests of the textbook extension
# against a running server started with shared_preload_libraries='textbook'
# and the extension installed (make install).
#
# Connection from the environment, as for psql: PGHOST (socket directory
# or host), PGPORT, PGUSER (a superuser: the tests CREATE DATABASE and
# CREATE EXTENSION), PGPASSWORD if needed, PGDATABASE (the database the
# test databases are created from; default postgres).  The tests create
# and drop textbook_sqla_test and textbook_alembic_test.  Optional:
# TEXTBOOK_TEST_DSN, see examples/README.md.
#
#   PGHOST=/tmp/sock PGPORT=5432 PGUSER=postgres examples/run_tests.sh
#
# Exits non-zero when a test fails.
set -u

here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
# the tests run from a checkout that may not be writable by the user
export PYTHONDONTWRITEBYTECODE=1

status=0
echo "== SQLAlchemy ($here/sqlalchemy)"
(cd "$here/sqlalchemy" && "$python" -m unittest -v test_sqlalchemy) || status=1
echo "== Alembic ($here/alembic)"
(cd "$here/alembic" && "$python" -m unittest -v test_alembic) || status=1

if [ "$status" -eq 0 ]; then
    echo "examples: all tests passed"
else
    echo "examples: FAILED" >&2
fi
exit "$status"
