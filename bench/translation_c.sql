-- pgbench script, A: the extension's upsert.  Variables from pgbench -D:
-- users, chapters.  The content is made server-side with the same
-- expressions as in translation_plain.sql, so both sides pay the same for
-- it: 2 x 704 characters (22 md5 hex digests), ~1.4 KB of text per row.
\set uid random(1, :users)
\set ch random(1, :chapters)
\set r random(1, 1000000000)
SELECT * FROM textbook.upsert_translation(:uid, 'ch-' || :ch::text, 'fr',
    repeat(md5(:r::text), 22), repeat(md5((:r + 1)::text), 22), 0.9);
