"""The example application's own tables, next to the extension's.

They live on the same declarative Base as the textbook models, so a
foreign key can point at textbook.users and the ORM can join them.  Unlike
the extension's tables, these are created and changed by this
application's Alembic migrations (versions/0003_study_goals.py).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "sqlalchemy"))

from sqlalchemy import (  # noqa: E402
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    func,
)

from textbook_models import Base  # noqa: E402


class StudyGoal(Base):
    """A reader's weekly study goal (public.study_goals)."""
    __tablename__ = "study_goals"

    id = Column(BigInteger, Identity(always=True), primary_key=True)
    # deleting a textbook user deletes their goal, like the extension's
    # own user tables
    user_id = Column(BigInteger,
                     ForeignKey("textbook.users.id", ondelete="CASCADE"),
                     nullable=False, unique=True)
    minutes_per_week = Column(Integer, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False,
                        server_default=func.now())

    __table_args__ = (
        CheckConstraint("minutes_per_week > 0",
                        name="study_goals_minutes_per_week_check"),
    )
