\set ECHO none
-- Included by every regression test: a fresh extension and a helper that
-- runs a statement expected to fail and shows its SQLSTATE, message,
-- detail and hint (without the "Failing row contains" detail of built-in
-- CHECK errors, which holds timestamps), and where JSON input went wrong.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS textbook CASCADE;
CREATE EXTENSION textbook;
RESET client_min_messages;
CREATE FUNCTION pg_temp.fails(statement text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    code text; message text; detail text; hint text; context text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT,
                            context = PG_EXCEPTION_CONTEXT;
    RETURN code || ': ' || message
        || CASE WHEN detail <> '' AND detail NOT LIKE 'Failing row contains%'
                THEN E'\nDETAIL: ' || detail ELSE '' END
        || CASE WHEN hint <> '' THEN E'\nHINT: ' || hint ELSE '' END
        || CASE WHEN context LIKE 'JSON data%' THEN E'\nCONTEXT: ' || split_part(context, E'\n', 1) ELSE '' END;
END $$;
\pset null '(null)'
\set ECHO all
