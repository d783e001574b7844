# Every table keeps its rows through pg_dump/pg_restore: the tables and
# their identity sequences are extension configuration (pg_extension_config_dump),
# so a restore into a new database gives the same rows, and new rows get
# fresh ids after the restored ones.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('dump');

$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('source', q{
CREATE EXTENSION textbook;
INSERT INTO textbook.users (username, email, password_hash)
SELECT 'user' || i, 'user' || i || '@example.org', '$2b$12$' || repeat('d', 53)
FROM generate_series(1, 20) i;
INSERT INTO textbook.user_profiles (user_id, preferred_language, accessibility_options)
SELECT id, 'pt-br', '{"dyslexia_font": true}' FROM textbook.users;
SELECT textbook.import_documents('[{"chapter_id": "apt", "title": "APT", "content": "apt-get", "metadata": {"page": "apt.html"}},
                                  {"chapter_id": "intro", "title": "Intro", "content": "hello"}]');
SELECT textbook.record_progress(id, 'apt', 'sect.apt-get', 40, 5) FROM textbook.users;
SELECT textbook.upsert_translation(id, 'apt', 'fr', 'apt-get', 'apt-get (fr)', 0.9) FROM textbook.users;
INSERT INTO textbook.user_bookmarks (user_id, chapter_id, section_id, note)
SELECT id, 'apt', 'sect.apt-get', 'note ' || id FROM textbook.users;
SELECT textbook.log_conversation(id, 'What is apt?', 'A tool.', '{"sources": [{"chapter_id": "apt"}]}') FROM textbook.users;
-- a gap in the ids, so that the sequences are ahead of the rows
DELETE FROM textbook.users WHERE id > 15;
});

my $counts = q{
SELECT (SELECT count(*) FROM textbook.users) || ' ' ||
       (SELECT count(*) FROM textbook.documents) || ' ' ||
       (SELECT count(*) FROM textbook.user_chapter_translations) || ' ' ||
       (SELECT count(*) FROM textbook.user_profiles) || ' ' ||
       (SELECT count(*) FROM textbook.user_reading_progress) || ' ' ||
       (SELECT count(*) FROM textbook.user_bookmarks) || ' ' ||
       (SELECT count(*) FROM textbook.conversations)};
my $content = q{
SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM (
    SELECT to_jsonb(u) AS t FROM textbook.users u
    UNION ALL SELECT to_jsonb(d) FROM textbook.documents d
    UNION ALL SELECT to_jsonb(x) FROM textbook.user_chapter_translations x
    UNION ALL SELECT to_jsonb(p) FROM textbook.user_profiles p
    UNION ALL SELECT to_jsonb(r) FROM textbook.user_reading_progress r
    UNION ALL SELECT to_jsonb(b) FROM textbook.user_bookmarks b
    UNION ALL SELECT to_jsonb(c) FROM textbook.conversations c) s};

my $source_counts = $node->safe_psql('source', $counts);
my $source_content = $node->safe_psql('source', $content);
is($source_counts, '15 2 15 15 15 15 15', 'source database has rows in every table');

my $dump = $node->basedir . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('source'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE target');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('target'), $dump ], 'pg_restore');

is($node->safe_psql('target', $counts), $source_counts, 'every table has the same number of rows after restore');
is($node->safe_psql('target', $content), $source_content, 'every row is identical after restore');

# the identity sequences came along: new rows do not collide with restored ids
my $new_id = $node->safe_psql('target', q{
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('newcomer', 'newcomer@example.org', '$2b$12$' || repeat('n', 53)) RETURNING id});
is($new_id, '21', 'the users sequence continues after the restored and deleted ids');
is($node->safe_psql('target', q{SELECT (textbook.upsert_translation(1, 'intro', 'de', 'a', 'b')).id}),
   '21', 'the translations sequence continues too');

# plain-text dump restores the same way
my $sql = $node->basedir . '/source.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('source'), '-f', $sql ], 'plain pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE target_sql');
$node->command_ok([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', $node->connstr('target_sql'), '-f', $sql ],
    'plain dump restores with psql');
is($node->safe_psql('target_sql', $content), $source_content, 'rows identical after a plain-text restore');

$node->stop;
done_testing();
