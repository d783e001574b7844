"""update the textbook extension to the installed default version

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

Deploying a new textbook package installs its upgrade scripts
(textbook--1.0--1.1.sql ...); this brings the database to the package's
default_version.  When it already is there, PostgreSQL only says
NOTICE: version "1.1" of extension "textbook" is already installed.
Add a revision like this one for each extension upgrade you roll out, so
that `alembic upgrade head` on any environment ends at the same version.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER EXTENSION textbook UPDATE")


def downgrade() -> None:
    # Nothing to do: extensions have no downgrade scripts, and PostgreSQL
    # cannot move an extension back to an older version (ALTER EXTENSION
    # ... UPDATE TO '<older>' fails unless such a script exists).  The
    # schema stays at the newer version, which the application's code of
    # the previous revision must tolerate.
    pass
