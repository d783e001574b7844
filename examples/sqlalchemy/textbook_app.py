"""A small service layer over the textbook extension, with SQLAlchemy 1.4.

Plain ORM work (users, profiles, bookmarks, documents) goes through the
models in textbook_models.py.  The extension's functions are called with
``func.textbook.<name>(...)``:

* functions that return rows of a table (``upsert_translation``,
  ``get_translation``, ``record_progress``, ``conversation_history``) are
  turned into ORM objects with ``aliased(Model, fn.table_valued(...),
  adapt_on_names=True)``: the SELECT reads ``FROM textbook.fn(...) AS anon_1``
  and the rows land in the session's identity map like any other query's;
* functions with OUT parameters (``progress_summary``) are read with
  ``table_valued()`` as a Row with named attributes;
* scalar functions (``log_conversation``) with ``session.scalar(select(fn))``.

Passwords: the extension refuses anything that is not a password hash
(bcrypt, Argon2, scrypt or PBKDF2 in PHC or Django format).  hash_password()
makes one with the standard library only.
"""

import base64
import hashlib
import hmac
import os
import secrets
import string
from dataclasses import dataclass
from typing import List, Optional

from sqlalchemy import column, create_engine, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased, sessionmaker
from sqlalchemy.types import BigInteger, DateTime, Numeric, Text

from textbook_models import (
    Conversation,
    User,
    UserChapterTranslation,
    UserReadingProgress,
    track_server_rewrites,
)

# ----------------------------------------------------------------------
# Engine and sessions
# ----------------------------------------------------------------------


def make_engine(url, **kwargs):
    """An engine for the textbook database.

    hide_parameters=True: SQLAlchemy puts the bound parameters of a failed
    statement into the exception text (and so into logs and error
    reports).  The extension takes care never to echo a rejected
    password_hash, which is likely a plaintext password; without this flag
    SQLAlchemy would print it anyway.
    """
    kwargs.setdefault("future", True)
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine):
    """Sessions that reload trigger-rewritten columns after each flush."""
    return track_server_rewrites(sessionmaker(engine, future=True))


# ----------------------------------------------------------------------
# Password hashes the extension accepts (stdlib only)
# ----------------------------------------------------------------------

# OWASP's minimum for scrypt: N = 2**17, r = 8, p = 1 (128 MiB, ~0.5 s).
SCRYPT_LN = 17
SCRYPT_R = 8
SCRYPT_P = 1
# Django 4.2's default for PBKDF2-SHA256
PBKDF2_ITERATIONS = 600_000


def _b64(data: bytes) -> str:
    # PHC strings use standard base64 without padding
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, scheme: str = "scrypt") -> str:
    """A salted hash of password, in a format the extension accepts:

    scheme="scrypt": PHC format, ``$scrypt$ln=17,r=8,p=1$<salt>$<hash>``
    scheme="pbkdf2_sha256": Django format,
        ``pbkdf2_sha256$600000$<salt>$<base64 hash>``
    """
    pw = password.encode("utf-8")
    if scheme == "scrypt":
        salt = os.urandom(16)
        n = 2 ** SCRYPT_LN
        dk = hashlib.scrypt(pw, salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=256 * SCRYPT_R * n, dklen=32)
        return (f"$scrypt$ln={SCRYPT_LN},r={SCRYPT_R},p={SCRYPT_P}"
                f"${_b64(salt)}${_b64(dk)}")
    if scheme == "pbkdf2_sha256":
        alphabet = string.ascii_letters + string.digits
        salt = "".join(secrets.choice(alphabet) for _ in range(22))
        dk = hashlib.pbkdf2_hmac("sha256", pw, salt.encode("ascii"),
                                 PBKDF2_ITERATIONS)
        return (f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt}$"
                f"{base64.b64encode(dk).decode('ascii')}")
    raise ValueError(f"unknown password hash scheme {scheme!r}")


def verify_password(password: str, stored: str) -> bool:
    """True when password matches a hash made by hash_password()."""
    pw = password.encode("utf-8")
    if stored.startswith("$scrypt$"):
        _, _, params, salt, expected = stored.split("$")
        p = dict(kv.split("=") for kv in params.split(","))
        n, r, par = 2 ** int(p["ln"]), int(p["r"]), int(p["p"])
        expected = _unb64(expected)
        dk = hashlib.scrypt(pw, salt=_unb64(salt), n=n, r=r, p=par,
                            maxmem=256 * r * n, dklen=len(expected))
        return hmac.compare_digest(dk, expected)
    if stored.startswith("pbkdf2_sha256$"):
        _, iterations, salt, expected = stored.split("$")
        dk = hashlib.pbkdf2_hmac("sha256", pw, salt.encode("ascii"),
                                 int(iterations))
        return hmac.compare_digest(dk, base64.b64decode(expected))
    raise ValueError("unsupported password hash format")


# ----------------------------------------------------------------------
# Users
# ----------------------------------------------------------------------


def create_user(session, username: str, email: str, password: str,
                scheme: str = "scrypt") -> User:
    """Add a user with a hashed password and flush, so user.id is set."""
    user = User(username=username, email=email,
                password_hash=hash_password(password, scheme))
    session.add(user)
    session.flush()
    return user


# ----------------------------------------------------------------------
# Database errors, as an application wants to see them
# ----------------------------------------------------------------------


@dataclass
class DbError:
    sqlstate: str
    message: str
    detail: Optional[str]
    hint: Optional[str]
    constraint: Optional[str]
    table: Optional[str]
    column: Optional[str]


def db_error(exc) -> DbError:
    """The PostgreSQL error fields behind a sqlalchemy.exc.DBAPIError.

    The extension's rules are CHECK constraints that call C functions which
    raise their own error: SQLSTATE 23514 (IntegrityError) with a message,
    detail and hint saying what is wrong.  Unique indexes give 23505 with
    the index name as constraint; a bad language tag is rejected by a
    trigger with 22023 (DataError); the functions reject bad arguments with
    22023 too.
    """
    diag = exc.orig.diag
    return DbError(
        sqlstate=exc.orig.pgcode,
        message=diag.message_primary,
        detail=diag.message_detail,
        hint=diag.message_hint,
        constraint=diag.constraint_name,
        table=diag.table_name,
        column=diag.column_name,
    )


# ----------------------------------------------------------------------
# The extension's functions
# ----------------------------------------------------------------------


def _rows_of(model, fn):
    """An ORM entity reading the rows that fn returns (a function RETURNS
    model's table type or SETOF it), matched to the model by column name."""
    cols = [column(c.name, c.type) for c in model.__table__.columns]
    return aliased(model, fn.table_valued(*cols), adapt_on_names=True)


def upsert_translation(session, user_id: int, chapter_id: str,
                       target_language: str, original: str, translated: str,
                       confidence: Optional[float] = None
                       ) -> UserChapterTranslation:
    """Insert or refresh the cached translation; the expiry restarts.

    Returns the stored row as an ORM object.  populate_existing: if the
    session already holds that row, its attributes are overwritten with
    what the function returned (otherwise the identity map would keep the
    old content).
    """
    fn = func.textbook.upsert_translation(user_id, chapter_id,
                                          target_language, original,
                                          translated, confidence)
    stmt = select(_rows_of(UserChapterTranslation, fn)).execution_options(
        populate_existing=True)
    return session.execute(stmt).scalar_one()


def get_translation(session, user_id: int, chapter_id: str,
                    target_language: str
                    ) -> Optional[UserChapterTranslation]:
    """The live cached translation or None (expired rows are not returned,
    even before the purge has deleted them)."""
    fn = func.textbook.get_translation(user_id, chapter_id, target_language)
    stmt = select(_rows_of(UserChapterTranslation, fn)).execution_options(
        populate_existing=True)
    return session.execute(stmt).scalar_one_or_none()


def record_progress(session, user_id: int, chapter_id: str, section_id: str,
                    completion, minutes: int = 0) -> UserReadingProgress:
    """Record reading: the highest completion stays, minutes add up."""
    fn = func.textbook.record_progress(user_id, chapter_id, section_id,
                                       completion, minutes)
    stmt = select(_rows_of(UserReadingProgress, fn)).execution_options(
        populate_existing=True)
    return session.execute(stmt).scalar_one()


_PROGRESS_SUMMARY_COLUMNS = [
    column("chapters_total", BigInteger),
    column("chapters_started", BigInteger),
    column("chapters_completed", BigInteger),
    column("overall_completion", Numeric),
    column("total_study_minutes", BigInteger),
    column("last_read_at", DateTime(timezone=True)),
    column("last_chapter_id", Text),
    column("last_section_id", Text),
]


def progress_summary(session, user_id: int):
    """One Row: chapters_total, chapters_started, chapters_completed,
    overall_completion, total_study_minutes, last_read_at,
    last_chapter_id, last_section_id."""
    summary = func.textbook.progress_summary(user_id).table_valued(
        *_PROGRESS_SUMMARY_COLUMNS)
    return session.execute(select(summary)).one()


def log_conversation(session, user_id: int, question: str, answer: str,
                     context: Optional[dict] = None,
                     confidence: Optional[float] = None) -> int:
    """Store a chatbot exchange; returns its id.

    A dict is not something psycopg2 can send by itself: the context is
    bound as JSONB explicitly.  func takes positional arguments only, so
    the context is always passed (the SQL default is '{}').
    """
    fn = func.textbook.log_conversation(
        user_id, question, answer,
        literal(context if context is not None else {}, JSONB),
        confidence)
    return session.scalar(select(fn))


def conversation_history(session, user_id: int, limit: int = 20,
                         before_id: Optional[int] = None
                         ) -> List[Conversation]:
    """Newest first; pass the smallest id of a page as before_id for the
    next page."""
    fn = func.textbook.conversation_history(user_id, limit, before_id)
    return session.execute(select(_rows_of(Conversation, fn))).scalars().all()
