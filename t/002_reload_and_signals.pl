
# Copyright (c) textbook contributors
#
# Reloads and signals: a reload that shortens textbook.purge_interval takes
# effect at once on a sleeping launcher, a reload reaches a running worker,
# pg_terminate_backend on the launcher gets it restarted, on a worker only
# ends that run, and a fast shutdown is not held up by a purge in progress.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep gettimeofday tv_interval);
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('signals', conf => q{
textbook.database = 'postgres'
textbook.purge_interval = '1h'
textbook.purge_batch_size = 1000
});
my $clean_from = -s $node->logfile;

# The first cycle runs as the launcher starts, before the extension exists.
$node->wait_for_log(
	qr/textbook purge worker: extension "textbook" is not installed in database "postgres"/, 0);
install_textbook($node, 'postgres');
add_translations($node, 'postgres', 'live', 5);
add_translations($node, 'postgres', 'old', 50);
expire($node, 'postgres', 'old');

# ----------------------------------------------------------------
# A reload that shortens the interval wakes the sleeping launcher.
# ----------------------------------------------------------------

usleep(1_000_000);
is(count_rows($node, 'postgres', 'old'), '50', 'nothing purged while the launcher sleeps for 1h');

my $t0 = [gettimeofday];
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.purge_interval = '200ms';
	SELECT pg_reload_conf();
});
my $waited = wait_for($node, 'postgres',
	"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'old%'",
	'0', 10);
ok(defined $waited, 'expired rows purged after the interval was shortened by a reload');
my $elapsed = tv_interval($t0);
note(sprintf('purged %.2fs after pg_reload_conf()', $elapsed));
cmp_ok($elapsed, '<', 2, 'the shortened interval applies at once, not after the old 1h');
is(count_rows($node, 'postgres', 'live'), '5', 'live rows untouched');

# ... and a reload that lengthens it again is honoured too.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.purge_interval = '1h';
	SELECT pg_reload_conf();
});
usleep(700_000);    # let the launcher finish a cycle and read the file
add_translations($node, 'postgres', 'later', 20);
expire($node, 'postgres', 'later');
usleep(1_500_000);
is(count_rows($node, 'postgres', 'later'), '20',
	'after a reload back to 1h no further cycle runs');

# ----------------------------------------------------------------
# pg_terminate_backend on the launcher: it comes back (restart 5 s) with a
# new PID and its first cycle purges what is due.
# ----------------------------------------------------------------

my $old_pid = launcher_pid($node);
like($old_pid, qr/^\d+$/, 'launcher running');
my $log_offset = -s $node->logfile;
$t0 = [gettimeofday];
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($old_pid)"), 't',
	'pg_terminate_backend(launcher)');
$waited = wait_for($node, 'postgres', qq{
	SELECT count(*) FILTER (WHERE pid <> $old_pid) || '/' || count(*)
	  FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'},
	'1/1', 10);
ok(defined $waited, 'a new launcher with another PID runs within 10s');
note(sprintf('launcher back %.2fs after pg_terminate_backend', tv_interval($t0)));
my $new_pid = launcher_pid($node);
ok($node->log_contains(
		qr/textbook purge launcher started for databases "postgres", every 3600000 ms/, $log_offset),
	'the new launcher logged its start');
is($node->safe_psql('postgres',
		"SELECT launcher_pid FROM textbook.purge_status WHERE database = 'postgres'"),
	$new_pid, 'purge_status shows the new launcher PID');
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'later%'",
		'0', 5),
	'the new launcher purges at once');

# ----------------------------------------------------------------
# A slow purge: a row trigger sleeping 2ms makes each batch of 1000 rows
# take two seconds, so the worker can be caught and signalled mid-run.
# 1900 expired rows, less than two batches: the worker picks them through
# the expires_at index, "batch N of at most M rows".
# ----------------------------------------------------------------

add_slow_delete($node, 'postgres', '0.002');
bulk_expired($node, 'postgres', 'mid', 1900);

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.purge_interval = '200ms';
	SELECT pg_reload_conf();
});

my $worker_q = q{
	SELECT a.pid FROM pg_stat_activity a, textbook.purge_status s
	 WHERE a.backend_type = 'textbook purge worker' AND s.worker_pid = a.pid};
ok(defined wait_for($node, 'postgres', "SELECT count(*) FROM ($worker_q) w", '1', 10),
	'a worker is purging');
my $worker_pid = $node->safe_psql('postgres', $worker_q);
like($node->safe_psql('postgres', "SELECT query FROM pg_stat_activity WHERE pid = $worker_pid"),
	qr/^purging expired translations, batch 1 of at most 1000 rows$/,
	'worker activity shows the batch number and size');

# a reload reaches the running worker: its next batch uses the new size
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.purge_batch_size = 500;
	SELECT pg_reload_conf();
});
# (a worker stops after 2 s and the next starts half a second later, so the
# next batch may belong to the next worker)
ok(defined wait_for($node, 'postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type = 'textbook purge worker'
	   AND query ~ '^purging expired translations, batch \d+ of at most 500 rows$'},
		'1', 10),
	'a reloaded purge_batch_size applies to the next batch');
cmp_ok($node->safe_psql('postgres', "SELECT rows_total FROM textbook.purge_status"), '>=', 1000,
	'batch 1 deleted 1000 rows and is committed');
cmp_ok(count_rows($node, 'postgres', 'mid'), '<=', 900, 'batches committed so far are kept');
$worker_pid = $node->safe_psql('postgres', $worker_q);

# pg_terminate_backend on the worker ends that run only
bulk_expired($node, 'postgres', 'big', 30000);
my $launcher_before = launcher_pid($node);
$t0 = [gettimeofday];
$node->safe_psql('postgres', "SELECT pg_terminate_backend($worker_pid)");
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $worker_pid", '0', 5),
	'worker exits on pg_terminate_backend');
note(sprintf('worker gone %.2fs after pg_terminate_backend', tv_interval($t0)));
ok(defined wait_for($node, 'postgres', "SELECT count(*) FROM ($worker_q) w", '1', 5),
	'the next cycle starts a new worker');
is(launcher_pid($node), $launcher_before, 'the launcher kept running');

# A run cut short says so in purge_status.  A terminated run records no
# backlog, so at a 1h interval the launcher leaves that state in place.
set_purge_interval($node, '1h');
my $terminated;
for my $try (1 .. 20)
{
	my $pid = $node->safe_psql('postgres', $worker_q);
	if ($pid =~ /^\d+$/
		&& $node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)") eq 't')
	{
		$terminated = $pid;
		last;
	}
	usleep(100_000);
}
ok(defined $terminated, 'terminated a worker in the middle of a run');
ok(defined wait_for($node, 'postgres',
		"SELECT state FROM textbook.purge_status WHERE database = 'postgres'",
		'interrupted', 5),
	'purge_status shows the run as interrupted');
is($node->safe_psql('postgres', q{
	SELECT worker_pid IS NULL AND last_end >= last_start AND rows_last_run >= 0
	  FROM textbook.purge_status WHERE database = 'postgres'}),
	't', 'an interrupted run has ended, with no worker PID left behind');
usleep(1_000_000);
is($node->safe_psql('postgres',
		"SELECT state FROM textbook.purge_status WHERE database = 'postgres'"),
	'interrupted', 'the state stays until the next cycle');
set_purge_interval($node, '200ms');

my @problems = log_problems($node, $clean_from);
my @unexpected = grep {
	!/FATAL:  terminating background worker "textbook purge (?:launcher|worker)" due to administrator command/
	  && !/background worker "textbook purge (?:launcher|worker)" \(PID \d+\) exited with exit code 1/
} @problems;
is(scalar(@unexpected), 0, 'no errors besides the terminations')
  or diag(join("\n", @unexpected));

# ----------------------------------------------------------------
# Fast shutdown during the purge
# ----------------------------------------------------------------

ok(defined wait_for($node, 'postgres', q{
	SELECT count(*) FROM pg_stat_activity a, textbook.purge_status s
	 WHERE a.backend_type = 'textbook purge worker' AND s.worker_pid = a.pid
	   AND s.rows_last_run > 0},
		'1', 10),
	'a worker is mid-purge');
my $left = count_rows($node, 'postgres', 'big');
cmp_ok($left, '>', 2000, "a backlog of $left rows is left");
$log_offset = -s $node->logfile;
$t0 = [gettimeofday];
$node->stop('fast');
$elapsed = tv_interval($t0);
note(sprintf('pg_ctl stop -m fast took %.2fs during the purge', $elapsed));
cmp_ok($elapsed, '<', 3, 'fast shutdown is not held up by the purge');
@problems = grep { !/due to administrator command|exited with exit code 1/ }
  log_problems($node, $log_offset);
is(scalar(@problems), 0, 'shutdown: no crash, no error') or diag(join("\n", @problems));

# After a restart the purge resumes where it stopped.
$node->start;
drop_slow_delete($node, 'postgres');
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'big%'",
		'0', 20),
	'the rest of the backlog is purged after the restart');
is(count_rows($node, 'postgres', 'live'), '5', 'live rows untouched');

# ----------------------------------------------------------------
# Fast shutdown with a large backlog purged at full speed.
# ----------------------------------------------------------------

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.purge_interval = '1h';
	ALTER SYSTEM SET textbook.purge_batch_size = 1000;
	SELECT pg_reload_conf();
});
usleep(500_000);
bulk_expired($node, 'postgres', 'huge', 400000);
$node->restart;    # the first cycle starts at once
# The worker purges this backlog in well under a second, so look for it
# from inside the server, every millisecond, rather than with a new psql
# every 50 ms.
my ($ret, $out, $err) = $node->psql('postgres', q{
DO $$
BEGIN
	FOR i IN 1 .. 10000 LOOP
		PERFORM pg_stat_clear_snapshot();
		IF EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'textbook purge worker') THEN
			RETURN;
		END IF;
		PERFORM pg_sleep(0.001);
	END LOOP;
	RAISE EXCEPTION 'no purge worker seen';
END $$;
SELECT count(*) > 0 FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'huge%';
});
is("$ret $out", '0 t', 'a worker is purging the 400000-row backlog, rows are left') or diag $err;
$t0 = [gettimeofday];
$node->stop('fast');
$elapsed = tv_interval($t0);
note(sprintf('pg_ctl stop -m fast took %.2fs with a 400000-row backlog', $elapsed));
cmp_ok($elapsed, '<', 3, 'fast shutdown is quick');

done_testing();
