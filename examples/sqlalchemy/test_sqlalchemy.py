"""The textbook extension used from SQLAlchemy 1.4's ORM.

Run (see examples/README.md):
    PGHOST=/path/to/socketdir PGPORT=5432 PGUSER=postgres \\
        /usr/bin/python3 -m unittest -v test_sqlalchemy      # in this directory

Connection:
* TEXTBOOK_TEST_DSN, a SQLAlchemy URL such as
  postgresql+psycopg2:///mydb?host=/tmp/sock&port=5433 -- that database is
  used as it is: the extension is created in it if missing, and the tests
  delete the rows they created (unique names, so other data is untouched);
* otherwise a fresh database, TEXTBOOK_TEST_DB (default
  textbook_sqla_test), is created through the database PGDATABASE (default
  postgres) and dropped at the end.  libpq reads PGHOST, PGPORT, PGUSER,
  PGPASSWORD etc. from the environment.

CREATE EXTENSION textbook needs a superuser (the extension is not trusted),
and the server needs shared_preload_libraries = 'textbook'.
"""

import contextlib
import datetime
import os
import sys
import time
import unittest
import uuid
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sqlalchemy import event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import (  # noqa: E402
    DataError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.orm import Session  # noqa: E402

import textbook_app as app  # noqa: E402
from textbook_models import (  # noqa: E402
    Conversation,
    Document,
    User,
    UserBookmark,
    UserChapterTranslation,
    UserProfile,
    UserReadingProgress,
)

DB_NAME = os.environ.get("TEXTBOOK_TEST_DB", "textbook_sqla_test")
MAINTENANCE_DB = os.environ.get("PGDATABASE", "postgres")
RUN = uuid.uuid4().hex[:8]          # makes names unique to this run

# set up by setUpModule
engine = None
Sessions = None
_created_db_url = None


def _fresh_db_urls():
    base = make_url("postgresql+psycopg2://")
    return base.set(database=MAINTENANCE_DB), base.set(database=DB_NAME)


def setUpModule():
    global engine, Sessions, _created_db_url
    # scrypt at OWASP's cost takes 0.5 s a hash; the format is the same
    app.SCRYPT_LN = 14
    dsn = os.environ.get("TEXTBOOK_TEST_DSN")
    if dsn:
        url = make_url(dsn)
    else:
        admin_url, url = _fresh_db_urls()
        admin = app.make_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
        admin.dispose()
        _created_db_url = admin_url
    engine = app.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS textbook"))
    Sessions = app.make_sessionmaker(engine)


def tearDownModule():
    if engine is not None:
        engine.dispose()
    if _created_db_url is not None:
        admin = app.make_engine(_created_db_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()


def wait_for_server(timeout=60):
    """After a backend crash the postmaster restarts every backend and
    runs crash recovery; wait until connections are accepted again."""
    engine.dispose()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class TextbookTestCase(unittest.TestCase):
    """Creates users with unique names and deletes them afterwards (the
    foreign keys cascade to every other user table)."""

    def setUp(self):
        self._n = 0
        self._chapters = []
        self.session = Sessions()
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        self.session.close()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM textbook.users WHERE username ILIKE :p"),
                         {"p": f"t{RUN}%"})
            conn.execute(text("DELETE FROM textbook.documents WHERE chapter_id LIKE :p"),
                         {"p": f"c{RUN}%"})

    def name(self, label="u"):
        self._n += 1
        return f"t{RUN}{self.id().rsplit('.', 1)[-1][-12:]}{label}{self._n}"

    def chapter(self, label):
        return f"c{RUN}-{label}"

    def new_user(self, session=None, **kw):
        session = session or self.session
        username = kw.pop("username", None) or self.name()
        email = kw.pop("email", None) or f"{username}@example.org"
        return app.create_user(session, username, email,
                               kw.pop("password", "correct horse"), **kw)

    def count(self, model, **filters):
        with Session(engine, future=True) as s:
            stmt = select(func.count()).select_from(model)
            for k, v in filters.items():
                stmt = stmt.where(getattr(model, k) == v)
            return s.scalar(stmt)

    @contextlib.contextmanager
    def capture_sql(self):
        """The SQL statements the engine sends inside the block."""
        statements = []

        def log(conn, cursor, statement, *args):
            statements.append(" ".join(statement.split()))
        event.listen(engine, "before_cursor_execute", log)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", log)

    def assert_session_usable(self, session):
        """After rollback() the same session works again."""
        session.rollback()
        user = self.new_user(session)
        self.assertIsNotNone(user.id)
        session.commit()


# ----------------------------------------------------------------------


class OrmBasicsTest(TextbookTestCase):

    def test_users_and_profiles_through_the_orm(self):
        s = self.session
        with self.capture_sql() as sql:
            user = self.new_user(password="s3cret pass")
            # Identity(always=True): the ORM sent no id and got it back
            self.assertIsInstance(user.id, int)
            # eager_defaults: server defaults came back in the INSERT's
            # RETURNING, no SELECT afterwards
            self.assertIsInstance(user.created_at, datetime.datetime)
            self.assertIsNotNone(user.created_at.tzinfo)
            self.assertEqual(user.created_at, user.updated_at)
        self.assertEqual(len(sql), 1, sql)
        self.assertRegex(sql[0], r"^INSERT INTO textbook\.users \(username, email, "
                                 r"password_hash\) VALUES .* RETURNING textbook\.users\.id, "
                                 r"textbook\.users\.created_at, textbook\.users\.updated_at$")
        self.assertTrue(user.password_hash.startswith("$scrypt$ln=14,r=8,p=1$"))

        user.profile = UserProfile(preferred_language="de",
                                   accessibility_options={"high_contrast": True,
                                                          "line_height": 1.5})
        s.commit()
        uid = user.id

        with Sessions() as s2:
            u = s2.get(User, uid)
            self.assertEqual(u.profile.preferred_language, "de")
            self.assertEqual(u.profile.theme_preference, "system")   # server default
            self.assertEqual(u.profile.font_size, 16)                # server default
            self.assertEqual(u.profile.accessibility_options,
                             {"high_contrast": True, "line_height": 1.5})
            self.assertTrue(app.verify_password("s3cret pass", u.password_hash))
            self.assertFalse(app.verify_password("wrong", u.password_hash))

            # MutableDict: an in-place change of the JSONB value is flushed
            u.profile.accessibility_options["captions"] = True
            s2.commit()
        with Sessions() as s3:
            self.assertEqual(s3.get(User, uid).profile.accessibility_options,
                             {"high_contrast": True, "line_height": 1.5,
                              "captions": True})

    def test_both_password_hash_formats_are_accepted(self):
        for scheme in ("scrypt", "pbkdf2_sha256"):
            with self.subTest(scheme=scheme):
                user = self.new_user(password="pw " + scheme, scheme=scheme)
                self.session.commit()
                self.assertTrue(app.verify_password("pw " + scheme,
                                                    user.password_hash))

    def test_identity_always_refuses_an_explicit_id(self):
        s = self.session
        name = self.name()
        s.add(User(id=10 ** 9, username=name, email=f"{name}@example.org",
                   password_hash=app.hash_password("x")))
        with self.assertRaises(ProgrammingError) as cm:
            s.flush()
        self.assertEqual(cm.exception.orig.pgcode, "428C9")
        self.assert_session_usable(s)

    def test_updated_at_changes_on_orm_update(self):
        s = self.session
        user = self.new_user()
        s.commit()
        created, updated = user.created_at, user.updated_at

        s.get(User, user.id).email      # loaded again after the commit
        with self.capture_sql() as sql:
            user.email = f"new-{user.username}@example.org"
            s.flush()
            # server_onupdate=FetchedValue() + eager_defaults: the trigger's
            # value came back in UPDATE ... RETURNING, no reload needed
            self.assertGreater(user.updated_at, updated)
            self.assertEqual(user.created_at, created)
        self.assertEqual(len(sql), 1, sql)
        self.assertRegex(sql[0], r"^UPDATE textbook\.users SET email=.* "
                                 r"RETURNING textbook\.users\.updated_at$")
        s.commit()

        with Sessions() as s2:
            u = s2.get(User, user.id)
            self.assertGreater(u.updated_at, updated)
            self.assertEqual(u.created_at, created)

    def test_updated_at_is_the_transaction_start(self):
        # The trigger uses the transaction's start time (like now()): an
        # update in the transaction that inserted the row leaves
        # updated_at equal to created_at.
        s = self.session
        user = self.new_user()
        user.email = f"other-{user.username}@example.org"
        s.flush()
        self.assertEqual(user.updated_at, user.created_at)
        s.commit()

    def test_language_tags_are_canonicalised(self):
        # make_sessionmaker() sessions expire trigger-rewritten columns
        # after a flush, so the stored value is what the object shows
        s = self.session
        user = self.new_user()
        profile = UserProfile(user=user, preferred_language="pt-br")
        s.add(profile)
        s.flush()
        self.assertEqual(profile.preferred_language, "pt-BR")

        profile.preferred_language = "ZH-hant-tw"
        s.flush()
        self.assertEqual(profile.preferred_language, "zh-Hant-TW")

        profile.preferred_language = "iw"        # deprecated code for Hebrew
        s.commit()
        self.assertEqual(profile.preferred_language, "he")

    def test_language_tag_in_a_plain_session_needs_a_refresh(self):
        # Without the hook the ORM keeps what the application wrote until
        # the object is refreshed (or expired at commit).
        with Session(engine, future=True) as s:
            user = self.new_user(s)
            profile = UserProfile(user=user, preferred_language="pt-br")
            s.add(profile)
            s.flush()
            self.assertEqual(profile.preferred_language, "pt-br")   # stale
            stored = s.scalar(select(UserProfile.preferred_language)
                              .where(UserProfile.id == profile.id))
            self.assertEqual(stored, "pt-BR")
            s.refresh(profile)
            self.assertEqual(profile.preferred_language, "pt-BR")
            s.commit()

    def test_bookmarks_through_the_orm(self):
        s = self.session
        user = self.new_user()
        user.bookmarks.append(UserBookmark(chapter_id="ch-1", section_id="s-1",
                                           note="read again"))
        user.bookmarks.append(UserBookmark(chapter_id="ch-2", section_id="s-4"))
        s.commit()
        with Sessions() as s2:
            marks = s2.get(User, user.id).bookmarks
            self.assertEqual([(b.chapter_id, b.section_id, b.note) for b in marks],
                             [("ch-1", "s-1", "read again"), ("ch-2", "s-4", None)])


# ----------------------------------------------------------------------


class ValidationErrorsTest(TextbookTestCase):
    """The extension's rules reach the ORM as IntegrityError/DataError with
    the server's message, detail and hint intact, and the session works
    again after rollback()."""

    def flush_error(self, exc_class, *objects):
        s = self.session
        s.add_all(objects)
        with self.assertRaises(exc_class) as cm:
            s.flush()
        err = app.db_error(cm.exception)
        self.assert_session_usable(s)
        return cm.exception, err

    def user(self, **kw):
        name = kw.pop("username", None) or self.name()
        kw.setdefault("email", f"{name}@example.org")
        kw.setdefault("password_hash", app.hash_password("pw"))
        return User(username=name, **kw)

    def test_plaintext_password_is_refused(self):
        exc, err = self.flush_error(IntegrityError,
                                    self.user(password_hash="hunter2hunter2"))
        self.assertEqual(err.sqlstate, "23514")
        self.assertEqual(err.message, "password_hash is not a recognised password hash")
        self.assertIn("bcrypt", err.detail)
        self.assertIn("store only the hash, never the password itself", err.hint)
        # the fields an application maps to a form field
        self.assertEqual((err.table, err.column, err.constraint),
                         ("users", "password_hash", "users_password_hash_check"))
        # neither the server nor SQLAlchemy (hide_parameters=True) shows it
        self.assertNotIn("hunter2", str(exc))

    def test_bad_usernames(self):
        _, err = self.flush_error(IntegrityError, self.user(username="ab"))
        self.assertEqual((err.sqlstate, err.message), ("23514", "invalid username"))
        self.assertEqual(err.detail,
                         "A username is 3 to 64 characters long; this one has 2.")

        _, err = self.flush_error(IntegrityError,
                                  self.user(username="bad name",
                                            email="bad@example.org"))
        self.assertEqual(err.sqlstate, "23514")
        self.assertEqual(err.message, 'invalid username "bad name"')
        self.assertIn("only ASCII letters, digits", err.detail)

    def test_bad_email(self):
        _, err = self.flush_error(IntegrityError, self.user(email="someone@localhost"))
        self.assertEqual(err.sqlstate, "23514")
        self.assertEqual(err.message, 'invalid email address "someone@localhost"')
        self.assertIn("at least two labels", err.detail)

    def test_usernames_and_emails_are_unique_regardless_of_case(self):
        s = self.session
        first = self.user()
        s.add(first)
        s.commit()

        _, err = self.flush_error(IntegrityError,
                                  self.user(username=first.username.upper(),
                                            email="other-" + first.email))
        self.assertEqual(err.sqlstate, "23505")
        self.assertEqual(err.constraint, "users_username_key")
        self.assertEqual(err.table, "users")
        self.assertIn(f"(lower(username))=({first.username.lower()})", err.detail)

        _, err = self.flush_error(IntegrityError,
                                  self.user(email=first.email.upper()))
        self.assertEqual(err.sqlstate, "23505")
        self.assertEqual(err.constraint, "users_email_key")

    def test_accessibility_options(self):
        user = self.user()
        _, err = self.flush_error(
            IntegrityError,
            UserProfile(user=user, accessibility_options={"font_colour": "red"}))
        self.assertEqual(err.sqlstate, "23514")
        self.assertEqual(err.message, 'unknown accessibility option "font_colour"')
        self.assertIn("Known options are captions", err.hint)

        user = self.user()
        _, err = self.flush_error(
            IntegrityError,
            UserProfile(user=user, accessibility_options={"line_height": 5}))
        self.assertEqual(err.message, 'invalid value for accessibility option "line_height"')
        self.assertEqual(err.detail, 'Option "line_height" takes a number from 1.0 to 3.0.')

    def test_plain_check_constraint_names_itself(self):
        # the table's plain CHECKs (not C functions) carry the constraint name
        _, err = self.flush_error(IntegrityError,
                                  UserProfile(user=self.user(), theme_preference="neon"))
        self.assertEqual(err.sqlstate, "23514")
        self.assertEqual(err.constraint, "user_profiles_theme_preference_check")

    def test_bad_language_tag_is_a_data_error(self):
        # rejected by the canonicalising trigger, before any CHECK runs
        _, err = self.flush_error(DataError,
                                  UserProfile(user=self.user(), preferred_language="xx-br"))
        self.assertEqual(err.sqlstate, "22023")
        self.assertEqual(err.message, 'invalid language tag "xx-br" in preferred_language')
        self.assertEqual(err.detail, 'Language subtag "xx" is not an ISO 639 language code.')
        self.assertIn('"pt-BR"', err.hint)

        _, err = self.flush_error(DataError,
                                  UserProfile(user=self.user(), preferred_language="pt_BR"))
        self.assertEqual(err.sqlstate, "22023")
        self.assertEqual(err.hint, 'Write "pt-BR", not "pt_BR".')

        _, err = self.flush_error(DataError,
                                  UserProfile(user=self.user(), preferred_language="en-QQ"))
        self.assertIn('Region subtag "QQ"', err.detail)

    def test_unknown_user_is_a_foreign_key_error(self):
        _, err = self.flush_error(IntegrityError,
                                  UserBookmark(user_id=-1, chapter_id="c", section_id="s"))
        self.assertEqual(err.sqlstate, "23503")
        self.assertEqual(err.constraint, "user_bookmarks_user_id_fkey")

    def test_function_argument_errors(self):
        s = self.session
        user = self.new_user()
        s.commit()
        with self.assertRaises(DataError) as cm:
            app.upsert_translation(s, user.id, "ch", "klingon", "a", "b")
        err = app.db_error(cm.exception)
        self.assertEqual(err.sqlstate, "22023")
        self.assertEqual(err.message, 'invalid language tag "klingon" in p_target_language')
        self.assert_session_usable(s)

        with self.assertRaises(DataError) as cm:
            app.upsert_translation(s, user.id, "ch", "fr", "a", "b", 1.5)
        self.assertEqual(app.db_error(cm.exception).message,
                         "p_confidence_score must be between 0 and 1")
        self.assert_session_usable(s)

        with self.assertRaises(DataError) as cm:
            app.record_progress(s, user.id, "ch", "s", 101)
        self.assertEqual(app.db_error(cm.exception).message,
                         "p_completion_percentage must be between 0 and 100")
        self.assert_session_usable(s)


# ----------------------------------------------------------------------


class TranslationTest(TextbookTestCase):

    def test_upsert_twice_gives_one_refreshed_row(self):
        s = self.session
        user = self.new_user()
        s.commit()
        ch = self.chapter("tr")

        first = app.upsert_translation(s, user.id, ch, "pt-br", "Hello", "Olá", 0.5)
        self.assertIsInstance(first, UserChapterTranslation)
        self.assertEqual(first.target_language, "pt-BR")
        self.assertEqual(first.confidence_score, Decimal("0.5"))
        # textbook.translation_ttl after the write (30 days unless configured)
        ttl = s.scalar(select(func.textbook.translation_expiry() - func.now()))
        self.assertEqual(first.expires_at - first.updated_at, ttl)
        s.commit()
        first_id, first_expiry = first.id, first.expires_at

        second = app.upsert_translation(s, user.id, ch, "PT-BR", "Hello", "Oi", 0.9)
        # the same row and the same object of the identity map, refreshed
        self.assertIs(second, first)
        self.assertEqual(second.id, first_id)
        self.assertEqual(second.translated_content, "Oi")
        self.assertEqual(second.confidence_score, Decimal("0.9"))
        self.assertGreater(second.expires_at, first_expiry)    # expiry restarted
        s.commit()
        self.assertEqual(self.count(UserChapterTranslation, user_id=user.id), 1)

        got = app.get_translation(s, user.id, ch, "pt-BR")
        self.assertEqual((got.id, got.translated_content), (first_id, "Oi"))
        # the lookup canonicalises its argument too
        self.assertEqual(app.get_translation(s, user.id, ch, "pt-br").id, first_id)
        self.assertIsNone(app.get_translation(s, user.id, ch, "fr"))
        s.commit()

    def test_expired_translation_is_not_returned(self):
        s = self.session
        user = self.new_user()
        ch = self.chapter("exp")
        row = app.upsert_translation(s, user.id, ch, "fr", "Hello", "Bonjour")
        s.commit()
        self.assertIsNotNone(app.get_translation(s, user.id, ch, "fr"))
        s.commit()

        # expire it through the ORM; in this one transaction no purge can
        # delete the row, so this shows get_translation hides it
        row.expires_at = func.now() - datetime.timedelta(seconds=1)
        s.flush()
        self.assertIsNone(app.get_translation(s, user.id, ch, "fr"))
        self.assertEqual(s.scalar(select(func.count()).select_from(UserChapterTranslation)
                                  .where(UserChapterTranslation.user_id == user.id)), 1)
        s.commit()

        # an upsert brings it back to life
        app.upsert_translation(s, user.id, ch, "fr", "Hello", "Salut")
        s.commit()
        self.assertEqual(app.get_translation(s, user.id, ch, "fr").translated_content,
                         "Salut")


# ----------------------------------------------------------------------


class ProgressTest(TextbookTestCase):

    def add_chapters(self, *labels):
        chapters = [self.chapter(label) for label in labels]
        for ch in chapters:
            self.session.add(Document(chapter_id=ch, title=f"Chapter {ch}",
                                      content="...", doc_metadata={"lang": "en"}))
        self.session.commit()
        return chapters

    def book_size(self):
        return self.session.scalar(select(func.count(Document.chapter_id.distinct())))

    def test_record_progress_and_summary(self):
        s = self.session
        user = self.new_user()
        ch1, ch2 = self.add_chapters("one", "two")
        total = self.book_size()

        p = app.record_progress(s, user.id, ch1, "s1", 40, 10)
        self.assertIsInstance(p, UserReadingProgress)
        s.commit()
        p = app.record_progress(s, user.id, ch1, "s2", 30, 5)
        s.commit()
        self.assertEqual(p.completion_percentage, Decimal("40.00"))   # the highest
        self.assertEqual(p.study_time_minutes, 15)                     # added up
        self.assertEqual(p.current_section, "s2")                      # the latest
        self.assertEqual(self.count(UserReadingProgress, user_id=user.id), 1)

        summary = app.progress_summary(s, user.id)
        self.assertEqual(summary.chapters_total, total)
        self.assertEqual(summary.chapters_started, 1)
        self.assertEqual(summary.chapters_completed, 0)
        self.assertEqual(summary.overall_completion,
                         (Decimal(40) / total).quantize(Decimal("0.01")))
        self.assertEqual(summary.total_study_minutes, 15)
        self.assertEqual((summary.last_chapter_id, summary.last_section_id), (ch1, "s2"))
        self.assertEqual(summary.last_read_at, p.last_read_at)
        s.commit()

        app.record_progress(s, user.id, ch2, "end", 100, 20)
        s.commit()
        summary = app.progress_summary(s, user.id)
        self.assertEqual(summary.chapters_started, 2)
        self.assertEqual(summary.chapters_completed, 1)
        self.assertEqual(summary.overall_completion,
                         (Decimal(140) / total).quantize(Decimal("0.01")))
        self.assertEqual(summary.total_study_minutes, 35)
        self.assertEqual((summary.last_chapter_id, summary.last_section_id), (ch2, "end"))
        s.commit()

    def test_progress_summary_of_a_user_without_progress(self):
        # What a dashboard asks for a new user.  Regression test: an early
        # build of progress_summary ran its user-exists query when the user
        # had no progress rows and then read that query's result as the
        # progress rows; the backend died with signal 11 (and the
        # postmaster restarted every session).
        s = self.session
        user = self.new_user()
        s.commit()
        total = self.book_size()
        try:
            summary = app.progress_summary(s, user.id)
        except OperationalError as exc:
            wait_for_server()
            self.fail(f"progress_summary of a user without progress lost the "
                      f"connection (server crash?): {exc.orig}")
        self.assertEqual(tuple(summary),
                         (total, 0, 0, Decimal(0), 0, None, None, None))

    def test_progress_summary_of_an_unknown_user(self):
        with self.assertRaises(DataError) as cm:
            app.progress_summary(self.session, -1)
        self.assertEqual(app.db_error(cm.exception).message, "user -1 does not exist")


# ----------------------------------------------------------------------


class ConversationTest(TextbookTestCase):

    def test_log_and_history(self):
        s = self.session
        user = self.new_user()
        s.commit()
        ctx = {"sources": [{"chapter_id": "ch-1", "section_id": "s-2",
                            "document_id": 7, "score": 0.8}]}
        ids = [app.log_conversation(s, user.id, f"question {i}", f"answer {i}",
                                    ctx if i == 0 else None,
                                    0.75 if i == 0 else None)
               for i in range(3)]
        s.commit()
        self.assertEqual(ids, sorted(ids))

        page = app.conversation_history(s, user.id, limit=2)
        self.assertTrue(all(isinstance(c, Conversation) for c in page))
        self.assertEqual([c.id for c in page], [ids[2], ids[1]])      # newest first
        rest = app.conversation_history(s, user.id, limit=2, before_id=page[-1].id)
        self.assertEqual([c.id for c in rest], [ids[0]])
        first = rest[0]
        self.assertEqual((first.question, first.answer), ("question 0", "answer 0"))
        self.assertEqual(first.context, ctx)
        self.assertEqual(first.confidence_score, Decimal("0.75"))
        self.assertEqual(page[0].context, {})
        self.assertIsNone(page[0].confidence_score)
        # the same rows through the relationship
        self.assertEqual([c.id for c in s.get(User, user.id).conversations], ids)
        s.commit()

    def test_bad_context(self):
        s = self.session
        user = self.new_user()
        s.commit()
        bad = {"sources": [{"section_id": "s-1"}]}
        # through the function: an argument error
        with self.assertRaises(DataError) as cm:
            app.log_conversation(s, user.id, "q", "a", bad)
        err = app.db_error(cm.exception)
        self.assertEqual(err.sqlstate, "22023")
        self.assertEqual(err.message, "invalid conversation context at $.sources[0]")
        self.assertEqual(err.detail, '"chapter_id" is required in every source.')
        self.assert_session_usable(s)

        # through the ORM: the CHECK constraint, same message
        s.add(Conversation(user_id=user.id, question="q", answer="a", context=bad))
        with self.assertRaises(IntegrityError) as cm:
            s.flush()
        err = app.db_error(cm.exception)
        self.assertEqual(err.sqlstate, "23514")
        self.assertEqual(err.message, "invalid conversation context at $.sources[0]")
        self.assert_session_usable(s)


# ----------------------------------------------------------------------


class CascadeTest(TextbookTestCase):

    def test_deleting_a_user_deletes_everything_about_them(self):
        s = self.session
        user = self.new_user()
        other = self.new_user()
        for u in (user, other):
            u.profile = UserProfile(preferred_language="fr")
            u.bookmarks.append(UserBookmark(chapter_id="ch", section_id="s"))
        s.commit()
        for u in (user, other):
            app.upsert_translation(s, u.id, "ch", "fr", "a", "b")
            app.record_progress(s, u.id, "ch", "s", 50, 5)
            app.log_conversation(s, u.id, "q", "a")
        s.commit()
        uid = user.id
        dependents = (UserProfile, UserBookmark, UserChapterTranslation,
                      UserReadingProgress, Conversation)
        for model in dependents:
            self.assertEqual(self.count(model, user_id=uid), 1, model.__name__)

        with Sessions() as s2:
            victim = s2.get(User, uid)
            with self.capture_sql() as statements:
                s2.delete(victim)
                s2.commit()

        # passive_deletes=True: one DELETE, no loading of the children
        self.assertEqual([st.split()[0] for st in statements], ["DELETE"])
        self.assertIn("textbook.users", statements[0])
        self.assertEqual(self.count(User, id=uid), 0)
        for model in dependents:
            self.assertEqual(self.count(model, user_id=uid), 0, model.__name__)
            self.assertEqual(self.count(model, user_id=other.id), 1, model.__name__)

    def test_loaded_children_are_deleted_too(self):
        # children already in the session are deleted by the ORM (cascade
        # "all"), the others by the database
        s = self.session
        user = self.new_user()
        user.profile = UserProfile()
        user.bookmarks.append(UserBookmark(chapter_id="ch", section_id="s"))
        s.commit()
        app.log_conversation(s, user.id, "q", "a")
        s.commit()
        self.assertEqual(len(user.bookmarks), 1)      # loaded
        s.delete(user)
        s.commit()
        for model in (UserProfile, UserBookmark, Conversation):
            self.assertEqual(self.count(model, user_id=user.id), 0, model.__name__)


if __name__ == "__main__":
    unittest.main()
