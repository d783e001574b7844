
# Copyright (c) textbook contributors
#
# The purge worker's basic job: with a short interval, expired translations
# disappear on their own while live ones stay; a backlog larger than
# textbook.purge_batch_size is purged completely; the launcher and the
# per-database worker show up in pg_stat_activity; textbook.purge_status
# reports what one run did.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep gettimeofday tv_interval);
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('purge', conf => q{
textbook.database = 'postgres'
textbook.purge_interval = '200ms'
textbook.purge_batch_size = 10
});
my $clean_from = -s $node->logfile;

# The launcher is a background worker connected to no database.
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'",
		'1', 10),
	'launcher shows up in pg_stat_activity');
is($node->safe_psql('postgres',
		"SELECT coalesce(datname, '<none>') FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'"),
	'<none>', 'launcher is connected to no database');
ok($node->log_contains(
		qr/textbook purge launcher started for databases "postgres", every 200 ms/),
	'launcher logs its settings at start');

# Before CREATE EXTENSION: one line saying so, however many cycles pass.
my $ext_re = qr/LOG:  textbook purge worker: extension "textbook" is not installed in database "postgres"/;
$node->wait_for_log($ext_re, 0);
my $log_offset = -s $node->logfile;
usleep(1_500_000);    # ~7 cycles
is(log_count($node, $ext_re, 0), 1,
	'missing extension is logged exactly once over several cycles');

install_textbook($node, 'postgres');

my $ok_re = qr/LOG:  textbook purge worker: purging expired translations in database "postgres"/;
$node->wait_for_log($ok_re, $log_offset);
pass('creating the extension is noticed and logged');

# ----------------------------------------------------------------
# Expired rows go, live rows stay; 495 rows with a batch size of 10.
# ----------------------------------------------------------------

# A statement trigger records how many rows each DELETE of the worker
# deleted, and in which transaction.
add_batch_log($node, 'postgres');

add_translations($node, 'postgres', 'live', 5);
add_translations($node, 'postgres', 'old', 495);
my $t0 = [gettimeofday];
expire($node, 'postgres', 'old');

my $waited = wait_for($node, 'postgres',
	"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'old%'",
	'0', 10);
ok(defined $waited, 'expired rows are purged on their own');
note(sprintf('495 expired rows purged %.2fs after they expired', tv_interval($t0)));
cmp_ok(tv_interval($t0), '<', 3, 'purged within a few intervals of 200ms');

is(count_rows($node, 'postgres', 'live'), '5', 'live rows are untouched');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM textbook.get_translation(
	  (SELECT id FROM textbook.users WHERE username = 'alice'), 'live3', 'fr')}),
	'1', 'a live row is still readable through get_translation');

ok(defined wait_for($node, 'postgres',
		"SELECT rows_total FROM textbook.purge_status WHERE database = 'postgres'",
		'495', 5),
	'rows_total counts the 495 rows purged');
my ($batches, $sum, $max, $xacts) = split /\|/, $node->safe_psql('postgres',
	'SELECT count(*), sum(deleted), max(deleted), count(DISTINCT xid) FROM public.batch_log WHERE deleted > 0');
is($sum, 495, 'the batches deleted 495 rows');
# 495 of 500 rows expired: a backlog, swept by block ranges sized to hold
# about purge_batch_size expired rows, so a transaction may go a page over
cmp_ok($batches, '>=', 2, 'the 495 rows went in several transactions, not one')
  or diag($node->safe_psql('postgres', 'SELECT string_agg(deleted::text, \',\') FROM public.batch_log WHERE deleted > 0'));
is($xacts, $batches, 'one transaction per batch');
$node->safe_psql('postgres', 'TRUNCATE public.batch_log');
is($node->safe_psql('postgres',
		"SELECT state FROM textbook.purge_status WHERE database = 'postgres'"),
	'ok', 'state is ok');
is($node->safe_psql('postgres', 'SELECT count(*) FROM textbook.purge_status'),
	'1', 'purge_status has one row per listed database');

# ----------------------------------------------------------------
# One run, seen from textbook.purge_status.  At a 1h interval the only
# cycle after a restart is the one the launcher runs when it starts.
# ----------------------------------------------------------------

set_purge_interval($node, '1h');
add_translations($node, 'postgres', 'run', 37);
expire($node, 'postgres', 'run');
usleep(1_000_000);
is(count_rows($node, 'postgres', 'run'), '37',
	'at a 1h interval nothing is purged between cycles');

my $before_restart = $node->safe_psql('postgres', 'SELECT now()');
my @problems = log_problems($node, $clean_from);
is(scalar(@problems), 0, 'no error, no failed worker in the log so far')
  or diag(join("\n", @problems));
$node->restart;
$clean_from = -s $node->logfile;
ok(defined wait_for($node, 'postgres',
		"SELECT state || ' ' || rows_last_run FROM textbook.purge_status WHERE database = 'postgres'",
		'ok 37', 10),
	'the first cycle after a start purges the backlog');
is(count_rows($node, 'postgres', 'run'), '0', 'backlog gone');
is(count_rows($node, 'postgres', 'live'), '5', 'live rows still there');

my $status = $node->safe_psql('postgres', qq{
	SELECT s.rows_last_run, s.rows_total,
	       s.last_start <= s.last_end,
	       s.last_start >= '$before_restart'::timestamptz,
	       s.last_end <= now(),
	       s.worker_pid IS NULL,
	       s.launcher_pid = a.pid,
	       s.last_error IS NULL AND s.last_error_at IS NULL
	  FROM textbook.purge_status s
	  JOIN pg_stat_activity a ON a.backend_type = 'textbook purge launcher'
	 WHERE s.database = 'postgres'});
is($status, '37|37|t|t|t|t|t|t',
	'purge_status: rows_last_run, rows_total, last_start <= last_end, no worker, launcher pid, no error');

# pg_monitor may read the view
$node->safe_psql('postgres', q{
	CREATE ROLE watcher LOGIN;
	GRANT pg_monitor TO watcher;
	GRANT USAGE ON SCHEMA textbook TO watcher;
});
my ($ret, $out, $err) = $node->psql('postgres',
	'SELECT database, state FROM textbook.purge_status',
	connstr => $node->connstr('postgres') . ' user=watcher');
is($out, 'postgres|ok', 'a pg_monitor member can read purge_status');

# A few expired rows among many live ones are picked through the index,
# oldest first, at most purge_batch_size (10) per transaction.
$node->safe_psql('postgres', 'TRUNCATE public.batch_log');
add_translations($node, 'postgres', 'many', 2000);
add_translations($node, 'postgres', 'few', 35);
expire($node, 'postgres', 'few');
set_purge_interval($node, '200ms');
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'few%'",
		'0', 10),
	'a few expired rows among many are purged');
is($node->safe_psql('postgres',
		'SELECT sum(deleted) || \'|\' || max(deleted) FROM public.batch_log WHERE deleted > 0'),
	'35|10', 'picked through the index in batches of at most textbook.purge_batch_size (10)');
set_purge_interval($node, '1h');
$node->safe_psql('postgres',
	"DELETE FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'many%'");

# ----------------------------------------------------------------
# The per-database worker, caught in the act.  A row trigger sleeping 1ms
# makes the purge of 3000 rows last about 3 s.
# ----------------------------------------------------------------

add_slow_delete($node, 'postgres', '0.001');
bulk_expired($node, 'postgres', 'big', 3000);

# a restart starts a cycle at once
@problems = log_problems($node, $clean_from);
is(scalar(@problems), 0, 'no error, no failed worker in the log after the restart')
  or diag(join("\n", @problems));
$node->restart;
$clean_from = -s $node->logfile;
my $seen = wait_for($node, 'postgres', q{
	SELECT a.backend_type || '|' || a.datname || '|' || a.application_name || '|'
	       || (a.query ~ '^purging expired translations, batch \d+') || '|'
	       || s.state || '|' || (s.worker_pid = a.pid)
	  FROM pg_stat_activity a
	  JOIN textbook.purge_status s ON s.database = a.datname
	 WHERE a.backend_type = 'textbook purge worker'},
	'textbook purge worker|postgres|textbook purge worker|true|purging|true', 10);
ok(defined $seen, 'purge worker seen in pg_stat_activity, purge_status says purging');
drop_slow_delete($node, 'postgres');

ok(defined wait_for($node, 'postgres',
		"SELECT state || ' ' || rows_last_run FROM textbook.purge_status WHERE database = 'postgres'",
		'ok 3000', 20),
	'the whole backlog is purged in one run');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'textbook purge worker'"),
	'0', 'the worker has exited after its run');
is(count_rows($node, 'postgres', 'live'), '5', 'live rows still there');

@problems = log_problems($node, $clean_from);
is(scalar(@problems), 0, 'no error, no failed worker in the log during the big purge')
  or diag(join("\n", @problems));

# ----------------------------------------------------------------
# A row another transaction holds (a client refreshing it) is skipped: it
# does not stall the purge of the others, whatever the size of the backlog.
# ----------------------------------------------------------------

bulk_expired($node, 'postgres', 'held', 2000);
my $client = $node->background_psql('postgres');
$client->query_safe(q{
	BEGIN;
	SELECT 1 FROM textbook.user_chapter_translations WHERE chapter_id = 'held1000' FOR UPDATE;
});
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.purge_interval = '200ms';
	SELECT pg_reload_conf();
});
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) || ' left, locked one among them: ' || bool_or(chapter_id = 'held1000') FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'held%'",
		'1 left, locked one among them: true', 5),
	'every expired row but the locked one is purged while the lock is held')
  or diag('worker: ' . $node->safe_psql('postgres', q{
	SELECT string_agg(pid || ' ' || coalesce(wait_event_type || '/' || wait_event, 'running') || ': ' || query, '; ')
	  FROM pg_stat_activity WHERE backend_type = 'textbook purge worker'}));
$client->query_safe('COMMIT');
$client->quit;
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'held%'",
		'0', 5),
	'the row is purged once released');
is(count_rows($node, 'postgres', 'live'), '5', 'live rows still there');

$node->stop;
done_testing();
