-- translation: the keyspace, fully pre-populated so that every benchmarked
-- call is an update of an existing row, as in production where a reader's
-- chapter is re-translated far more often than it is translated first.
-- psql variables: users, chapters.

INSERT INTO textbook.users (username, email, password_hash)
SELECT 'reader' || i, 'reader' || i || '@example.org', '$2b$12$' || repeat('x', 53)
  FROM generate_series(1, :users) i;

-- Same shape as the benchmarked rows: 2 x 704 characters of text.
INSERT INTO textbook.user_chapter_translations
       (user_id, chapter_id, target_language, original_content, translated_content, confidence_score)
SELECT u, 'ch-' || c, 'fr', repeat(md5(random()::text), 22), repeat(md5(random()::text), 22), 0.9
  FROM generate_series(1, :users) u, generate_series(1, :chapters) c;

VACUUM ANALYZE;
