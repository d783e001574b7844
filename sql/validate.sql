-- The value rules, each with passing and failing input and its SQLSTATE.
\i test/helpers.sql

-- Language tags: canonical case, deprecated codes, ISO 639-2/3, scripts,
-- regions, UN M.49 areas, variants and extlangs.
SELECT tag, textbook.canonical_language(tag) FROM unnest(ARRAY[
    'en', 'EN', 'pt-br', 'PT-BR', 'ZH-hant-tw', 'zh-Hans', 'sr-latn-rs', 'es-419',
    'iw', 'in', 'ji', 'mo', 'fra', 'deu', 'fre', 'ger', 'eng-US', 'yue',
    'ast', 'gsw-CH', 'de-DE-1996', 'sl-rozaj-biske', 'en-BU', 'qaa', 'und', 'ar-MA',
    'ja-JP', 'fr-FR', 'nb-NO', 'zh-CN', 'fil', 'haw-US', 'en-001']) AS tag;
SELECT textbook.canonical_language(NULL);

-- each error names the bad subtag; SQLSTATE 22023
SELECT tag, pg_temp.fails(format('SELECT textbook.canonical_language(%L)', tag))
FROM unnest(ARRAY[
    'xx', 'en-QQ', 'zh-Abcd', 'es-999', 'pt_BR', '', 'en--US', 'en-US-', 'english',
    'x-klingon', 'i-klingon', 'en-US-u-co-phonebk', 'de-1996-1996', 'en-US-GB',
    'zh-xyz', 'zh-yue', 'de-eng', 'en-' || repeat('abcdefgh-', 8), 'fr-FR' || chr(10), 'fr FR', 'ja-JP-'
    || 'toolongvariant']) AS tag;

-- Stored canonical, by INSERT or UPDATE from any client
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('vera', 'vera@example.org', '$2b$12$' || repeat('v', 53));
INSERT INTO textbook.user_profiles (user_id, preferred_language)
SELECT id, 'pt-br' FROM textbook.users WHERE username = 'vera'
RETURNING preferred_language;
UPDATE textbook.user_profiles SET preferred_language = 'ZH-hant-tw' RETURNING preferred_language;
UPDATE textbook.user_profiles SET preferred_language = 'iw' RETURNING preferred_language;
SELECT pg_temp.fails($$UPDATE textbook.user_profiles SET preferred_language = 'en-QQ'$$);
INSERT INTO textbook.user_chapter_translations (user_id, chapter_id, target_language, original_content, translated_content)
SELECT id, 'apt', 'FR-fr', 'a', 'b' FROM textbook.users WHERE username = 'vera'
RETURNING target_language;
SELECT pg_temp.fails($$UPDATE textbook.user_chapter_translations SET target_language = 'fr-XX'$$);
-- one language, one row: 'fr-fr' is the same key as 'FR-fr'
SELECT pg_temp.fails($$
    INSERT INTO textbook.user_chapter_translations (user_id, chapter_id, target_language, original_content, translated_content)
    SELECT id, 'apt', 'fr-fr', 'a', 'b' FROM textbook.users WHERE username = 'vera'$$);
-- the CHECK refuses a non-canonical value even when the trigger is bypassed
SET session_replication_role = replica;
SELECT pg_temp.fails($$UPDATE textbook.user_profiles SET preferred_language = 'pt-br'$$);
RESET session_replication_role;
SELECT preferred_language FROM textbook.user_profiles;

-- usernames: 3 to 64 ASCII letters, digits, _ . -; unique regardless of case
SELECT textbook.check_username(u) FROM unnest(ARRAY['abc', 'Jo_Do.e-1', repeat('x', 64)]) u;
SELECT u, pg_temp.fails(format('SELECT textbook.check_username(%L)', u))
FROM unnest(ARRAY['ab', repeat('x', 65), 'has space', 'émile', 'semi;colon']) u;
SELECT pg_temp.fails($$INSERT INTO textbook.users (username, email, password_hash)
                       VALUES ('x', 'x@example.org', '$2b$12$' || repeat('v', 53))$$);
SELECT pg_temp.fails($$INSERT INTO textbook.users (username, email, password_hash)
                       VALUES ('VERA', 'vera2@example.org', '$2b$12$' || repeat('v', 53))$$);

-- email: a plausible address; unique regardless of case
SELECT textbook.check_email(e) FROM unnest(ARRAY[
    'a@b.co', 'first.last+tag@mail.example.org', 'x@sub-domain.example', 'ü@bücher.de']) e;
SELECT e, pg_temp.fails(format('SELECT textbook.check_email(%L)', e))
FROM unnest(ARRAY[
    'no-at-sign.example.org', 'two@@example.org', 'a@b@example.org', 'has space@example.org',
    'nodot@localhost', '@example.org', 'a@example..org', 'a@-example.org', '.a@example.org',
    'a@exa_mple.org', repeat('a', 65) || '@example.org', 'a@' || repeat('b', 64) || '.org',
    'a@example.org.', 'tab' || chr(9) || '@example.org']) e;
-- a huge rejected value is shown cut short, not echoed whole
SELECT length(pg_temp.fails(format('SELECT textbook.check_email(%L)', repeat('x', 1000000)))) < 200 AS short;
SELECT pg_temp.fails(format('SELECT textbook.check_username(%L)', repeat('é', 70)));
SELECT pg_temp.fails($$INSERT INTO textbook.users (username, email, password_hash)
                       VALUES ('vera2', 'VERA@Example.ORG', '$2b$12$' || repeat('v', 53))$$);
SELECT pg_temp.fails($$INSERT INTO textbook.users (username, email, password_hash)
                       VALUES ('vera3', 'vera at example', '$2b$12$' || repeat('v', 53))$$);

-- password hashes: bcrypt, Argon2, scrypt, PBKDF2 (PHC and Django formats)
SELECT left(h, 24) AS hash, textbook.check_password_hash(h) FROM unnest(ARRAY[
    '$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy',
    '$2b$12$' || repeat('A', 53),
    '$2y$04$' || repeat('.', 53),
    '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG',
    '$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A',
    '$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E',
    '$pbkdf2-sha256$29000$N2YuJ.SWsjbmXOTTpxN.Ug$wbr.SGIVPjIkCUN2ab8QxE3P5QYPXZKZoLWGAl.RvDc',
    '$pbkdf2-sha512$i=100000,l=64$c2FsdHNhbHQ$' || repeat('B', 86),
    'pbkdf2_sha256$600000$kc6eaBL0pUNOGBNxp6JkjE$0bs/k2hkSzM8v9j2yJfX2wW7i7pXIX7IhN4E8k8N4D4=',
    'pbkdf2_sha1$260000$salt1234$YWJjZGVmZ2hpamtsbW5vcA==',
    'scrypt$16384$salt1234$8$1$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=',
    'argon2$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG',
    'bcrypt_sha256$$2b$12$' || repeat('C', 53)]) h;
-- plaintext and malformed values are refused with a hint; the value is never echoed
SELECT pg_temp.fails(format('SELECT textbook.check_password_hash(%L)', h))
FROM unnest(ARRAY[
    'hunter2', 'correct horse battery staple', '$2b$12$tooshort', '$2b$99$' || repeat('A', 53),
    '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ', '$md5$salt$hash1234567890123456',
    '5f4dcc3b5aa765d61d8327deb882cf99', 'pbkdf2_sha256$many$salt$hash',
    '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG$extra']) h;
SELECT pg_temp.fails($$INSERT INTO textbook.users (username, email, password_hash)
                       VALUES ('plain', 'plain@example.org', 'Secret123!')$$);
SELECT pg_temp.fails($$UPDATE textbook.users SET password_hash = 'Secret123!' WHERE username = 'vera'$$);

-- accessibility options: known keys with typed, bounded values
UPDATE textbook.user_profiles SET accessibility_options =
    '{"high_contrast": true, "dyslexia_font": false, "reduce_motion": true, "screen_reader": false,
      "captions": true, "line_height": 1.5, "text_to_speech_rate": 2.0}'
RETURNING accessibility_options;
UPDATE textbook.user_profiles SET accessibility_options = '{}' RETURNING accessibility_options;
UPDATE textbook.user_profiles SET accessibility_options = '{"line_height": 3, "text_to_speech_rate": 0.5}'
RETURNING accessibility_options;
SELECT o, pg_temp.fails(format('UPDATE textbook.user_profiles SET accessibility_options = %L', o))
FROM unnest(ARRAY[
    '{"font_colour": "red"}', '{"high_contrast": "yes"}', '{"line_height": 3.5}',
    '{"line_height": 0.9}', '{"text_to_speech_rate": "fast"}', '{"text_to_speech_rate": 0.4}',
    '[true]', '"high_contrast"', '{"reduce_motion": null}', '{"captions": {"on": true}}',
    '{"line_height": 1e400}', '{"line_height": -1e400}']) o;
-- theme and font size
UPDATE textbook.user_profiles SET theme_preference = 'sepia', font_size = 48 RETURNING theme_preference, font_size;
UPDATE textbook.user_profiles SET font_size = 8 RETURNING font_size;
SELECT pg_temp.fails($$UPDATE textbook.user_profiles SET theme_preference = 'neon'$$);
SELECT pg_temp.fails($$UPDATE textbook.user_profiles SET font_size = 7$$);
SELECT pg_temp.fails($$UPDATE textbook.user_profiles SET font_size = 49$$);

-- chapter_id, section_id, current_section: 1-200 characters, no control characters
SELECT textbook.check_ref(r, 'chapter_id') FROM unnest(ARRAY['a', 'sect.apt-get', repeat('é', 200), 'with space']) r;
SELECT pg_temp.fails(format('SELECT textbook.check_ref(%L, %L)', r, 'section_id'))
FROM unnest(ARRAY['', repeat('a', 201), 'tab' || chr(9) || 'here', 'del' || chr(127), 'c1' || chr(133)]) r;
-- the column name goes into the message: a name, not any text (22023)
SELECT textbook.check_ref('a', repeat('c', 63)), textbook.check_language_tag('fr', 'my_language');
SELECT pg_temp.fails(format('SELECT textbook.check_ref(%L, %L)', 'a', c)),
       pg_temp.fails(format('SELECT textbook.check_language_tag(%L, %L)', 'fr', c))
FROM unnest(ARRAY['', repeat('c', 64), repeat('c', 1000000), 'x' || chr(10) || 'LOG:  forged']) c;
SELECT pg_temp.fails($$INSERT INTO textbook.documents (chapter_id, title, content) VALUES ('', 't', 'c')$$);
SELECT pg_temp.fails($$INSERT INTO textbook.user_bookmarks (user_id, chapter_id, section_id)
                       SELECT id, 'apt', 'line' || chr(10) || 'break' FROM textbook.users$$);
SELECT pg_temp.fails($$INSERT INTO textbook.user_reading_progress (user_id, chapter_id, current_section)
                       SELECT id, 'apt', repeat('s', 201) FROM textbook.users$$);
SELECT pg_temp.fails($$UPDATE textbook.user_chapter_translations SET chapter_id = 'a' || chr(159) || 'b'$$);

-- ranges: completion 0-100, minutes >= 0, confidence scores 0-1, non-empty question
SELECT pg_temp.fails(s) FROM unnest(ARRAY[
    $$INSERT INTO textbook.user_reading_progress (user_id, chapter_id, completion_percentage) SELECT id, 'apt', 100.5 FROM textbook.users$$,
    $$INSERT INTO textbook.user_reading_progress (user_id, chapter_id, completion_percentage) SELECT id, 'apt', -1 FROM textbook.users$$,
    $$INSERT INTO textbook.user_reading_progress (user_id, chapter_id, study_time_minutes) SELECT id, 'apt', -5 FROM textbook.users$$,
    $$UPDATE textbook.user_chapter_translations SET confidence_score = 1.01$$,
    $$UPDATE textbook.user_chapter_translations SET confidence_score = -0.01$$,
    $$INSERT INTO textbook.conversations (user_id, question, answer, confidence_score) SELECT id, 'q', 'a', 2 FROM textbook.users$$,
    $$INSERT INTO textbook.conversations (user_id, question, answer) SELECT id, '', 'a' FROM textbook.users$$,
    $$INSERT INTO textbook.documents (chapter_id, title, content, doc_metadata) VALUES ('apt', 't', 'c', '[1]')$$]) s;
UPDATE textbook.user_chapter_translations SET confidence_score = 1 RETURNING confidence_score;
INSERT INTO textbook.user_reading_progress (user_id, chapter_id, completion_percentage, study_time_minutes)
SELECT id, 'apt', 100, 0 FROM textbook.users RETURNING completion_percentage, study_time_minutes;

-- nothing of a failed statement was written
SELECT (SELECT count(*) FROM textbook.users) AS users,
       (SELECT count(*) FROM textbook.user_reading_progress) AS progress,
       (SELECT count(*) FROM textbook.conversations) AS conversations,
       (SELECT count(*) FROM textbook.documents) AS documents,
       (SELECT count(*) FROM textbook.user_bookmarks) AS bookmarks;

-- the errors of the CHECK functions carry the schema, table, column and
-- constraint names, as PostgreSQL's own constraint errors do
CREATE FUNCTION pg_temp.diag(statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE s text; t text; c text; k text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = SCHEMA_NAME, t = TABLE_NAME, c = COLUMN_NAME, k = CONSTRAINT_NAME;
    RETURN concat_ws(' ', s, t, c, k);
END $$;
SELECT pg_temp.diag(s) FROM unnest(ARRAY[
    $$INSERT INTO textbook.users (username, email, password_hash) VALUES ('x', 'x@example.org', '$2b$12$' || repeat('v', 53))$$,
    $$INSERT INTO textbook.users (username, email, password_hash) VALUES ('xyz', 'x@', '$2b$12$' || repeat('v', 53))$$,
    $$INSERT INTO textbook.users (username, email, password_hash) VALUES ('xyz', 'x@example.org', 'plaintext')$$,
    $$UPDATE textbook.user_profiles SET accessibility_options = '{"zoom": 2}'$$,
    $$INSERT INTO textbook.documents (chapter_id, title, content) VALUES ('', 't', 'c')$$,
    $$UPDATE textbook.user_profiles SET theme_preference = 'neon'$$]) s;
