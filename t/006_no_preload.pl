
# Copyright (c) textbook contributors
#
# Without shared_preload_libraries: the extension and its SQL functions
# work, purge_status is empty, and textbook.start_purge_worker() starts the
# launcher (true), or says that one runs (false and a notice).

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep gettimeofday tv_interval);
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('nopreload', preload => 0, conf => q{
textbook.database = 'postgres'
textbook.purge_interval = '200ms'
textbook.purge_batch_size = 10
});

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), '', 'textbook not preloaded');
install_textbook($node, 'postgres');
add_translations($node, 'postgres', 'live', 5);
add_translations($node, 'postgres', 'old', 25);
expire($node, 'postgres', 'old');

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM textbook.get_translation(
	  (SELECT id FROM textbook.users WHERE username = 'alice'), 'live2', 'fr')}),
	'1', 'get_translation returns a live row');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM textbook.get_translation(
	  (SELECT id FROM textbook.users WHERE username = 'alice'), 'old2', 'fr')}),
	'0', 'get_translation hides an expired row');
is($node->safe_psql('postgres', 'BEGIN; SELECT textbook.purge_expired_translations(); ROLLBACK'),
	'25', 'purge_expired_translations works without the worker');
is($node->safe_psql('postgres', 'SELECT count(*) FROM textbook.purge_status'), '0',
	'purge_status returns no row');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'textbook purge%'"),
	'0', 'no launcher runs');
usleep(500_000);
is(count_rows($node, 'postgres', 'old'), '25', 'nothing is purged on its own');

# ----------------------------------------------------------------
# start_purge_worker()
# ----------------------------------------------------------------

my $t0 = [gettimeofday];
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT textbook.start_purge_worker()');
is($out, 't', 'start_purge_worker() returns true');
is($err, '', '... without a notice');
my $launcher = launcher_pid($node);
like($launcher, qr/^\d+$/, 'the launcher runs as soon as the function returns');
ok($node->log_contains(qr/textbook purge launcher started for databases "postgres", every 200 ms/),
	'it read the settings from postgresql.conf');
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'old%'",
		'0', 5),
	'expired rows purged');
note(sprintf('purged %.2fs after start_purge_worker()', tv_interval($t0)));
is(count_rows($node, 'postgres', 'live'), '5', 'live rows untouched');
ok(defined wait_for($node, 'postgres', qq{
	SELECT state || '|' || launcher_pid || '|' || rows_total
	  FROM textbook.purge_status WHERE database = 'postgres'},
		"ok|$launcher|25", 5),
	'purge_status: state, launcher PID, rows_total');

($ret, $out, $err) = $node->psql('postgres', 'SELECT textbook.start_purge_worker()');
is($out, 'f', 'a second start_purge_worker() returns false');
like($err, qr/NOTICE:  textbook purge worker is already running with PID $launcher/,
	'... with a notice naming the running launcher');

# only superusers (and whoever is granted EXECUTE) may start it
$node->safe_psql('postgres', 'CREATE ROLE joe LOGIN; GRANT USAGE ON SCHEMA textbook TO joe');
($ret, $out, $err) = $node->psql('postgres', 'SELECT textbook.start_purge_worker()',
	connstr => $node->connstr('postgres') . ' user=joe');
like($err, qr/permission denied for function start_purge_worker/, 'a plain role cannot call start_purge_worker()');

# the dynamically started launcher is restarted too when terminated
$t0 = [gettimeofday];
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok(defined wait_for($node, 'postgres', qq{
	SELECT count(*) FILTER (WHERE pid <> $launcher) || '/' || count(*)
	  FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'},
		'1/1', 10),
	'a terminated launcher is restarted');
note(sprintf('launcher back %.2fs after pg_terminate_backend', tv_interval($t0)));
my $second = launcher_pid($node);
add_translations($node, 'postgres', 'again', 5);
expire($node, 'postgres', 'again');
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'again%'",
		'0', 5),
	'and purges');

# Calling start_purge_worker() while a terminated launcher waits for its
# restart registers a second one; when both run, one gives way.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($second)");
wait_for($node, 'postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'", '0', 5);
($ret, $out, $err) = $node->psql('postgres', 'SELECT textbook.start_purge_worker()');
is($out, 't', 'start_purge_worker() while no launcher runs: true');
$node->wait_for_log(qr/textbook purge launcher already running with PID \d+, exiting/, $offset);
pass('the restarted launcher gives way to the one already running');
usleep(500_000);
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'"),
	'1', 'exactly one launcher runs');
is($node->safe_psql('postgres', q{
	SELECT s.launcher_pid = a.pid FROM textbook.purge_status s
	  JOIN pg_stat_activity a ON a.backend_type = 'textbook purge launcher'}),
	't', 'purge_status names it');

my @problems = grep { !/due to administrator command|exited with exit code 1|ERROR:  permission denied for function start_purge_worker|STATEMENT:  SELECT textbook.start_purge_worker/ }
  log_problems($node, 0);
is(scalar(@problems), 0, 'no unexpected error in the log') or diag(join("\n", @problems));

# A restart forgets the dynamically registered launcher.
$node->restart;
usleep(500_000);
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'textbook purge%'"),
	'0', 'after a restart no launcher runs');
is($node->safe_psql('postgres', 'SELECT count(*) FROM textbook.purge_status'), '0',
	'and purge_status is empty again');

$node->stop;
done_testing();
