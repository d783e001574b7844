"""the application's own table: study_goals

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

An ordinary application table with a foreign key to the extension's
textbook.users (ON DELETE CASCADE, like the extension's own user tables).
This is what autogenerate wrote for app_models.StudyGoal.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "study_goals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("minutes_per_week", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("minutes_per_week > 0",
                           name="study_goals_minutes_per_week_check"),
        sa.ForeignKeyConstraint(["user_id"], ["textbook.users.id"],
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("study_goals")
