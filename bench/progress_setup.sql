-- progress: a book of 200 chapters (3 to 7 short documents each, ~5 on
-- average, inserted chapter by chapter so that reading order ch-1, ch-2,
-- ... differs from text order ch-1, ch-10, ch-100, ...) and ~1M progress
-- rows: users x 200 chapters with about half of the pairs skipped.
-- Two edge cases keep the result comparison honest without changing the
-- load: a chapter with documents that nobody has read (ch-201), and 50
-- progress rows for a chapter that has no documents (appendix-old).
-- psql variables: users.

INSERT INTO textbook.users (username, email, password_hash)
SELECT 'reader' || i, 'reader' || i || '@example.org', '$2b$12$' || repeat('x', 53)
  FROM generate_series(1, :users + 1) i;   -- the last one has no progress at all

INSERT INTO textbook.documents (chapter_id, title, content)
SELECT 'ch-' || c, format('Chapter %s, part %s', c, d),
       repeat(format('Text of chapter %s, part %s. ', c, d), 8)
  FROM generate_series(1, 201) c, generate_series(1, 3 + c % 5) d
 ORDER BY c, d;

-- Rows arrive in random order, as progress does from many readers, so one
-- user's rows are spread over the table rather than packed on two pages.
-- The rows are valid by construction: skip the foreign-key triggers.
SET session_replication_role = replica;
INSERT INTO textbook.user_reading_progress
       (user_id, chapter_id, current_section, completion_percentage,
        study_time_minutes, last_read_at)
SELECT u, 'ch-' || c, 'sec-' || (1 + (random() * 9)::int),
       CASE WHEN random() < 0.3 THEN 100 ELSE round((random() * 100)::numeric, 2) END,
       (random() * 600)::int,
       now() - random() * interval '365 days'
  FROM generate_series(1, :users) u, generate_series(1, 200) c
 WHERE random() < 0.5
 ORDER BY random();
INSERT INTO textbook.user_reading_progress
       (user_id, chapter_id, current_section, completion_percentage,
        study_time_minutes, last_read_at)
SELECT u, 'appendix-old', 'sec-1', 40, 12, now() - interval '400 days'
  FROM generate_series(1, 50) u;
RESET session_replication_role;

VACUUM ANALYZE;
