-- import: one timed import, on the server's clock.  The input is read from
-- the file before the clock starts (both sides would pay the same for it)
-- and the commit after the clock stops is the same for both.
--   how = 'extension': textbook.import_documents(input)
--   how = 'plain':     the hand-written INSERT ... SELECT from jsonb_to_recordset
CREATE SCHEMA bench;

CREATE FUNCTION bench.time_import(path text, how text) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    input text := pg_read_file(path);
    t0 timestamptz;
BEGIN
    t0 := clock_timestamp();
    IF how = 'extension' THEN
        PERFORM textbook.import_documents(input);
    ELSIF how = 'plain' THEN
        INSERT INTO textbook.documents (chapter_id, title, content, doc_metadata)
        SELECT chapter_id, title, content, coalesce(metadata, '{}')
          FROM jsonb_to_recordset(input::jsonb)
               AS d(chapter_id text, title text, content text, metadata jsonb);
    ELSE
        RAISE EXCEPTION 'unknown import method %', how;
    END IF;
    RETURN extract(epoch FROM clock_timestamp() - t0);
END $$;

-- What an import stored, in storage order, for comparing the two methods.
CREATE FUNCTION bench.stored_documents()
RETURNS TABLE (n bigint, chapter_id text, title text, content text, doc_metadata jsonb)
LANGUAGE sql AS $$
    SELECT row_number() OVER (ORDER BY id), chapter_id, title, content, doc_metadata
      FROM textbook.documents
$$;
