-- purge: the table that every measurement starts from, and the helpers
-- that drive and time the purges.  Loaded once into a template database;
-- each purge runs on a byte-identical copy of it (bench/run).
-- psql variables: rows (even), users (= rows / 200).
--
-- Row n belongs to user n / 200 + 1 and chapter ch-(n % 200).  Even
-- chapters are expired (expires_at 1 hour to 10 days in the past), odd
-- ones live (1 to 30 days ahead): expired rows alternate with live ones
-- all through the table, and their expiry order is random with respect to
-- their place in it.  Content is short (~100 bytes) to keep loading quick.

CREATE SCHEMA bench;

INSERT INTO textbook.users (username, email, password_hash)
SELECT 'reader' || i, 'reader' || i || '@example.org', '$2b$12$' || repeat('x', 53)
  FROM generate_series(1, :users) i;

-- valid by construction: skip the foreign-key and language triggers
SET session_replication_role = replica;
INSERT INTO textbook.user_chapter_translations
       (user_id, chapter_id, target_language, original_content,
        translated_content, confidence_score, expires_at)
SELECT n / 200 + 1, 'ch-' || n % 200, 'fr',
       md5(n::text) || md5((n + 1)::text), md5((n + 2)::text), 0.9,
       CASE WHEN n % 2 = 0
            THEN now() - interval '1 hour' - random() * interval '10 days'
            ELSE now() + interval '1 day' + random() * interval '29 days' END
  FROM generate_series(0, :rows - 1) n
 ORDER BY n;
RESET session_replication_role;

-- The SQL function in a loop, one transaction per batch, as an
-- application's cron job would call it.
CREATE PROCEDURE bench.purge_loop(batch integer, INOUT purged bigint DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    LOOP
        n := textbook.purge_expired_translations(batch);
        purged := purged + n;
        COMMIT;
        EXIT WHEN n < batch;
    END LOOP;
END $$;

-- Wake the purge worker (the caller has ALTER SYSTEM'd textbook.database
-- and a short textbook.purge_interval) and wait until it has purged
-- `expected` more rows than `before` and its run has ended.  The backlog
-- may take the worker more than one run (cycle): the window is from the
-- start of the first run after the reload to the end of the run that
-- finished the backlog.  Returns that window, its length (worker_s), the
-- number of runs seen, and the wall time from the reload.
CREATE FUNCTION bench.worker_purge(before bigint, expected bigint, timeout_s float8 DEFAULT 600,
    OUT purged bigint, OUT runs integer, OUT wall_s float8, OUT worker_s float8,
    OUT run_start timestamptz, OUT run_end timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    seen timestamptz;
    s record;
BEGIN
    runs := 0;
    PERFORM pg_reload_conf();
    LOOP
        SELECT * INTO s FROM textbook.purge_status WHERE database = current_database();
        IF FOUND AND s.last_start >= t0 AND s.last_start IS DISTINCT FROM seen THEN
            runs := runs + 1;
            seen := s.last_start;
            run_start := coalesce(run_start, s.last_start);
        END IF;
        -- Polled every 10 ms, and a new cycle starts purge_interval (100 ms)
        -- after the previous one ended: last_end is that of the run that
        -- finished the backlog.
        IF FOUND AND s.rows_total - before >= expected AND s.worker_pid IS NULL
           AND s.last_end >= s.last_start THEN
            purged := s.rows_total - before;
            wall_s := extract(epoch FROM clock_timestamp() - t0);
            run_end := s.last_end;
            worker_s := extract(epoch FROM run_end - run_start);
            RETURN;
        END IF;
        IF FOUND AND s.last_error IS NOT NULL AND s.last_error_at > t0 THEN
            RAISE EXCEPTION 'purge worker failed: %', s.last_error;
        END IF;
        IF clock_timestamp() - t0 > timeout_s * interval '1 second' THEN
            RAISE EXCEPTION 'purge worker did not purge % rows in % s (status: %)',
                expected, timeout_s, to_jsonb(s);
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END $$;

-- Every copy starts with the table and its indexes in shared_buffers, as a
-- busy table is; the copy itself is made with a cold buffer cache.
CREATE EXTENSION pg_prewarm;
CREATE FUNCTION bench.prewarm() RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(pg_prewarm(c.oid))
      FROM pg_class c
     WHERE c.oid = 'textbook.user_chapter_translations'::regclass
        OR c.oid IN (SELECT indexrelid FROM pg_index
                      WHERE indrelid = 'textbook.user_chapter_translations'::regclass)
$$;

VACUUM ANALYZE;
