-- The translation cache: upsert, live reads, purge, TTL, and bad input.
\i test/helpers.sql
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('tina', 'tina@example.org', '$2b$12$' || repeat('t', 53)),
       ('tom', 'tom@example.org', '$2b$12$' || repeat('u', 53));

-- first write: a new row, live for 30 days
CREATE TEMP TABLE first AS
SELECT * FROM textbook.upsert_translation(1, 'apt', 'pt-br', 'APT is a tool.', 'APT é uma ferramenta.', 0.8);
SELECT id, user_id, chapter_id, target_language, original_content, translated_content, confidence_score,
       updated_at = created_at AS updated_is_created,
       expires_at - updated_at AS ttl
FROM first;

-- second write, same key in another spelling: the same row, refreshed
SELECT pg_sleep(0.01);
CREATE TEMP TABLE second AS
SELECT * FROM textbook.upsert_translation(1, 'apt', 'PT-BR', 'APT is a tool!', 'APT é uma ferramenta!', NULL);
SELECT s.id = f.id AS same_row, s.target_language, s.translated_content, s.confidence_score,
       s.created_at = f.created_at AS created_kept, s.updated_at > f.updated_at AS updated_moved,
       s.expires_at > f.expires_at AS expiry_restarted, s.expires_at - s.updated_at AS ttl
FROM second s, first f;
SELECT count(*) FROM textbook.user_chapter_translations;

-- the stored row is returned as a composite, usable in SQL
SELECT (textbook.upsert_translation(2, 'apt', 'fr', 'a', 'b', 1)).target_language;
SELECT (textbook.upsert_translation(2, 'apt', 'fr', 'a', 'b', 0)).confidence_score;

-- reads: the live row, canonical language on read too
SELECT id, target_language, translated_content FROM textbook.get_translation(1, 'apt', 'pt-BR');
SELECT id, target_language FROM textbook.get_translation(1, 'apt', 'pt-br');
-- missing: no row (not a row of NULLs)
SELECT count(*) FROM textbook.get_translation(1, 'apt', 'de');
SELECT count(*) FROM textbook.get_translation(1, 'no-such-chapter', 'pt-BR');
SELECT count(*) FROM textbook.get_translation(999, 'apt', 'pt-BR');
-- expired: no row, even before any purge
UPDATE textbook.user_chapter_translations SET expires_at = now() - interval '1 second'
WHERE user_id = 1;
SELECT count(*) FROM textbook.get_translation(1, 'apt', 'pt-BR');
SELECT count(*) FROM textbook.user_chapter_translations WHERE user_id = 1;
-- an upsert revives an expired row in place
SELECT id, translated_content, expires_at > now() AS live
FROM textbook.upsert_translation(1, 'apt', 'pt-BR', 'x', 'revived');
SELECT count(*) FROM textbook.get_translation(1, 'apt', 'pt-BR');

-- the upsert works inside the caller's transaction
BEGIN;
SELECT translated_content FROM textbook.upsert_translation(1, 'intro', 'de', 'Hello', 'Hallo');
ROLLBACK;
SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id = 'intro';

-- textbook.translation_ttl: a duration with units, per session
SET textbook.translation_ttl = '12h';
SELECT expires_at - updated_at AS ttl FROM textbook.upsert_translation(1, 'intro', 'de', 'Hello', 'Hallo');
SET textbook.translation_ttl = '90min';
SELECT expires_at - updated_at AS ttl FROM textbook.upsert_translation(1, 'intro', 'de', 'Hello', 'Hallo');
SET textbook.translation_ttl = 45;
SELECT expires_at - updated_at AS ttl FROM textbook.upsert_translation(1, 'intro', 'de', 'Hello', 'Hallo');
RESET textbook.translation_ttl;
SELECT pg_temp.fails($$SET textbook.translation_ttl = 0$$);
SELECT pg_temp.fails($$SET textbook.translation_ttl = '-5min'$$);
SELECT pg_temp.fails($$SET textbook.translation_ttl = 'soon'$$);

-- expiry is an instant: 90 days are 90 * 86400 seconds in any TimeZone,
-- also across a daylight-saving change (interval arithmetic in New York
-- would give one hour less)
SET textbook.translation_ttl = '90d';
SET TimeZone = 'America/New_York';
SELECT extract(epoch FROM expires_at - updated_at) AS seconds_ny
FROM textbook.upsert_translation(2, 'tz', 'en', 'a', 'b');
SET TimeZone = 'Asia/Tokyo';
SELECT extract(epoch FROM expires_at) - extract(epoch FROM updated_at) AS seconds_tokyo
FROM textbook.upsert_translation(2, 'tz', 'en', 'a', 'b');
SET TimeZone = 'America/New_York';
SELECT (SELECT expires_at FROM textbook.get_translation(2, 'tz', 'en'))
     = (SELECT updated_at FROM textbook.get_translation(2, 'tz', 'en')) + interval '2160 hours' AS absolute;
RESET TimeZone;
RESET textbook.translation_ttl;

-- bad input: a clear error and nothing written
SELECT count(*) AS rows_before FROM textbook.user_chapter_translations;
SELECT pg_temp.fails(s) FROM unnest(ARRAY[
    $$SELECT textbook.upsert_translation(NULL, 'apt', 'fr', 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, NULL, 'fr', 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', NULL, 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', 'fr', NULL, 'b')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', 'fr', 'a', NULL)$$,
    $$SELECT textbook.upsert_translation(424242, 'apt', 'fr', 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', 'fr', 'a', 'b', 1.5)$$,
    $$SELECT textbook.upsert_translation(1, 'apt', 'fr', 'a', 'b', -0.1)$$,
    $$SELECT textbook.upsert_translation(1, 'apt', 'fr', 'a', 'b', 'NaN')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', 'fr', 'a', 'b', 'Infinity')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', 'fr-ZZ', 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', 'klingon', 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', '', 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, 'apt', repeat('a', 100), 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, '', 'fr', 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, 'a' || chr(10) || 'b', 'fr', 'a', 'b')$$,
    $$SELECT textbook.upsert_translation(1, repeat('c', 201), 'fr', 'a', 'b')$$,
    $$SELECT * FROM textbook.get_translation(NULL, 'apt', 'fr')$$,
    $$SELECT * FROM textbook.get_translation(1, NULL, 'fr')$$,
    $$SELECT * FROM textbook.get_translation(1, 'apt', NULL)$$,
    $$SELECT * FROM textbook.get_translation(1, 'apt', 'fr_FR')$$]) s;
SELECT count(*) AS rows_after FROM textbook.user_chapter_translations;

-- purge: expired rows only, oldest first, in the calling transaction
DELETE FROM textbook.user_chapter_translations;
INSERT INTO textbook.user_chapter_translations
    (user_id, chapter_id, target_language, original_content, translated_content, expires_at)
SELECT 1, 'ch' || i, 'fr', 'o', 't', now() - (i || ' hours')::interval
FROM generate_series(1, 5) i;
INSERT INTO textbook.user_chapter_translations
    (user_id, chapter_id, target_language, original_content, translated_content)
VALUES (1, 'live1', 'fr', 'o', 't'), (1, 'live2', 'fr', 'o', 't');
SELECT textbook.purge_expired_translations(2);
SELECT chapter_id FROM textbook.user_chapter_translations ORDER BY chapter_id;
BEGIN;
SELECT textbook.purge_expired_translations();
ROLLBACK;
SELECT count(*) FROM textbook.user_chapter_translations;
SELECT textbook.purge_expired_translations();
SELECT textbook.purge_expired_translations();
SELECT chapter_id FROM textbook.user_chapter_translations ORDER BY chapter_id;
SELECT pg_temp.fails($$SELECT textbook.purge_expired_translations(0)$$);
SELECT pg_temp.fails($$SELECT textbook.purge_expired_translations(-1)$$);

-- the caller's search_path cannot change what the functions do: a hostile
-- schema first in the path, with its own now() and a text = that is always true
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01'::timestamptz $$;
CREATE FUNCTION hostile.always(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.always);
CREATE TABLE hostile.user_chapter_translations (x int);
SET search_path = hostile, pg_catalog, public;
SELECT count(*) FROM textbook.get_translation(1, 'no-such-chapter', 'fr');
SELECT chapter_id, expires_at > '2020-01-01' AS real_expiry
FROM textbook.upsert_translation(1, 'live1', 'fr', 'o', 'hostile path');
SELECT textbook.purge_expired_translations();
RESET search_path;
DROP SCHEMA hostile CASCADE;
SELECT chapter_id, translated_content FROM textbook.user_chapter_translations ORDER BY chapter_id;

-- the row a function returns follows the table's row type, also after a
-- column was dropped and added again (the row type keeps a dropped slot)
ALTER TABLE textbook.user_chapter_translations DROP COLUMN original_content;
ALTER TABLE textbook.user_chapter_translations ADD COLUMN original_content text NOT NULL DEFAULT '';
SELECT chapter_id, translated_content, original_content
FROM textbook.upsert_translation(1, 'live2', 'fr', 'after the change', 'still right');
SELECT chapter_id, translated_content, original_content, expires_at > now() AS live
FROM textbook.get_translation(1, 'live2', 'fr');
ALTER TABLE textbook.user_chapter_translations DROP COLUMN created_at;
SELECT chapter_id, translated_content FROM textbook.get_translation(1, 'live2', 'fr');
SELECT (textbook.upsert_translation(1, 'live2', 'fr', 'o', 'again')).translated_content;
