-- Reading progress: record, reset, per-user summary, per-chapter totals.
\i test/helpers.sql
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('rita', 'rita@example.org', '$2b$12$' || repeat('r', 53)),
       ('sam', 'sam@example.org', '$2b$12$' || repeat('s', 53)),
       ('ugo', 'ugo@example.org', '$2b$12$' || repeat('u', 53));
-- a book of three chapters, in reading order intro, apt, security
INSERT INTO textbook.documents (chapter_id, title, content) VALUES
    ('intro', 'Introduction', 'Welcome.'),
    ('apt', 'APT', 'apt-get and friends.'),
    ('apt', 'apt-cache', 'Searching packages.'),
    ('security', 'Security', 'Firewalls.');

-- a user with no progress gets zeros, not no row
SELECT * FROM textbook.progress_summary(3);

-- record: completion only grows, minutes add up, the section follows the reader
SELECT user_id, chapter_id, current_section, completion_percentage, study_time_minutes,
       last_read_at = now() AS read_now
FROM textbook.record_progress(1, 'apt', 'sect.apt-get', 40, 10);
SELECT current_section, completion_percentage, study_time_minutes
FROM textbook.record_progress(1, 'apt', 'sect.apt-cache', 75.5, 5);
-- re-reading an earlier section never lowers the completion
SELECT current_section, completion_percentage, study_time_minutes
FROM textbook.record_progress(1, 'apt', 'sect.apt-get', 20);
SELECT count(*) FROM textbook.user_reading_progress WHERE user_id = 1 AND chapter_id = 'apt';
SELECT completion_percentage FROM textbook.record_progress(1, 'intro', 'intro', 100, 3);
SELECT completion_percentage FROM textbook.record_progress(1, 'appendix', 'app-a', 50, 1);
SELECT completion_percentage FROM textbook.record_progress(2, 'security', 'firewall', 33.333, 12);

-- the summary: 3 chapters; rita started 3 (one outside the book), completed 1;
-- overall = (75.5 + 100) / 3 over the book's chapters
SELECT chapters_total, chapters_started, chapters_completed, overall_completion,
       total_study_minutes, last_read_at IS NOT NULL AS has_read, last_chapter_id, last_section_id
FROM textbook.progress_summary(1);
SELECT chapters_total, chapters_started, chapters_completed, overall_completion,
       total_study_minutes, last_read_at = (SELECT max(last_read_at) FROM textbook.user_reading_progress
                                            WHERE user_id = 2) AS latest, last_chapter_id, last_section_id
FROM textbook.progress_summary(2);

-- per chapter: the book in reading order, unread chapters with zeros, then
-- chapters with progress but no documents
SELECT chapter_id, readers, completed_readers, avg_completion, total_study_minutes,
       last_read_at IS NOT NULL AS has_read
FROM textbook.chapter_progress();

-- reset one chapter, then everything of a user
SELECT textbook.reset_progress(1, 'intro');
SELECT textbook.reset_progress(1, 'intro');
SELECT textbook.reset_progress(1);
SELECT chapters_started, overall_completion, last_chapter_id FROM textbook.progress_summary(1);

-- bad input: a clear error and nothing written
SELECT count(*) AS rows_before FROM textbook.user_reading_progress;
SELECT pg_temp.fails(s) FROM unnest(ARRAY[
    $$SELECT textbook.record_progress(1, 'apt', 's', 100.01)$$,
    $$SELECT textbook.record_progress(1, 'apt', 's', -0.5)$$,
    $$SELECT textbook.record_progress(1, 'apt', 's', 1e100)$$,
    $$SELECT textbook.record_progress(1, 'apt', 's', 'NaN')$$,
    $$SELECT textbook.record_progress(1, 'apt', 's', 10, -1)$$,
    $$SELECT textbook.record_progress(1, 'apt', 's', 10, 1441)$$,
    $$SELECT textbook.record_progress(NULL, 'apt', 's', 10)$$,
    $$SELECT textbook.record_progress(1, NULL, 's', 10)$$,
    $$SELECT textbook.record_progress(1, 'apt', NULL, 10)$$,
    $$SELECT textbook.record_progress(1, 'apt', 's', NULL)$$,
    $$SELECT textbook.record_progress(1, 'apt', 's', 10, NULL)$$,
    $$SELECT textbook.record_progress(99, 'apt', 's', 10)$$,
    $$SELECT textbook.record_progress(1, '', 's', 10)$$,
    $$SELECT textbook.record_progress(1, 'apt', repeat('s', 201), 10)$$,
    $$SELECT textbook.reset_progress(NULL)$$,
    $$SELECT * FROM textbook.progress_summary(NULL)$$,
    $$SELECT * FROM textbook.progress_summary(99)$$]) s;
SELECT count(*) AS rows_after FROM textbook.user_reading_progress;
-- 1440 minutes in one call is the most
SELECT study_time_minutes FROM textbook.record_progress(3, 'apt', 's', 0, 1440);

-- The aggregates equal what plain SQL computes, on random data.
SELECT setseed(0.42);
TRUNCATE textbook.documents;
DELETE FROM textbook.users;
INSERT INTO textbook.users (username, email, password_hash)
SELECT 'reader' || i, 'reader' || i || '@example.org', '$2b$12$' || repeat('x', 53)
FROM generate_series(1, 300) i;
INSERT INTO textbook.documents (chapter_id, title, content)
SELECT 'chapter-' || c, 'Chapter ' || c || ' part ' || p, 'text'
FROM generate_series(1, 40) c, generate_series(1, 1 + (c % 4)) p;
INSERT INTO textbook.documents (chapter_id, title, content) VALUES ('chapter-unread', 'Unread', 'text');
-- progress on most chapters, on a few outside the book, and on some users not at all
INSERT INTO textbook.user_reading_progress
    (user_id, chapter_id, current_section, completion_percentage, study_time_minutes, last_read_at)
SELECT u.id, 'chapter-' || c, 's' || c,
       CASE WHEN random() < 0.3 THEN 100 ELSE round((random() * 100)::numeric, 2) END,
       (random() * 300)::int,
       now() - random() * interval '30 days'
FROM textbook.users u, generate_series(1, 44) c
WHERE u.id % 10 <> 0 AND random() < 0.4;

CREATE TEMP VIEW expected_summary AS
WITH book AS (SELECT DISTINCT chapter_id FROM textbook.documents),
     latest AS (
        SELECT DISTINCT ON (user_id) user_id, last_read_at, chapter_id, current_section
        FROM textbook.user_reading_progress ORDER BY user_id, last_read_at DESC)
SELECT u.id AS user_id,
       (SELECT count(*) FROM book) AS chapters_total,
       count(p.id) AS chapters_started,
       count(p.id) FILTER (WHERE p.completion_percentage = 100) AS chapters_completed,
       round(coalesce(sum(p.completion_percentage) FILTER (WHERE p.chapter_id IN (SELECT chapter_id FROM book)), 0)
             / (SELECT count(*) FROM book), 2) AS overall_completion,
       coalesce(sum(p.study_time_minutes), 0) AS total_study_minutes,
       l.last_read_at, l.chapter_id AS last_chapter_id, l.current_section AS last_section_id
FROM textbook.users u
LEFT JOIN textbook.user_reading_progress p ON p.user_id = u.id
LEFT JOIN latest l ON l.user_id = u.id
GROUP BY u.id, l.last_read_at, l.chapter_id, l.current_section;

CREATE TEMP TABLE actual_summary AS
SELECT u.id AS user_id, s.* FROM textbook.users u, textbook.progress_summary(u.id) s;
SELECT count(*) AS users, count(*) FILTER (WHERE chapters_started = 0) AS without_progress
FROM actual_summary;
SELECT count(*) AS summary_differences FROM (
    (SELECT * FROM expected_summary EXCEPT SELECT * FROM actual_summary)
    UNION ALL
    (SELECT * FROM actual_summary EXCEPT SELECT * FROM expected_summary)) d;

CREATE TEMP VIEW expected_chapters AS
WITH book AS (SELECT DISTINCT chapter_id FROM textbook.documents),
     totals AS (
        SELECT chapter_id, count(*) AS readers,
               count(*) FILTER (WHERE completion_percentage = 100) AS completed_readers,
               round(avg(completion_percentage), 2) AS avg_completion,
               sum(study_time_minutes) AS total_study_minutes,
               max(last_read_at) AS last_read_at
        FROM textbook.user_reading_progress GROUP BY chapter_id)
SELECT coalesce(b.chapter_id, t.chapter_id) AS chapter_id,
       coalesce(t.readers, 0) AS readers, coalesce(t.completed_readers, 0) AS completed_readers,
       coalesce(t.avg_completion, 0) AS avg_completion,
       coalesce(t.total_study_minutes, 0) AS total_study_minutes, t.last_read_at
FROM book b FULL JOIN totals t ON t.chapter_id = b.chapter_id;

SELECT count(*) AS chapters, count(*) FILTER (WHERE readers = 0) AS unread
FROM textbook.chapter_progress();
SELECT count(*) AS chapter_differences FROM (
    (SELECT * FROM expected_chapters EXCEPT SELECT * FROM textbook.chapter_progress())
    UNION ALL
    (SELECT * FROM textbook.chapter_progress() EXCEPT SELECT * FROM expected_chapters)) d;
-- reading order: by each chapter's first document; outside chapters last
SELECT string_agg(chapter_id, ' ') FROM (SELECT chapter_id FROM textbook.chapter_progress() LIMIT 5) c;
SELECT string_agg(chapter_id, ' ') FROM (
    SELECT chapter_id FROM textbook.chapter_progress() OFFSET 40) c;
SELECT * FROM textbook.chapter_progress() WHERE chapter_id = 'chapter-unread';

-- the row record_progress returns follows the table's row type after a
-- dropped column
ALTER TABLE textbook.user_reading_progress DROP COLUMN created_at;
SELECT chapter_id, current_section, completion_percentage, study_time_minutes
FROM textbook.record_progress((SELECT min(id) FROM textbook.users), 'chapter-1', 'after-drop', 100, 1);
