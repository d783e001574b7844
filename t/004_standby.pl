
# Copyright (c) textbook contributors
#
# A streaming standby with shared_preload_libraries = 'textbook': the
# launcher (BgWorkerStart_RecoveryFinished) does not run there, nothing is
# logged, expired rows replicate untouched; once promoted, the launcher
# starts and purges them.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep gettimeofday tv_interval);
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $primary = start_textbook_node('primary', init => { allows_streaming => 1 }, conf => q{
textbook.database = 'postgres'
textbook.purge_interval = '1h'
});
$primary->wait_for_log(
	qr/textbook purge worker: extension "textbook" is not installed in database "postgres"/, 0);
install_textbook($primary, 'postgres');
add_translations($primary, 'postgres', 'live', 5);
add_translations($primary, 'postgres', 'old', 30);
expire($primary, 'postgres', 'old');

$primary->backup('bkp');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bkp', has_streaming => 1);
# the standby's own interval is short: were it to purge, we would see it
$standby->append_conf('postgresql.conf', q{
textbook.purge_interval = '200ms'
});
$standby->start;

add_translations($primary, 'postgres', 'later', 10);
expire($primary, 'postgres', 'later');
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby in recovery');
is($standby->safe_psql('postgres', q{SHOW shared_preload_libraries}), 'textbook',
	'standby preloads textbook');
usleep(1_000_000);    # five of the standby's intervals
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'textbook purge%'"),
	'0', 'no launcher and no worker on the standby');
is(count_rows($standby, 'postgres', 'old'), '30', 'expired rows replicated untouched');
is(count_rows($standby, 'postgres', 'later'), '10', 'rows written after the backup replicated');
is(count_rows($standby, 'postgres', 'live'), '5', 'live rows replicated');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM textbook.purge_status'), '0',
	'purge_status is empty on the standby');
is($standby->safe_psql('postgres', q{
	SELECT count(*) FROM textbook.get_translation(
	  (SELECT id FROM textbook.users WHERE username = 'alice'), 'live1', 'fr')}),
	'1', 'reads work on the standby');

ok(!$standby->log_contains(qr/LOG:  textbook purge/), 'the standby logs nothing about the purge');
my @problems = log_problems($standby, 0);
is(scalar(@problems), 0, 'no error in the standby log') or diag(join("\n", @problems));

# start_purge_worker on the standby: the launcher waits for the promotion
my ($ret, $out, $err) = $standby->psql('postgres', 'SELECT textbook.start_purge_worker()');
is($out, 't', 'start_purge_worker() on a standby returns true');
like($err, qr/NOTICE:  textbook purge worker will start when recovery ends/,
	'... with a notice that it waits for the end of recovery');

# ----------------------------------------------------------------
# Promotion
# ----------------------------------------------------------------

$primary->stop;
my $offset = -s $standby->logfile;
my $t0 = [gettimeofday];
$standby->promote;
ok(defined wait_for($standby, 'postgres', 'SELECT pg_is_in_recovery()', 'f', 20),
	'standby promoted');
ok(defined wait_for($standby, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'",
		'1', 10),
	'the launcher starts on the promoted standby');
note(sprintf('launcher running %.2fs after pg_ctl promote', tv_interval($t0)));
ok(defined wait_for($standby, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE expires_at <= now()",
		'0', 10),
	'expired rows are purged on the new primary');
note(sprintf('purged %.2fs after pg_ctl promote', tv_interval($t0)));
is(count_rows($standby, 'postgres', 'live'), '5', 'live rows untouched');
ok(defined wait_for($standby, 'postgres',
		"SELECT state || '|' || rows_total FROM textbook.purge_status WHERE database = 'postgres'",
		'ok|40', 5),
	'purge_status on the new primary');

# two launchers were registered (preloaded and start_purge_worker): one runs
usleep(1_000_000);
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'"),
	'1', 'exactly one launcher runs');
is($standby->safe_psql('postgres', q{
	SELECT s.launcher_pid = a.pid FROM textbook.purge_status s
	  JOIN pg_stat_activity a ON a.backend_type = 'textbook purge launcher'}),
	't', 'purge_status names the running launcher');
@problems = log_problems($standby, $offset);
is(scalar(@problems), 0, 'no error after the promotion') or diag(join("\n", @problems));

# the new primary keeps purging
add_translations($standby, 'postgres', 'after', 10);
expire($standby, 'postgres', 'after');
ok(defined wait_for($standby, 'postgres',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'after%'",
		'0', 5),
	'new expired rows purged on the new primary');

$standby->stop;
done_testing();
