"""SQLAlchemy 1.4 declarative models of the textbook extension's tables.

The tables belong to the extension: ``CREATE EXTENSION textbook`` creates
them, and the extension's C code validates every row (CHECK constraints
that raise descriptive errors), keeps ``updated_at`` current and stores
language tags in canonical form (triggers).  These models therefore map
the tables but never create them: do not call ``Base.metadata.create_all()``
for them (the ``info={"extension": "textbook"}`` marker on each table lets
tools such as Alembic's ``include_object`` skip them; see
examples/alembic/env.py).

What the mapping says about the database:

* ``id`` is ``GENERATED ALWAYS AS IDENTITY`` -> ``Identity(always=True)``:
  the ORM never sends an id and reads it back with RETURNING.
* Columns the server fills in are declared with ``server_default`` (and
  ``updated_at`` with ``server_onupdate=FetchedValue()``, since a trigger
  sets it on every UPDATE).  ``eager_defaults`` makes the ORM fetch them in
  the same INSERT/UPDATE ... RETURNING instead of lazily afterwards.
* Every user table references ``users`` ``ON DELETE CASCADE``; the
  relationships use ``passive_deletes=True`` so that ``session.delete(user)``
  is a single ``DELETE FROM textbook.users`` and the database removes the
  dependent rows (the ORM does not load them just to delete them).
* The language columns are rewritten by a trigger ('pt-br' -> 'pt-BR').  The
  ORM cannot know that, so ``track_server_rewrites()`` installs a session
  hook that expires those attributes after each flush (they are reloaded on
  next access).  Without it the object keeps the value as the application
  wrote it until it is refreshed or the transaction ends.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    FetchedValue,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    UniqueConstraint,
    event,
    func,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import declarative_base, relationship

SCHEMA = "textbook"

Base = declarative_base()


def _table_args(*items):
    """__table_args__ of an extension table: schema + ownership marker."""
    return (*items, {"schema": SCHEMA, "info": {"extension": "textbook"}})


def _id():
    return Column(BigInteger, Identity(always=True), primary_key=True)


def _user_fk():
    return Column(BigInteger,
                  ForeignKey("textbook.users.id", ondelete="CASCADE"),
                  nullable=False)


def _created_at():
    return Column(DateTime(timezone=True), nullable=False,
                  server_default=func.now())


def _updated_at():
    # set by the BEFORE UPDATE trigger textbook.tg_set_updated_at(); the
    # value is the *transaction* start time, like now()
    return Column(DateTime(timezone=True), nullable=False,
                  server_default=func.now(), server_onupdate=FetchedValue())


class User(Base):
    __tablename__ = "users"
    __table_args__ = _table_args(
        # unique regardless of case: the database has unique indexes on
        # lower(username) and lower(email)
        Index("users_username_key", func.lower(text("username")), unique=True),
        Index("users_email_key", func.lower(text("email")), unique=True),
    )
    __mapper_args__ = {"eager_defaults": True}

    id = _id()
    username = Column(Text, nullable=False)
    email = Column(Text, nullable=False)
    # a bcrypt/Argon2/scrypt/PBKDF2 hash; see textbook_app.hash_password()
    password_hash = Column(Text, nullable=False)
    created_at = _created_at()
    updated_at = _updated_at()

    profile = relationship("UserProfile", back_populates="user",
                           uselist=False, cascade="all, delete-orphan",
                           passive_deletes=True)
    translations = relationship("UserChapterTranslation",
                                back_populates="user",
                                cascade="all, delete-orphan",
                                passive_deletes=True)
    reading_progress = relationship("UserReadingProgress",
                                    back_populates="user",
                                    cascade="all, delete-orphan",
                                    passive_deletes=True)
    bookmarks = relationship("UserBookmark", back_populates="user",
                             cascade="all, delete-orphan",
                             passive_deletes=True,
                             order_by="UserBookmark.id")
    conversations = relationship("Conversation", back_populates="user",
                                 cascade="all, delete-orphan",
                                 passive_deletes=True,
                                 order_by="Conversation.id")

    def __repr__(self):
        return f"<User id={self.id} username={self.username!r}>"


class Document(Base):
    """A chunk of a chapter (what the RAG chatbot retrieves)."""
    __tablename__ = "documents"
    __table_args__ = _table_args(
        Index("documents_chapter_id_idx", "chapter_id", "id"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id = _id()
    chapter_id = Column(Text, nullable=False)
    title = Column(Text, nullable=False)
    content = Column(Text, nullable=False)
    doc_metadata = Column(MutableDict.as_mutable(JSONB), nullable=False,
                          server_default=text("'{}'::jsonb"))
    created_at = _created_at()
    updated_at = _updated_at()


class UserChapterTranslation(Base):
    """The translation cache.  Write it with textbook_app.upsert_translation()
    (one INSERT ... ON CONFLICT that restarts the expiry) and read it with
    textbook_app.get_translation(), which hides expired rows."""
    __tablename__ = "user_chapter_translations"
    __table_args__ = _table_args(
        UniqueConstraint("user_id", "chapter_id", "target_language",
                         name="user_chapter_translations_key"),
        Index("user_chapter_translations_chapter_id_idx", "chapter_id"),
        Index("user_chapter_translations_expires_at_idx", "expires_at"),
    )
    __mapper_args__ = {"eager_defaults": True}
    # columns a trigger rewrites (see track_server_rewrites)
    __server_rewritten__ = ("target_language",)

    id = _id()
    user_id = _user_fk()
    chapter_id = Column(Text, nullable=False)
    target_language = Column(Text, nullable=False)
    original_content = Column(Text, nullable=False)
    translated_content = Column(Text, nullable=False)
    confidence_score = Column(Numeric)
    created_at = _created_at()
    updated_at = _updated_at()
    # now() + textbook.translation_ttl (30 days by default)
    expires_at = Column(DateTime(timezone=True), nullable=False,
                        server_default=text("textbook.translation_expiry()"))

    user = relationship("User", back_populates="translations")


class UserProfile(Base):
    __tablename__ = "user_profiles"
    __table_args__ = _table_args(
        UniqueConstraint("user_id", name="user_profiles_user_id_key"),
    )
    __mapper_args__ = {"eager_defaults": True}
    __server_rewritten__ = ("preferred_language",)

    id = _id()
    user_id = _user_fk()
    preferred_language = Column(Text, nullable=False,
                                server_default=text("'en'"))
    # light, dark, system or sepia
    theme_preference = Column(Text, nullable=False,
                              server_default=text("'system'"))
    font_size = Column(SmallInteger, nullable=False,
                       server_default=text("16"))
    # keys: captions, dyslexia_font, high_contrast, reduce_motion,
    # screen_reader (booleans), line_height (1.0-3.0),
    # text_to_speech_rate (0.5-2.0).  MutableDict: in-place changes are
    # detected and flushed.
    accessibility_options = Column(MutableDict.as_mutable(JSONB),
                                   nullable=False,
                                   server_default=text("'{}'::jsonb"))
    created_at = _created_at()
    updated_at = _updated_at()

    user = relationship("User", back_populates="profile")


class UserReadingProgress(Base):
    """Written by textbook_app.record_progress() (keeps the highest
    completion and adds up minutes, safely under concurrency)."""
    __tablename__ = "user_reading_progress"
    __table_args__ = _table_args(
        UniqueConstraint("user_id", "chapter_id",
                         name="user_reading_progress_key"),
        Index("user_reading_progress_chapter_id_idx", "chapter_id",
              postgresql_include=["completion_percentage",
                                  "study_time_minutes", "last_read_at"]),
    )
    __mapper_args__ = {"eager_defaults": True}

    id = _id()
    user_id = _user_fk()
    chapter_id = Column(Text, nullable=False)
    current_section = Column(Text)
    completion_percentage = Column(Numeric(5, 2), nullable=False,
                                   server_default=text("0"))
    last_read_at = Column(DateTime(timezone=True), nullable=False,
                          server_default=func.now())
    study_time_minutes = Column(Integer, nullable=False,
                                server_default=text("0"))
    created_at = _created_at()
    updated_at = _updated_at()

    user = relationship("User", back_populates="reading_progress")


class UserBookmark(Base):
    __tablename__ = "user_bookmarks"
    __table_args__ = _table_args(
        Index("user_bookmarks_user_id_idx", "user_id", "created_at"),
        Index("user_bookmarks_chapter_id_idx", "chapter_id"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id = _id()
    user_id = _user_fk()
    chapter_id = Column(Text, nullable=False)
    section_id = Column(Text, nullable=False)
    note = Column(Text)
    created_at = _created_at()
    updated_at = _updated_at()

    user = relationship("User", back_populates="bookmarks")


class Conversation(Base):
    """A chatbot exchange.  textbook_app.log_conversation() checks its
    arguments up front (SQLSTATE 22023); a plain ORM insert is checked by
    the table's CHECK constraints (23514)."""
    __tablename__ = "conversations"
    __table_args__ = _table_args(
        Index("conversations_user_id_idx", "user_id", "id"),
        Index("conversations_user_id_created_at_idx", "user_id",
              "created_at"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id = _id()
    user_id = _user_fk()
    question = Column(Text, nullable=False)
    answer = Column(Text, nullable=False)
    # {"sources": [{"chapter_id": ..., "section_id": ..., "document_id": ...,
    #               "score": 0..1}, ...]}
    context = Column(MutableDict.as_mutable(JSONB), nullable=False,
                     server_default=text("'{}'::jsonb"))
    confidence_score = Column(Numeric)
    created_at = _created_at()

    user = relationship("User", back_populates="conversations")


# The tables the extension owns, for code that must tell them apart from
# the application's own tables.
EXTENSION_TABLES = tuple(
    t for t in Base.metadata.sorted_tables if t.info.get("extension") == "textbook"
)


# ----------------------------------------------------------------------
# Columns that a trigger rewrites
# ----------------------------------------------------------------------

def _collect_rewritten(session, flush_context):
    # called while the session still shows the pre-flush state and history
    pending = session.info.setdefault("_textbook_rewritten", [])
    for obj in session.new:
        attrs = getattr(type(obj), "__server_rewritten__", ())
        if attrs:
            pending.append((obj, attrs))
    for obj in session.dirty:
        state = inspect(obj)
        attrs = [a for a in getattr(type(obj), "__server_rewritten__", ())
                 if state.attrs[a].history.has_changes()]
        if attrs:
            pending.append((obj, attrs))


def _expire_rewritten(session, flush_context):
    for obj, attrs in session.info.pop("_textbook_rewritten", []):
        if obj in session:
            # reloaded with a SELECT on next access: the stored value
            session.expire(obj, attrs)


def track_server_rewrites(target):
    """Expire trigger-rewritten columns after each flush.

    ``target`` is a Session, a sessionmaker or the Session class.  After
    ``profile.preferred_language = 'pt-br'`` and a flush, reading
    ``profile.preferred_language`` then gives the stored 'pt-BR'.
    """
    if not event.contains(target, "after_flush", _collect_rewritten):
        event.listen(target, "after_flush", _collect_rewritten)
        event.listen(target, "after_flush_postexec", _expire_rewritten)
    return target
