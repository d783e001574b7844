-- A: the extension's per-user summary.  :uid is set by the caller (bench/run
-- prepends "\set uid random(...)" for pgbench; psql -v uid=N for checks).
SELECT * FROM textbook.progress_summary(:uid)
