# The worker's backlog sweep (block ranges, one transaction each) racing an
# upsert that refreshes an expired row: the sweep waits for the row lock,
# re-checks the refreshed version and leaves it alone; every other expired
# row goes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('race', conf => q{
textbook.database = 'postgres'
textbook.purge_interval = '1h'
textbook.purge_batch_size = 100
log_min_messages = debug1
});

$node->safe_psql('postgres', q{
CREATE EXTENSION textbook;
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('racer', 'racer@example.org', '$2b$12$' || repeat('r', 53));
-- half of the rows expired, interleaved: a backlog the worker sweeps
INSERT INTO textbook.user_chapter_translations
    (user_id, chapter_id, target_language, original_content, translated_content, expires_at)
SELECT 1, 'c' || i, 'fr', 'o', 't',
       CASE WHEN i % 2 = 0 THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END
FROM generate_series(1, 4000) i;
VACUUM ANALYZE textbook.user_chapter_translations;
});

# a session refreshes an expired row and keeps its transaction open
my $refresher = $node->background_psql('postgres');
$refresher->query_safe('BEGIN');
$refresher->query_safe(
	q{SELECT textbook.upsert_translation(1, 'c2', 'fr', 'o', 'refreshed')});

$node->safe_psql('postgres',
	q{ALTER SYSTEM SET textbook.purge_interval = '100ms'; SELECT pg_reload_conf()});

# the worker sweeps block ranges and waits for the locked row
ok( $node->poll_query_until(
		'postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity
WHERE backend_type = 'textbook purge worker' AND wait_event_type = 'Lock'}),
	'the sweeping worker waits for the row being refreshed');

ok($node->log_contains(qr/textbook purge: at least \d+ expired rows, sweeping \d+ blocks/),
	'the backlog is swept by block ranges');

$refresher->query_safe('COMMIT');
$refresher->quit;

ok( $node->poll_query_until(
		'postgres', q{
SELECT rows_total >= 1999 AND state = 'ok' FROM textbook.purge_status WHERE database = 'postgres'}),
	'the worker finished the backlog');

is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM textbook.user_chapter_translations WHERE expires_at <= now()}),
	'0',
	'no expired row is left');
is( $node->safe_psql(
		'postgres',
		q{SELECT translated_content, expires_at > now() FROM textbook.user_chapter_translations WHERE chapter_id = 'c2'}),
	'refreshed|t',
	'the row refreshed during the sweep survived');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM textbook.user_chapter_translations}),
	'2001', 'live rows are untouched');
is( $node->safe_psql('postgres',
		q{SELECT rows_total FROM textbook.purge_status WHERE database = 'postgres'}),
	'1999', 'the status counts every purged row');

# A sweep longer than one worker run (3 s): the next run resumes it where
# the last one stopped instead of starting again from the first block.
add_slow_delete($node, 'postgres', '0.001');
set_purge_interval($node, '1h');
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
INSERT INTO textbook.user_chapter_translations
    (user_id, chapter_id, target_language, original_content, translated_content, expires_at)
SELECT 1, 'r' || i, 'fr', 'o', 't',
       CASE WHEN i % 2 = 0 THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END
FROM generate_series(1, 8000) i;
ALTER SYSTEM SET textbook.purge_interval = '100ms';
SELECT pg_reload_conf();
});
ok( $node->poll_query_until(
		'postgres', q{
SELECT count(*) = 0 FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'r%' AND expires_at <= now()}),
	'a backlog longer than one run is purged');
ok($node->log_contains(qr/textbook purge: resuming the sweep at block [1-9]\d* of \d+/, $offset),
	'the next run resumed the sweep where the previous one stopped');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'r%'}),
	'4000', 'live rows of that backlog are untouched');

$node->stop;
done_testing();
