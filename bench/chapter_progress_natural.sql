-- B1: chapter_progress() written by hand the natural way: join every
-- progress row to the book's chapters, then group.  Same columns, same
-- order (reading order = first document id; then the other chapters by id).
WITH book AS (
    SELECT chapter_id, min(id) AS first_doc FROM textbook.documents GROUP BY chapter_id
)
SELECT coalesce(b.chapter_id, p.chapter_id) AS chapter_id,
       count(p.chapter_id) AS readers,
       count(p.chapter_id) FILTER (WHERE p.completion_percentage = 100) AS completed_readers,
       coalesce(round(avg(p.completion_percentage), 2), 0.00) AS avg_completion,
       coalesce(sum(p.study_time_minutes), 0) AS total_study_minutes,
       max(p.last_read_at) AS last_read_at
  FROM book b
  FULL JOIN textbook.user_reading_progress p ON p.chapter_id = b.chapter_id
 GROUP BY coalesce(b.chapter_id, p.chapter_id), b.first_doc
 ORDER BY b.first_doc NULLS LAST, coalesce(b.chapter_id, p.chapter_id) COLLATE "C"
