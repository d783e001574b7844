-- B: progress_summary(:uid) written by hand, the straightforward way: the
-- user's rows, marked in or out of the book, aggregated; the latest row for
-- last_read_at / last_chapter_id / last_section_id.
--   chapters_total      distinct chapters that have documents
--   chapters_started    the user's progress rows (also chapters without documents)
--   chapters_completed  rows at 100 %
--   overall_completion  completion summed over the book's chapters / chapters_total
WITH book AS (
    SELECT DISTINCT chapter_id FROM textbook.documents
), mine AS (
    SELECT p.chapter_id, p.current_section, p.completion_percentage,
           p.study_time_minutes, p.last_read_at,
           b.chapter_id IS NOT NULL AS in_book
      FROM textbook.user_reading_progress p
      LEFT JOIN book b ON b.chapter_id = p.chapter_id
     WHERE p.user_id = :uid
), totals AS (
    SELECT count(*) AS chapters_started,
           count(*) FILTER (WHERE completion_percentage = 100) AS chapters_completed,
           coalesce(sum(completion_percentage) FILTER (WHERE in_book), 0) AS completion_sum,
           coalesce(sum(study_time_minutes), 0) AS total_study_minutes
      FROM mine
), latest AS (
    SELECT last_read_at, chapter_id, current_section
      FROM mine
     ORDER BY last_read_at DESC
     LIMIT 1
)
SELECT n.chapters_total,
       t.chapters_started,
       t.chapters_completed,
       CASE WHEN n.chapters_total > 0
            THEN round(t.completion_sum / n.chapters_total, 2) ELSE 0.00 END AS overall_completion,
       t.total_study_minutes,
       l.last_read_at,
       l.chapter_id AS last_chapter_id,
       l.current_section AS last_section_id
  FROM (SELECT count(*) AS chapters_total FROM book) n
 CROSS JOIN totals t
  LEFT JOIN latest l ON true
