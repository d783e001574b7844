-- pgbench script, B: the hand-written equivalent of upsert_translation, one
-- INSERT ... ON CONFLICT DO UPDATE with the same keys, content and RETURNING.
\set uid random(1, :users)
\set ch random(1, :chapters)
\set r random(1, 1000000000)
INSERT INTO textbook.user_chapter_translations AS t
       (user_id, chapter_id, target_language, original_content, translated_content,
        confidence_score, expires_at)
VALUES (:uid, 'ch-' || :ch::text, 'fr',
        repeat(md5(:r::text), 22), repeat(md5((:r + 1)::text), 22), 0.9,
        now() + interval '30 days')
ON CONFLICT (user_id, chapter_id, target_language) DO UPDATE SET
       original_content = excluded.original_content,
       translated_content = excluded.translated_content,
       confidence_score = excluded.confidence_score,
       updated_at = now(),
       expires_at = excluded.expires_at
RETURNING *;
