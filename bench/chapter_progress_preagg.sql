-- B2: chapter_progress() written by hand with the aggregation first: group
-- the progress rows by chapter, then full-join the ~200 totals to the book.
-- This is the plan the extension runs, in plain SQL.
WITH book AS (
    SELECT chapter_id, min(id) AS first_doc FROM textbook.documents GROUP BY chapter_id
), totals AS (
    SELECT chapter_id,
           count(*) AS readers,
           count(*) FILTER (WHERE completion_percentage = 100) AS completed_readers,
           round(avg(completion_percentage), 2) AS avg_completion,
           sum(study_time_minutes) AS total_study_minutes,
           max(last_read_at) AS last_read_at
      FROM textbook.user_reading_progress
     GROUP BY chapter_id
)
SELECT coalesce(b.chapter_id, t.chapter_id) AS chapter_id,
       coalesce(t.readers, 0) AS readers,
       coalesce(t.completed_readers, 0) AS completed_readers,
       coalesce(t.avg_completion, 0.00) AS avg_completion,
       coalesce(t.total_study_minutes, 0) AS total_study_minutes,
       t.last_read_at
  FROM book b
  FULL JOIN totals t ON t.chapter_id = b.chapter_id
 ORDER BY b.first_doc NULLS LAST, coalesce(b.chapter_id, t.chapter_id) COLLATE "C"
