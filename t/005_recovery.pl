
# Copyright (c) textbook contributors
#
# Crashes: kill -9 of the launcher, and of a purge worker in the middle of
# a purge, make the postmaster reinitialise (restart_after_crash = on); the
# launcher is back within seconds and the purge resumes.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep gettimeofday tv_interval);
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('recovery', conf => q{
textbook.database = 'postgres'
textbook.purge_interval = '200ms'
textbook.purge_batch_size = 100
restart_after_crash = on
});
install_textbook($node, 'postgres');
add_translations($node, 'postgres', 'live', 5);

# ----------------------------------------------------------------
# kill -9 of the launcher
# ----------------------------------------------------------------

my $launcher = launcher_pid($node);
like($launcher, qr/^\d+$/, 'launcher running');
my $offset = -s $node->logfile;
my $t0 = [gettimeofday];
ok(kill('KILL', $launcher), 'SIGKILL sent to the launcher');
my $new = wait_for_new_launcher($node, $launcher, 15);
ok(defined $new, 'a new launcher runs after the crash');
my $elapsed = tv_interval($t0);
note(sprintf('launcher back %.2fs after kill -9', $elapsed));
cmp_ok($elapsed, '<', 10, 'within 10s');
ok($node->log_contains(
		qr/background worker "textbook purge launcher" \(PID $launcher\) was terminated by signal 9/,
		$offset),
	'the postmaster saw the launcher die');
ok($node->log_contains(qr/all server processes terminated; reinitializing/, $offset),
	'and reinitialised (crash recovery)');

add_translations($node, 'postgres', 'old', 20);
expire($node, 'postgres', 'old');
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'old%'",
		'0', 5),
	'purging resumes after the launcher crash');
is(count_rows($node, 'postgres', 'live'), '5', 'live rows untouched');
ok(defined wait_for($node, 'postgres',
		"SELECT launcher_pid || '|' || state FROM textbook.purge_status WHERE database = 'postgres'",
		"$new|ok", 5),
	'purge_status: new launcher PID, state ok');

# ----------------------------------------------------------------
# kill -9 of a purge worker, caught in a slow purge
# ----------------------------------------------------------------

add_slow_delete($node, 'postgres', '0.001');
bulk_expired($node, 'postgres', 'big', 10000);
my $worker_q = q{
	SELECT a.pid FROM pg_stat_activity a, textbook.purge_status s
	 WHERE a.backend_type = 'textbook purge worker' AND s.worker_pid = a.pid
	   AND s.rows_last_run >= 100};
ok(defined wait_for($node, 'postgres', "SELECT count(*) FROM ($worker_q) w", '1', 10),
	'a worker is mid-purge');
my $worker = $node->safe_psql('postgres', $worker_q);
$launcher = launcher_pid($node);
$offset = -s $node->logfile;
$t0 = [gettimeofday];
ok(kill('KILL', $worker), 'SIGKILL sent to the worker');
$new = wait_for_new_launcher($node, $launcher, 15);
ok(defined $new, 'a new launcher runs after the worker crash');
$elapsed = tv_interval($t0);
note(sprintf('launcher back %.2fs after kill -9 of the worker', $elapsed));
cmp_ok($elapsed, '<', 10, 'within 10s');
ok($node->log_contains(
		qr/background worker "textbook purge worker" \(PID $worker\) was terminated by signal 9/,
		$offset),
	'the postmaster saw the worker die');
ok($node->log_contains(qr/all server processes terminated; reinitializing/, $offset),
	'and reinitialised (crash recovery)');

ok(defined wait_for($node, 'postgres', "SELECT count(*) FROM ($worker_q) w", '1', 10),
	'a new worker resumes the purge');
drop_slow_delete($node, 'postgres');
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'big%'",
		'0', 15),
	'the backlog is purged after the worker crash');
is(count_rows($node, 'postgres', 'live'), '5', 'live rows untouched');

# after the reinitialisation: no error and no further crash
my $log = slurp_file($node->logfile, $offset);
my $after = substr($log, rindex($log, 'database system is ready to accept connections'));
my @late = grep { /(?:ERROR|FATAL|PANIC|terminated by signal|exited with exit code)/ } split /\n/, $after;
is(scalar(@late), 0, 'no error once the server is back') or diag(join("\n", @late));
is(launcher_pid($node), $new, 'the launcher has not died again');

$node->stop;
done_testing();
