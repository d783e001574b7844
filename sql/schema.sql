-- The schema: tables, types, keys, indexes, triggers, dump registration,
-- cascades and privileges.
\i test/helpers.sql

-- every column, with its type, nullability and default
SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity, identity_generation
FROM information_schema.columns
WHERE table_schema = 'textbook' AND table_name IN (
    'users', 'documents', 'user_chapter_translations', 'user_profiles',
    'user_reading_progress', 'user_bookmarks', 'conversations')
ORDER BY table_name, ordinal_position;

-- keys, checks and foreign keys
SELECT conrelid::regclass AS table_name, conname, contype,
       pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE connamespace = 'textbook'::regnamespace
ORDER BY conrelid::regclass::text, conname;

SELECT tablename, indexname, indexdef FROM pg_indexes
WHERE schemaname = 'textbook' ORDER BY tablename, indexname;

SELECT tgrelid::regclass AS table_name, tgname, pg_get_triggerdef(oid) AS definition
FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'textbook.%'
ORDER BY 1, 2;

-- every table and identity sequence is dumped with its data
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'textbook' ORDER BY 1;
SELECT c.relname, c.relkind, c.oid = ANY (e.extconfig) AS dumped
FROM pg_class c, pg_extension e
WHERE e.extname = 'textbook' AND c.relnamespace = 'textbook'::regnamespace AND c.relkind IN ('r', 'S')
ORDER BY c.relname;

-- nothing is granted to PUBLIC on the tables; admin functions are revoked
SELECT c.relname, c.relacl FROM pg_class c
WHERE c.relnamespace = 'textbook'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1;
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p WHERE p.pronamespace = 'textbook'::regnamespace
  AND p.proname IN ('purge_expired_translations', 'start_purge_worker', 'purge_status', 'upsert_translation')
ORDER BY 1;
-- no SECURITY DEFINER functions, and no SQL function without a pinned search_path
SELECT count(*) AS security_definer FROM pg_proc WHERE pronamespace = 'textbook'::regnamespace AND prosecdef;
SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'textbook'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
  AND NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, pg_temp'], false);

-- monitoring roles read the worker's status
CREATE ROLE textbook_watcher IN ROLE pg_monitor;
SET ROLE textbook_watcher;
SELECT count(*) >= 0 AS readable FROM textbook.purge_status;
RESET ROLE;
DROP ROLE textbook_watcher;

-- a role without grants cannot read the tables or purge
CREATE ROLE textbook_nobody;
SET ROLE textbook_nobody;
SELECT count(*) FROM textbook.users;
SELECT textbook.purge_expired_translations();
RESET ROLE;
DROP ROLE textbook_nobody;

-- the application role of the README
CREATE ROLE textbook_app;
GRANT USAGE ON SCHEMA textbook TO textbook_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA textbook TO textbook_app;
SET ROLE textbook_app;
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('approle', 'approle@example.org', '$2b$12$' || repeat('a', 53)) RETURNING id, username;
SELECT (textbook.upsert_translation(id, 'intro', 'de', 'hello', 'hallo')).target_language
FROM textbook.users WHERE username = 'approle';
SELECT textbook.purge_expired_translations();
RESET ROLE;
DELETE FROM textbook.users WHERE username = 'approle';
REVOKE ALL ON ALL TABLES IN SCHEMA textbook FROM textbook_app;
REVOKE USAGE ON SCHEMA textbook FROM textbook_app;
DROP ROLE textbook_app;

-- identity columns are generated always
INSERT INTO textbook.users (id, username, email, password_hash)
VALUES (100, 'carol', 'carol@example.org', '$2b$12$' || repeat('a', 53));

-- deleting a user deletes everything about that user
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('dora', 'dora@example.org', '$2b$12$' || repeat('b', 53)),
       ('emil', 'emil@example.org', '$2b$12$' || repeat('c', 53));
INSERT INTO textbook.user_profiles (user_id, preferred_language) SELECT id, 'fr' FROM textbook.users;
INSERT INTO textbook.user_reading_progress (user_id, chapter_id, current_section, completion_percentage)
    SELECT id, 'apt', 'sect.apt-get', 50 FROM textbook.users;
INSERT INTO textbook.user_bookmarks (user_id, chapter_id, section_id, note)
    SELECT id, 'apt', 'sect.apt-get', 'read again' FROM textbook.users;
INSERT INTO textbook.user_chapter_translations (user_id, chapter_id, target_language, original_content, translated_content)
    SELECT id, 'apt', 'fr', 'APT', 'APT (fr)' FROM textbook.users;
INSERT INTO textbook.conversations (user_id, question, answer) SELECT id, 'q?', 'a.' FROM textbook.users;
CREATE FUNCTION pg_temp.rows_of(p_username text) RETURNS TABLE (tbl text, n bigint)
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'profiles', count(*) FROM textbook.user_profiles p JOIN textbook.users u ON u.id = p.user_id WHERE u.username = p_username
    UNION ALL SELECT 'progress', count(*) FROM textbook.user_reading_progress p JOIN textbook.users u ON u.id = p.user_id WHERE u.username = p_username
    UNION ALL SELECT 'bookmarks', count(*) FROM textbook.user_bookmarks p JOIN textbook.users u ON u.id = p.user_id WHERE u.username = p_username
    UNION ALL SELECT 'translations', count(*) FROM textbook.user_chapter_translations p JOIN textbook.users u ON u.id = p.user_id WHERE u.username = p_username
    UNION ALL SELECT 'conversations', count(*) FROM textbook.conversations p JOIN textbook.users u ON u.id = p.user_id WHERE u.username = p_username
$$;
SELECT * FROM pg_temp.rows_of('dora');
CREATE TEMP TABLE dora AS SELECT id FROM textbook.users WHERE username = 'dora';
DELETE FROM textbook.users WHERE username = 'dora';
SELECT (SELECT count(*) FROM textbook.user_profiles WHERE user_id = dora.id) AS profiles,
       (SELECT count(*) FROM textbook.user_reading_progress WHERE user_id = dora.id) AS progress,
       (SELECT count(*) FROM textbook.user_bookmarks WHERE user_id = dora.id) AS bookmarks,
       (SELECT count(*) FROM textbook.user_chapter_translations WHERE user_id = dora.id) AS translations,
       (SELECT count(*) FROM textbook.conversations WHERE user_id = dora.id) AS conversations
FROM dora;
-- emil's rows are untouched
SELECT * FROM pg_temp.rows_of('emil');

-- a row for another user id is refused by the foreign key
INSERT INTO textbook.user_bookmarks (user_id, chapter_id, section_id) VALUES (999999, 'apt', 's');
-- one profile per user
INSERT INTO textbook.user_profiles (user_id) SELECT id FROM textbook.users WHERE username = 'emil';

-- updated_at follows every UPDATE; created_at stays
CREATE TEMP TABLE before AS SELECT id, created_at, updated_at FROM textbook.user_bookmarks;
SELECT pg_sleep(0.01);
UPDATE textbook.user_bookmarks SET note = 'done';
SELECT b.created_at = o.created_at AS created_kept, b.updated_at > o.updated_at AS updated_moved
FROM textbook.user_bookmarks b JOIN before o USING (id);
-- ... on every table that has it
SELECT pg_sleep(0.01);
BEGIN;
UPDATE textbook.users SET email = 'emil@example.net' WHERE username = 'emil';
UPDATE textbook.user_profiles SET theme_preference = 'dark';
UPDATE textbook.user_reading_progress SET completion_percentage = 60;
UPDATE textbook.user_chapter_translations SET translated_content = 'APT!';
SELECT (SELECT bool_and(updated_at = now()) FROM textbook.users WHERE username = 'emil') AS users,
       (SELECT bool_and(updated_at = now()) FROM textbook.user_profiles) AS profiles,
       (SELECT bool_and(updated_at = now()) FROM textbook.user_reading_progress) AS progress,
       (SELECT bool_and(updated_at = now()) FROM textbook.user_chapter_translations) AS translations;
COMMIT;

-- expires_at: now() + textbook.translation_ttl on a plain INSERT
SHOW textbook.translation_ttl;
DELETE FROM textbook.user_chapter_translations;
INSERT INTO textbook.user_chapter_translations (user_id, chapter_id, target_language, original_content, translated_content)
    SELECT id, 'ttl-default', 'es', 'a', 'b' FROM textbook.users WHERE username = 'emil';
SET textbook.translation_ttl = '90min';
SHOW textbook.translation_ttl;
INSERT INTO textbook.user_chapter_translations (user_id, chapter_id, target_language, original_content, translated_content)
    SELECT id, 'ttl-90min', 'es', 'a', 'b' FROM textbook.users WHERE username = 'emil';
RESET textbook.translation_ttl;
SELECT chapter_id, expires_at - created_at AS ttl FROM textbook.user_chapter_translations ORDER BY chapter_id;
-- an administrator's UPDATE of expires_at is honoured, and not reset by later updates
UPDATE textbook.user_chapter_translations SET expires_at = '2030-01-01 00:00:00+00' WHERE chapter_id = 'ttl-default';
UPDATE textbook.user_chapter_translations SET translated_content = 'c' WHERE chapter_id = 'ttl-default';
SELECT chapter_id, expires_at FROM textbook.user_chapter_translations WHERE chapter_id = 'ttl-default';

-- the settings are documented and bounded
SELECT name, setting, unit, context, vartype, min_val, max_val, short_desc
FROM pg_settings WHERE name LIKE 'textbook.%' ORDER BY name;
SET textbook.translation_ttl = 0;
SET textbook.translation_ttl = '-1h';
SET textbook.no_such_setting = 1;
