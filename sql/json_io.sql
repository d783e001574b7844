-- JSON in and out: import_documents, export_user_data, log_conversation,
-- conversation_history; hostile JSON; memory.
\i test/helpers.sql

-- import: documents in input order; several per chapter
SELECT textbook.import_documents($$[
  {"chapter_id": "apt", "title": "6. APT", "content": "APT manages packages.", "metadata": {"page": "apt.html", "position": 0}},
  {"chapter_id": "apt", "title": "6.2 apt-get", "content": "apt-get installs.", "metadata": {"page": "sect.apt-get.html", "position": 1}},
  {"chapter_id": "intro", "title": "1. Intro", "content": "Welcome \u00e0 Debian \ud83d\ude00."}
]$$);
SELECT id, chapter_id, title, content, doc_metadata FROM textbook.documents ORDER BY id;
CREATE TEMP TABLE before AS SELECT id, xmin::text AS version FROM textbook.documents;
-- importing the same file again changes nothing, not even row versions
SELECT textbook.import_documents($$[
  {"chapter_id": "apt", "title": "6. APT", "content": "APT manages packages.", "metadata": {"page": "apt.html", "position": 0}},
  {"chapter_id": "apt", "title": "6.2 apt-get", "content": "apt-get installs.", "metadata": {"position": 1, "page": "sect.apt-get.html"}},
  {"chapter_id": "intro", "title": "1. Intro", "content": "Welcome \u00e0 Debian \ud83d\ude00."}
]$$);
SELECT count(*) AS unchanged FROM textbook.documents d JOIN before b ON b.id = d.id AND b.version = d.xmin::text;
-- a chapter in the input replaces that chapter's documents; other chapters stay
SELECT textbook.import_documents($$[
  {"chapter_id": "apt", "title": "6. APT (2nd edition)", "content": "APT, revised."}
]$$);
SELECT id, chapter_id, title, doc_metadata FROM textbook.documents ORDER BY id;
SELECT textbook.import_documents('[]');
SELECT textbook.import_documents(' [ ] ');
SELECT count(*) FROM textbook.documents;

-- bad documents: the error names the element and the key; nothing is imported
SELECT pg_temp.fails(format('SELECT textbook.import_documents(%L)', j)) FROM unnest(ARRAY[
  '{"chapter_id": "x", "title": "t", "content": "c"}',
  '"just a string"',
  '[{"chapter_id": "ok", "title": "t", "content": "c"}, 42]',
  '[{"chapter_id": "ok", "title": "t", "content": "c"}, {"title": "t", "content": "c"}]',
  '[{"chapter_id": "x", "content": "c"}]',
  '[{"chapter_id": "x", "title": "t"}]',
  '[{"chapter_id": 7, "title": "t", "content": "c"}]',
  '[{"chapter_id": "x", "title": ["t"], "content": "c"}]',
  '[{"chapter_id": "x", "title": "t", "content": null}]',
  '[{"chapter_id": "", "title": "t", "content": "c"}]',
  '[{"chapter_id": "a\nb", "title": "t", "content": "c"}]',
  '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": [1]}]',
  '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": "m"}]',
  '[{"chapter_id": "x", "title": "t", "content": "c", "metadta": {}}]',
  '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"n": 18446744073709551616}}]',
  '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"n": [-9223372036854775809]}}]']) j;
SELECT count(*) FROM textbook.documents;
-- JSON that is valid but not what import_documents takes, or that jsonb
-- cannot hold; long keys are shown cut short
SELECT pg_temp.fails(format('SELECT textbook.import_documents(%L)', j)) FROM unnest(ARRAY[
  'null', '{}', '42',
  '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"n": 1e999999}}]',
  '[{"chapter_id": "x", "title": "t", "content": "c", "' || repeat('k', 1000) || '": 1}]']) j;

-- many chapters in one call: grouped in one sorted pass, not chapter by document
SELECT textbook.import_documents((
    SELECT json_agg(json_build_object('chapter_id', 'many-' || i, 'title', 't', 'content', 'c'))::text
    FROM generate_series(1, 20000) i));
SELECT count(*) FROM textbook.documents WHERE chapter_id LIKE 'many-%';
DELETE FROM textbook.documents WHERE chapter_id LIKE 'many-%';

-- Hostile JSON: whatever PostgreSQL's parser rejects is rejected, with
-- where it went wrong; json-c's leniencies never get through.  After each
-- error the next statement works.
CREATE TEMP TABLE hostile (label text, input text);
INSERT INTO hostile VALUES
  ('NaN', '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"v": NaN}}]'),
  ('Infinity', '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"v": -Infinity}}]'),
  ('leading zero', '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"v": 007}}]'),
  ('hex number', '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"v": 0x10}}]'),
  ('plus sign', '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"v": +1}}]'),
  ('bare fraction', '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"v": .5}}]'),
  ('single quotes', $$[{'chapter_id': 'x', 'title': 't', 'content': 'c'}]$$),
  ('unquoted key', '[{chapter_id: "x", "title": "t", "content": "c"}]'),
  ('raw control character', E'[{"chapter_id": "x", "title": "t", "content": "tab\there"}]'),
  ('raw newline', E'[{"chapter_id": "x", "title": "t", "content": "line\nbreak"}]'),
  ('escaped NUL', '[{"chapter_id": "x", "title": "t", "content": "a\u0000b"}]'),
  ('escaped NUL in key', '[{"chapter_id\u0000": "x", "title": "t", "content": "c"}]'),
  ('lone high surrogate', '[{"chapter_id": "x", "title": "t", "content": "\ud800"}]'),
  ('lone low surrogate', '[{"chapter_id": "x", "title": "t", "content": "\udc00x"}]'),
  ('bad escape', '[{"chapter_id": "x", "title": "t", "content": "\q"}]'),
  ('short unicode escape', '[{"chapter_id": "x", "title": "t", "content": "\u12"}]'),
  ('truncated', '[{"chapter_id": "x", "title": "t", "content": "c"'),
  ('truncated string', '[{"chapter_id": "x", "title": "t", "content": "c'),
  ('trailing garbage', '[{"chapter_id": "x", "title": "t", "content": "c"}] trailing'),
  ('two documents', '[] []'),
  ('extra bracket', '[]]'),
  ('trailing comma', '[{"chapter_id": "x", "title": "t", "content": "c",}]'),
  ('trailing comma in array', '[{"chapter_id": "x", "title": "t", "content": "c"},]'),
  ('comment', '[/* c */]'),
  ('empty', ''),
  ('blank', '   '),
  ('true literal case', '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": {"v": True}}]'),
  ('deep nesting', repeat('[', 100000) || repeat(']', 100000)),
  ('deep metadata', '[{"chapter_id": "x", "title": "t", "content": "c", "metadata": ' || repeat('{"a":', 40) || '1' || repeat('}', 40) || '}]');
SELECT label, pg_temp.fails(format('SELECT textbook.import_documents(%L)', input)) FROM hostile;
SELECT count(*) AS still_works FROM textbook.documents;

-- Whatever PostgreSQL's jsonb input refuses as a syntax error,
-- import_documents refuses as one too (22P02), and it refuses nothing
-- PostgreSQL accepts: checked on random mutations of a small document.
CREATE FUNCTION pg_temp.mutate(base text, edits int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    pieces text[] := ARRAY['[', ']', '{', '}', '"', ':', ',', '\', ' ', E'\t', E'\n', '0', '1', '9',
                           '-', '+', '.', 'e', 'E', 'N', 'I', 'a', 't', 'f', 'n', 'u', 'x', '''',
                           '\u', '\u0000', '\ud800', '\udc00', '\ud83d\ude00', '00', '1.', 'NaN',
                           'true', 'null', '/*', chr(127), 'é', '\/'];
    s text := base;
    pos int;
BEGIN
    FOR k IN 1..edits LOOP
        pos := 1 + floor(random() * (length(s) + 1))::int;
        CASE floor(random() * 3)::int
            WHEN 0 THEN s := overlay(s PLACING pieces[1 + floor(random() * array_length(pieces, 1))::int] FROM pos FOR 0);
            WHEN 1 THEN s := overlay(s PLACING '' FROM pos FOR 1);
            ELSE s := overlay(s PLACING pieces[1 + floor(random() * array_length(pieces, 1))::int] FROM pos FOR 1);
        END CASE;
    END LOOP;
    RETURN s;
END $$;
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SELECT setseed(0.7);
BEGIN;
CREATE TEMP TABLE fuzz AS
SELECT input,
       pg_temp.sqlstate_of(format('SELECT %L::jsonb', input)) AS postgres,
       pg_temp.sqlstate_of(format('SELECT textbook.import_documents(%L)', input)) AS ours
FROM (SELECT pg_temp.mutate(
        '[{"chapter_id": "c1", "title": "T\u00e9", "content": "a\"b\\c", "metadata": {"n": [1, -2.5e3, true, null]}}]',
        1 + (i % 3)) AS input
      FROM generate_series(1, 3000) i) m;
SELECT count(*) AS inputs,
       count(*) FILTER (WHERE postgres IN ('22P02', '22P05')) > 1000 AS many_invalid,
       count(*) FILTER (WHERE postgres = 'ok') > 300 AS many_valid,
       count(*) FILTER (WHERE postgres IN ('22P02', '22P05') AND ours <> '22P02') AS postgres_refused_we_took,
       count(*) FILTER (WHERE postgres = 'ok' AND ours = '22P02') AS we_refused_valid_json
FROM fuzz;
SELECT input, postgres, ours FROM fuzz
WHERE (postgres IN ('22P02', '22P05') AND ours <> '22P02') OR (postgres = 'ok' AND ours = '22P02')
LIMIT 5;
ROLLBACK;
SELECT pg_temp.fails($$SELECT textbook.import_documents(NULL)$$);
-- over the size limit: refused before any parsing
SELECT pg_temp.fails($$SELECT textbook.import_documents(repeat(' ', 64 * 1024 * 1024) || '[]')$$);
-- just under it is parsed
SELECT textbook.import_documents(repeat(' ', 64 * 1024 * 1024 - 2) || '[]');

-- Memory: importing the same large files many times does not grow the
-- backend; json-c's malloc'ed trees are freed on success and on error.
CREATE TEMP TABLE big AS
SELECT v, (SELECT json_agg(json_build_object(
              'chapter_id', 'big-' || (i % 10), 'title', 'Part ' || i,
              'content', repeat('Lorem ipsum dolor sit amet ' || v || ' ', 700),
              'metadata', json_build_object('i', i, 'tags', json_build_array('a', 'b'))))::text
           FROM generate_series(1, 100) i) AS input
FROM generate_series(1, 2) v;
SELECT v, length(input) > 1500000 AS over_1_5_mb FROM big ORDER BY v;
CREATE FUNCTION pg_temp.rss_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT substring(pg_read_file('/proc/self/status') FROM 'VmRSS:\s+(\d+)')::bigint $$;
CREATE FUNCTION pg_temp.import_many(n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE total bigint := 0;
BEGIN
    FOR i IN 1..n LOOP
        total := total + textbook.import_documents((SELECT input FROM big WHERE v = 1 + i % 2));
        BEGIN   -- and an error after json-c has built the whole tree
            PERFORM textbook.import_documents((SELECT rtrim(input, ']') || ', {"chapter_id": 1}]' FROM big WHERE v = 1));
        EXCEPTION WHEN invalid_parameter_value THEN NULL;
        END;
    END LOOP;
    RETURN total;
END $$;
SELECT pg_temp.import_many(4);
CREATE TEMP TABLE rss AS SELECT pg_temp.rss_kb() AS warm;
SELECT pg_temp.import_many(20);
SELECT CASE WHEN pg_temp.rss_kb() - warm < 8192 THEN 'flat' ELSE 'grew by ' || (pg_temp.rss_kb() - warm) || ' kB' END AS memory
FROM rss;
SELECT count(*), count(DISTINCT chapter_id) FROM textbook.documents WHERE chapter_id LIKE 'big-%';

-- Conversations
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('cleo', 'cleo@example.org', '$2b$12$' || repeat('c', 53)),
       ('dan', 'dan@example.org', '$2b$12$' || repeat('d', 53)),
       ('eve', 'eve@example.org', '$2b$12$' || repeat('e', 53));
SELECT textbook.log_conversation(1, 'What does apt-get do?', 'It installs packages.',
    '{"sources": [{"chapter_id": "apt", "section_id": "sect.apt-get", "document_id": 2, "score": 0.91},
                  {"chapter_id": "intro", "score": 0}], "model": "demo"}', 0.87);
SELECT textbook.log_conversation(1, 'And apt?', 'A newer front end.');
SELECT textbook.log_conversation(1, 'Third?', 'Yes.', NULL, 1);
SELECT id, user_id, question, answer, context, confidence_score
FROM textbook.conversations ORDER BY id;
SELECT pg_temp.fails(s) FROM unnest(ARRAY[
    $$SELECT textbook.log_conversation(1, 'q', 'a', '[]')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '"text"')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": {}}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": ["apt"]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"section_id": "s"}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": 5}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": ""}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": "apt", "score": 1.5}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": "apt", "score": "high"}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": "apt", "document_id": 2.5}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": "apt", "document_id": -1}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": "apt"}, {"chapter_id": "apt", "url": "x"}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": "apt", "score": 1e400}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{"sources": [{"chapter_id": "apt", "document_id": 1e400}]}')$$,
    $$SELECT textbook.log_conversation(1, 'q', 'a', '{}', 1.1)$$,
    $$SELECT textbook.log_conversation(NULL, 'q', 'a')$$,
    $$SELECT textbook.log_conversation(1, NULL, 'a')$$,
    $$SELECT textbook.log_conversation(1, 'q', NULL)$$,
    $$SELECT textbook.log_conversation(1, '', 'a')$$,
    $$SELECT textbook.log_conversation(77, 'q', 'a')$$,
    $$INSERT INTO textbook.conversations (user_id, question, answer, context) VALUES (1, 'q', 'a', '{"sources": [{"score": 0.5}]}')$$]) s;
SELECT count(*) FROM textbook.conversations;
-- a score of 1e-400 is a number from 0 to 1
SELECT textbook.log_conversation(2, 'tiny?', 'yes', '{"sources": [{"chapter_id": "apt", "score": 1e-400}]}') > 0;
DELETE FROM textbook.conversations WHERE question = 'tiny?';

-- history: newest first, keyset pagination
SELECT textbook.log_conversation(2, 'q' || i, 'a' || i) FROM generate_series(1, 5) i;
SELECT id, question FROM textbook.conversation_history(2);
SELECT id, question FROM textbook.conversation_history(2, 2);
SELECT id, question FROM textbook.conversation_history(2, 2, 7);
SELECT id, question FROM textbook.conversation_history(2, 2, 5);
SELECT count(*) FROM textbook.conversation_history(2, 10, 4);
SELECT pg_temp.fails(s) FROM unnest(ARRAY[
    $$SELECT * FROM textbook.conversation_history(2, 0)$$,
    $$SELECT * FROM textbook.conversation_history(2, 10001)$$,
    $$SELECT * FROM textbook.conversation_history(2, NULL)$$,
    $$SELECT * FROM textbook.conversation_history(NULL)$$,
    $$SELECT * FROM textbook.conversation_history(404)$$]) s;

-- export: everything about one user, without the password hash
INSERT INTO textbook.user_profiles (user_id, preferred_language, accessibility_options)
VALUES (1, 'fr-fr', '{"dyslexia_font": true}');
SELECT textbook.record_progress(1, 'apt', 'sect.apt-get', 60, 20) IS NOT NULL;
INSERT INTO textbook.user_bookmarks (user_id, chapter_id, section_id, note) VALUES (1, 'apt', 'sect.apt-get', 'try this');
SELECT textbook.upsert_translation(1, 'apt', 'fr', 'APT', 'APT (fr)', 0.5) IS NOT NULL;
CREATE TEMP TABLE export AS SELECT textbook.export_user_data(1) AS doc;
SELECT jsonb_object_keys(doc) FROM export ORDER BY 1;
SELECT doc -> 'user' ? 'password_hash' AS has_password_hash,
       doc #>> '{user,username}' AS username,
       doc #>> '{profile,preferred_language}' AS language,
       doc #> '{profile,accessibility_options}' AS accessibility,
       jsonb_array_length(doc -> 'reading_progress') AS progress,
       jsonb_array_length(doc -> 'bookmarks') AS bookmarks,
       jsonb_array_length(doc -> 'translations') AS translations,
       jsonb_array_length(doc -> 'conversations') AS conversations,
       doc #>> '{conversations,0,context,sources,0,chapter_id}' AS first_source
FROM export;
-- a user with nothing yet: empty arrays and a null profile
SELECT doc - 'exported_at' - 'user' FROM (SELECT textbook.export_user_data(3) AS doc) d;
SELECT pg_temp.fails($$SELECT textbook.export_user_data(404)$$);
SELECT pg_temp.fails($$SELECT textbook.export_user_data(NULL)$$);

-- the caller's search_path cannot change what import_documents runs: under
-- REPEATABLE READ it builds a text from a count and an id, and a text ||
-- bigint operator of the caller's (pg_catalog has none) must not be called
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.cat(text, bigint) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'hostile operator called'; END $$;
CREATE OPERATOR hostile.|| (LEFTARG = text, RIGHTARG = bigint, FUNCTION = hostile.cat);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SET LOCAL search_path = hostile, pg_catalog, public;
SELECT textbook.import_documents('[{"chapter_id": "hostile-path", "title": "t", "content": "c"}]');
COMMIT;
DROP SCHEMA hostile CASCADE;
SELECT chapter_id, title FROM textbook.documents WHERE chapter_id = 'hostile-path';
