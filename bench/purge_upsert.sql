-- pgbench script for the purge latency test: upserts of LIVE rows only (odd
-- chapters), so that the traffic and the purge never touch the same row
-- but share the table's pages and indexes.  Variables: users.
\set uid random(1, :users)
\set ch 2 * random(0, 99) + 1
\set r random(1, 1000000000)
SELECT * FROM textbook.upsert_translation(:uid, 'ch-' || :ch::text, 'fr',
    md5(:r::text) || md5((:r + 1)::text), md5((:r + 2)::text), 0.9);
