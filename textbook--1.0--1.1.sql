/* textbook--1.0--1.1.sql */

\echo Use "ALTER EXTENSION textbook UPDATE TO '1.1'" to load this file. \quit

-- As in the install script of 1.1: a UTF-8 database, and a schema textbook
-- that is the extension's, and that only superusers own, may create objects
-- in and have objects in (src/install.c).
CREATE FUNCTION textbook.check_install_target() RETURNS void
    AS 'MODULE_PATHNAME', 'check_install_target'
    LANGUAGE C;
SELECT textbook.check_install_target();
DROP FUNCTION textbook.check_install_target();

-- Version 1.0 compared numeric columns with integer constants.  Installed
-- into a schema textbook that held an operator >=(numeric, integer), these
-- constraints bound to that operator instead of the built-in one; made
-- again with the operators named, they are the constraints of 1.1 whatever
-- the schema held.  IF EXISTS: dropping a planted operator with CASCADE
-- drops the constraints bound to it.  Each ALTER TABLE checks the table's
-- rows once.
ALTER TABLE textbook.user_chapter_translations
    DROP CONSTRAINT IF EXISTS user_chapter_translations_confidence_score_check,
    ADD CONSTRAINT user_chapter_translations_confidence_score_check
        CHECK (confidence_score OPERATOR(pg_catalog.>=) 0::numeric AND confidence_score OPERATOR(pg_catalog.<=) 1::numeric);
ALTER TABLE textbook.user_reading_progress
    DROP CONSTRAINT IF EXISTS user_reading_progress_completion_percentage_check,
    ADD CONSTRAINT user_reading_progress_completion_percentage_check
        CHECK (completion_percentage OPERATOR(pg_catalog.>=) 0::numeric AND completion_percentage OPERATOR(pg_catalog.<=) 100::numeric);
ALTER TABLE textbook.conversations
    DROP CONSTRAINT IF EXISTS conversations_confidence_score_check,
    ADD CONSTRAINT conversations_confidence_score_check
        CHECK (confidence_score OPERATOR(pg_catalog.>=) 0::numeric AND confidence_score OPERATOR(pg_catalog.<=) 1::numeric);
