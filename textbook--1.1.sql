/* textbook--1.1.sql */

\echo Use "CREATE EXTENSION textbook" to load this file. \quit

-- First of all: a UTF-8 database, and a schema textbook that only
-- superusers own, may create objects in and have objects in (src/install.c
-- says why).
CREATE FUNCTION textbook.check_install_target() RETURNS void
    AS 'MODULE_PATHNAME', 'check_install_target'
    LANGUAGE C;
SELECT textbook.check_install_target();
DROP FUNCTION textbook.check_install_target();

-- Every operator and function in the expressions below is schema-qualified,
-- so that nothing in the schema the script runs in can stand in for it.

-- Value rules, in C (src/validate.c).  Each check_* function returns true
-- or raises an error that says what is wrong; the tables call them from
-- CHECK constraints so that plain INSERTs are checked like our functions.

CREATE FUNCTION textbook.canonical_language(tag text) RETURNS text
    AS 'MODULE_PATHNAME', 'canonical_language'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION textbook.check_language_tag(tag text, column_name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'check_language_tag'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION textbook.check_ref(value text, column_name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'check_ref'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION textbook.check_username(username text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'check_username'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION textbook.check_email(email text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'check_email'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION textbook.check_password_hash(password_hash text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'check_password_hash'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION textbook.check_accessibility_options(options jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'check_accessibility_options'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION textbook.check_conversation_context(context jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'check_conversation_context'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- now() + textbook.translation_ttl: the default of expires_at.
CREATE FUNCTION textbook.translation_expiry() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'translation_expiry'
    LANGUAGE C STABLE PARALLEL SAFE;

-- Row triggers (src/triggers.c); the argument names the column.
CREATE FUNCTION textbook.tg_set_updated_at() RETURNS trigger
    AS 'MODULE_PATHNAME', 'tg_set_updated_at'
    LANGUAGE C;

CREATE FUNCTION textbook.tg_canonicalize_language() RETURNS trigger
    AS 'MODULE_PATHNAME', 'tg_canonicalize_language'
    LANGUAGE C;

-- Tells every backend that documents changed, so that the per-backend
-- copy of the book's chapter list used by the progress aggregates is
-- refreshed.
CREATE FUNCTION textbook.tg_documents_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'tg_documents_changed'
    LANGUAGE C;

-- ----------------------------------------------------------------
-- Tables.  Every user table references users ON DELETE CASCADE, so
-- deleting a user deletes everything stored about that user.
-- ----------------------------------------------------------------

CREATE TABLE textbook.users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        text NOT NULL
        CONSTRAINT users_username_check CHECK (textbook.check_username(username)),
    email           text NOT NULL
        CONSTRAINT users_email_check CHECK (textbook.check_email(email)),
    password_hash   text NOT NULL
        CONSTRAINT users_password_hash_check CHECK (textbook.check_password_hash(password_hash)),
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
-- unique regardless of case: Alice and alice are one account
CREATE UNIQUE INDEX users_username_key ON textbook.users (pg_catalog.lower(username));
CREATE UNIQUE INDEX users_email_key ON textbook.users (pg_catalog.lower(email));

CREATE TABLE textbook.documents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chapter_id      text NOT NULL
        CONSTRAINT documents_chapter_id_check CHECK (textbook.check_ref(chapter_id, 'chapter_id')),
    title           text NOT NULL,
    content         text NOT NULL,
    doc_metadata    jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT documents_doc_metadata_check CHECK (pg_catalog.jsonb_typeof(doc_metadata) OPERATOR(pg_catalog.=) 'object'),
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
-- a chapter's chunks, in the order they were stored
CREATE INDEX documents_chapter_id_idx ON textbook.documents (chapter_id, id);

CREATE TABLE textbook.user_chapter_translations (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES textbook.users (id) ON DELETE CASCADE,
    chapter_id          text NOT NULL
        CONSTRAINT user_chapter_translations_chapter_id_check CHECK (textbook.check_ref(chapter_id, 'chapter_id')),
    target_language     text NOT NULL
        CONSTRAINT user_chapter_translations_target_language_check
        CHECK (textbook.check_language_tag(target_language, 'target_language')),
    original_content    text NOT NULL,
    translated_content  text NOT NULL,
    confidence_score    numeric
        CONSTRAINT user_chapter_translations_confidence_score_check
        CHECK (confidence_score OPERATOR(pg_catalog.>=) 0::numeric AND confidence_score OPERATOR(pg_catalog.<=) 1::numeric),
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at          timestamptz NOT NULL DEFAULT textbook.translation_expiry(),
    CONSTRAINT user_chapter_translations_key UNIQUE (user_id, chapter_id, target_language)
);
CREATE INDEX user_chapter_translations_chapter_id_idx
    ON textbook.user_chapter_translations (chapter_id);
CREATE INDEX user_chapter_translations_expires_at_idx
    ON textbook.user_chapter_translations (expires_at);

CREATE TABLE textbook.user_profiles (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id                 bigint NOT NULL REFERENCES textbook.users (id) ON DELETE CASCADE,
    preferred_language      text NOT NULL DEFAULT 'en'
        CONSTRAINT user_profiles_preferred_language_check
        CHECK (textbook.check_language_tag(preferred_language, 'preferred_language')),
    theme_preference        text NOT NULL DEFAULT 'system'
        CONSTRAINT user_profiles_theme_preference_check
        CHECK (theme_preference OPERATOR(pg_catalog.=) ANY (ARRAY['light'::text, 'dark'::text, 'system'::text, 'sepia'::text])),
    font_size               smallint NOT NULL DEFAULT 16
        CONSTRAINT user_profiles_font_size_check CHECK (font_size OPERATOR(pg_catalog.>=) 8 AND font_size OPERATOR(pg_catalog.<=) 48),
    accessibility_options   jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT user_profiles_accessibility_options_check
        CHECK (textbook.check_accessibility_options(accessibility_options)),
    created_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT user_profiles_user_id_key UNIQUE (user_id)
);

CREATE TABLE textbook.user_reading_progress (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id                 bigint NOT NULL REFERENCES textbook.users (id) ON DELETE CASCADE,
    chapter_id              text NOT NULL
        CONSTRAINT user_reading_progress_chapter_id_check CHECK (textbook.check_ref(chapter_id, 'chapter_id')),
    current_section         text
        CONSTRAINT user_reading_progress_current_section_check
        CHECK (textbook.check_ref(current_section, 'current_section')),
    completion_percentage   numeric(5,2) NOT NULL DEFAULT 0
        CONSTRAINT user_reading_progress_completion_percentage_check
        CHECK (completion_percentage OPERATOR(pg_catalog.>=) 0::numeric AND completion_percentage OPERATOR(pg_catalog.<=) 100::numeric),
    last_read_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    study_time_minutes      integer NOT NULL DEFAULT 0
        CONSTRAINT user_reading_progress_study_time_minutes_check CHECK (study_time_minutes OPERATOR(pg_catalog.>=) 0),
    created_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT user_reading_progress_key UNIQUE (user_id, chapter_id)
);
-- chapter_progress() reads every row of a chapter from this index alone
CREATE INDEX user_reading_progress_chapter_id_idx
    ON textbook.user_reading_progress (chapter_id)
    INCLUDE (completion_percentage, study_time_minutes, last_read_at);

CREATE TABLE textbook.user_bookmarks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES textbook.users (id) ON DELETE CASCADE,
    chapter_id      text NOT NULL
        CONSTRAINT user_bookmarks_chapter_id_check CHECK (textbook.check_ref(chapter_id, 'chapter_id')),
    section_id      text NOT NULL
        CONSTRAINT user_bookmarks_section_id_check CHECK (textbook.check_ref(section_id, 'section_id')),
    note            text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX user_bookmarks_user_id_idx ON textbook.user_bookmarks (user_id, created_at);
CREATE INDEX user_bookmarks_chapter_id_idx ON textbook.user_bookmarks (chapter_id);

CREATE TABLE textbook.conversations (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES textbook.users (id) ON DELETE CASCADE,
    question            text NOT NULL
        CONSTRAINT conversations_question_check CHECK (question OPERATOR(pg_catalog.<>) ''),
    answer              text NOT NULL,
    context             jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT conversations_context_check CHECK (textbook.check_conversation_context(context)),
    confidence_score    numeric
        CONSTRAINT conversations_confidence_score_check
        CHECK (confidence_score OPERATOR(pg_catalog.>=) 0::numeric AND confidence_score OPERATOR(pg_catalog.<=) 1::numeric),
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
-- conversation_history pages through a user's exchanges by id
CREATE INDEX conversations_user_id_idx ON textbook.conversations (user_id, id);
CREATE INDEX conversations_user_id_created_at_idx ON textbook.conversations (user_id, created_at);

-- updated_at is kept current on every UPDATE
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON textbook.users
    FOR EACH ROW EXECUTE FUNCTION textbook.tg_set_updated_at('updated_at');
CREATE TRIGGER documents_set_updated_at BEFORE UPDATE ON textbook.documents
    FOR EACH ROW EXECUTE FUNCTION textbook.tg_set_updated_at('updated_at');
CREATE TRIGGER user_chapter_translations_set_updated_at BEFORE UPDATE ON textbook.user_chapter_translations
    FOR EACH ROW EXECUTE FUNCTION textbook.tg_set_updated_at('updated_at');
CREATE TRIGGER user_profiles_set_updated_at BEFORE UPDATE ON textbook.user_profiles
    FOR EACH ROW EXECUTE FUNCTION textbook.tg_set_updated_at('updated_at');
CREATE TRIGGER user_reading_progress_set_updated_at BEFORE UPDATE ON textbook.user_reading_progress
    FOR EACH ROW EXECUTE FUNCTION textbook.tg_set_updated_at('updated_at');
CREATE TRIGGER user_bookmarks_set_updated_at BEFORE UPDATE ON textbook.user_bookmarks
    FOR EACH ROW EXECUTE FUNCTION textbook.tg_set_updated_at('updated_at');

CREATE TRIGGER documents_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON textbook.documents
    FOR EACH STATEMENT EXECUTE FUNCTION textbook.tg_documents_changed();

-- language tags are stored in canonical form: 'pt-br' becomes 'pt-BR'
CREATE TRIGGER user_chapter_translations_canonicalize_language
    BEFORE INSERT OR UPDATE OF target_language ON textbook.user_chapter_translations
    FOR EACH ROW EXECUTE FUNCTION textbook.tg_canonicalize_language('target_language');
CREATE TRIGGER user_profiles_canonicalize_language
    BEFORE INSERT OR UPDATE OF preferred_language ON textbook.user_profiles
    FOR EACH ROW EXECUTE FUNCTION textbook.tg_canonicalize_language('preferred_language');

-- Keep every row through pg_dump: the tables and their identity sequences.
-- (One call per statement: each call updates the pg_extension row.)
SELECT pg_catalog.pg_extension_config_dump('textbook.users', '');
SELECT pg_catalog.pg_extension_config_dump('textbook.documents', '');
SELECT pg_catalog.pg_extension_config_dump('textbook.user_chapter_translations', '');
SELECT pg_catalog.pg_extension_config_dump('textbook.user_profiles', '');
SELECT pg_catalog.pg_extension_config_dump('textbook.user_reading_progress', '');
SELECT pg_catalog.pg_extension_config_dump('textbook.user_bookmarks', '');
SELECT pg_catalog.pg_extension_config_dump('textbook.conversations', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('textbook.users', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('textbook.documents', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('textbook.user_chapter_translations', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('textbook.user_profiles', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('textbook.user_reading_progress', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('textbook.user_bookmarks', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('textbook.conversations', 'id'), '');

-- ----------------------------------------------------------------
-- Translation cache (src/translation.c)
-- ----------------------------------------------------------------

CREATE FUNCTION textbook.upsert_translation(
    p_user_id bigint,
    p_chapter_id text,
    p_target_language text,
    p_original_content text,
    p_translated_content text,
    p_confidence_score double precision DEFAULT NULL)
RETURNS textbook.user_chapter_translations
    AS 'MODULE_PATHNAME', 'upsert_translation'
    LANGUAGE C VOLATILE;

-- SETOF so that a missing or expired translation is no row rather than a
-- row of NULLs.
CREATE FUNCTION textbook.get_translation(
    p_user_id bigint,
    p_chapter_id text,
    p_target_language text)
RETURNS SETOF textbook.user_chapter_translations
    AS 'MODULE_PATHNAME', 'get_translation'
    LANGUAGE C STABLE ROWS 1;

CREATE FUNCTION textbook.purge_expired_translations(p_limit integer DEFAULT NULL)
RETURNS bigint
    AS 'MODULE_PATHNAME', 'purge_expired_translations'
    LANGUAGE C VOLATILE;

-- ----------------------------------------------------------------
-- Reading progress (src/progress.c)
-- ----------------------------------------------------------------

CREATE FUNCTION textbook.record_progress(
    p_user_id bigint,
    p_chapter_id text,
    p_section_id text,
    p_completion_percentage numeric,
    p_minutes integer DEFAULT 0)
RETURNS textbook.user_reading_progress
    AS 'MODULE_PATHNAME', 'record_progress'
    LANGUAGE C VOLATILE;

CREATE FUNCTION textbook.reset_progress(p_user_id bigint, p_chapter_id text DEFAULT NULL)
RETURNS bigint
    AS 'MODULE_PATHNAME', 'reset_progress'
    LANGUAGE C VOLATILE;

CREATE FUNCTION textbook.progress_summary(
    p_user_id bigint,
    OUT chapters_total bigint,
    OUT chapters_started bigint,
    OUT chapters_completed bigint,
    OUT overall_completion numeric,
    OUT total_study_minutes bigint,
    OUT last_read_at timestamptz,
    OUT last_chapter_id text,
    OUT last_section_id text)
RETURNS record
    AS 'MODULE_PATHNAME', 'progress_summary'
    LANGUAGE C STABLE;

CREATE FUNCTION textbook.chapter_progress(
    OUT chapter_id text,
    OUT readers bigint,
    OUT completed_readers bigint,
    OUT avg_completion numeric,
    OUT total_study_minutes bigint,
    OUT last_read_at timestamptz)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'chapter_progress'
    LANGUAGE C STABLE ROWS 200;

-- ----------------------------------------------------------------
-- JSON import and export, conversations (src/json_io.c)
-- ----------------------------------------------------------------

CREATE FUNCTION textbook.import_documents(p_json text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'import_documents'
    LANGUAGE C VOLATILE;

CREATE FUNCTION textbook.export_user_data(p_user_id bigint) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'export_user_data'
    LANGUAGE C STABLE;

CREATE FUNCTION textbook.log_conversation(
    p_user_id bigint,
    p_question text,
    p_answer text,
    p_context jsonb DEFAULT '{}',
    p_confidence_score double precision DEFAULT NULL)
RETURNS bigint
    AS 'MODULE_PATHNAME', 'log_conversation'
    LANGUAGE C VOLATILE;

CREATE FUNCTION textbook.conversation_history(
    p_user_id bigint,
    p_limit integer DEFAULT 20,
    p_before_id bigint DEFAULT NULL)
RETURNS SETOF textbook.conversations
    AS 'MODULE_PATHNAME', 'conversation_history'
    LANGUAGE C STABLE ROWS 20;

-- ----------------------------------------------------------------
-- Purge worker (src/purge_worker.c)
-- ----------------------------------------------------------------

CREATE FUNCTION textbook.start_purge_worker() RETURNS boolean
    AS 'MODULE_PATHNAME', 'start_purge_worker'
    LANGUAGE C VOLATILE;

CREATE FUNCTION textbook.purge_status(
    OUT database text,
    OUT state text,
    OUT launcher_pid integer,
    OUT worker_pid integer,
    OUT last_start timestamptz,
    OUT last_end timestamptz,
    OUT rows_last_run bigint,
    OUT rows_total bigint,
    OUT last_error text,
    OUT last_error_at timestamptz)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'purge_status'
    LANGUAGE C VOLATILE;

CREATE VIEW textbook.purge_status AS
    SELECT * FROM textbook.purge_status();

-- Purging and starting workers are for administrators; monitoring roles
-- may read the status.
REVOKE ALL ON FUNCTION textbook.purge_expired_translations(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION textbook.start_purge_worker() FROM PUBLIC;
REVOKE ALL ON FUNCTION textbook.purge_status() FROM PUBLIC;
GRANT USAGE ON SCHEMA textbook TO pg_monitor;
GRANT SELECT ON textbook.purge_status TO pg_monitor;
GRANT EXECUTE ON FUNCTION textbook.purge_status() TO pg_monitor;
