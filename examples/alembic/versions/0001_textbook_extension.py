"""install the textbook extension

Revision ID: 0001
Revises:
Create Date: 2026-12-03

CREATE EXTENSION needs a superuser (textbook is not a trusted extension)
and a server started with shared_preload_libraries = 'textbook'.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # creates schema textbook, its tables, functions and triggers
    op.execute("CREATE EXTENSION IF NOT EXISTS textbook")


def downgrade() -> None:
    # drops the extension's tables *with their data*; later revisions drop
    # the application's objects that depend on them first
    op.execute("DROP EXTENSION IF EXISTS textbook")
    # CREATE EXTENSION created schema textbook (named in textbook.control)
    # but the schema is not a member of the extension, so DROP EXTENSION
    # leaves it behind, empty.  RESTRICT: fails if anything else is in it.
    op.execute("DROP SCHEMA IF EXISTS textbook RESTRICT")
