
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

# ----------------------------------------------------------------
# helpers
# ----------------------------------------------------------------
# ----------------------------------------------------------------
# helpers
# ----------------------------------------------------------------

# Run $query on $db until it prints $expected; return the seconds waited,
# or undef (with a diagnostic) once $timeout seconds have passed.
sub wait_for
{
	my ($node, $db, $query, $expected, $timeout) = @_;
	my $t0 = [gettimeofday];
	my ($out, $err) = ('', '');
	while (1)
	{
		my $ret = $node->psql($db, $query, stdout => \$out, stderr => \$err);
		return tv_interval($t0) if defined $ret && $ret == 0 && $out eq $expected;
		if (tv_interval($t0) > $timeout)
		{
			diag("timed out after ${timeout}s waiting for [$query] to return [$expected];"
				  . " last output [$out], stderr [$err]");
			return undef;
		}
		usleep(50_000);
	}
}

# Number of matches of $re in the server log after byte $offset.
sub log_count
{
	my ($node, $re, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my @m = ($log =~ /$re/g);
	return scalar @m;
}

# Lines of the server log between byte offsets $from and $to (default: the
# end) that report an error or a background worker that did not exit cleanly.
sub log_problems
{
	my ($node, $from, $to) = @_;
	my $log = slurp_file($node->logfile, $from);
	$log = substr($log, 0, $to - $from) if defined $to;
	return grep { /(?:ERROR|FATAL|PANIC|WARNING|terminated by signal|exited with exit code)/ }
	  split /\n/, $log;
}

sub launcher_pid
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'");
}

# users row; password_hash must look like a bcrypt hash
my $add_user = q{
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('alice', 'alice@example.org', '$2b$12$' || repeat('a', 53));
};

# $n translations for chapters "${prefix}1".."${prefix}$n", through the API
sub add_translations
{
	my ($node, $db, $prefix, $n) = @_;
	$node->safe_psql($db, qq{
		SELECT count(*) FROM generate_series(1, $n) g,
		  LATERAL textbook.upsert_translation(
		    (SELECT id FROM textbook.users WHERE username = 'alice'),
		    '$prefix' || g, 'fr', 'orig', 'translated', 0.9)});
}

sub expire
{
	my ($node, $db, $prefix) = @_;
	$node->safe_psql($db, qq{
		UPDATE textbook.user_chapter_translations
		   SET expires_at = now() - interval '1 min'
		 WHERE chapter_id LIKE '$prefix%'});
}

sub count_rows
{
	my ($node, $db, $prefix) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE '$prefix%'");
}

# ----------------------------------------------------------------

# $n rows that expired an hour ago, inserted directly (fast)
sub bulk_expired
{
	my ($node, $db, $prefix, $n) = @_;
	$node->safe_psql($db, qq{
		INSERT INTO textbook.user_chapter_translations
		  (user_id, chapter_id, target_language, original_content, translated_content, expires_at)
		SELECT (SELECT id FROM textbook.users WHERE username = 'alice'), '$prefix' || g, 'fr', 'o', 't',
		       now() - interval '1 hour'
		  FROM generate_series(1, $n) g});
}

# Wait until the server answers queries again and a launcher other than
# $old_pid runs; return its PID, or undef after $timeout seconds.
sub wait_for_new_launcher
{
	my ($node, $old_pid, $timeout) = @_;
	my $waited = wait_for($node, 'postgres', qq{
		SELECT count(*) FILTER (WHERE pid <> $old_pid) || '/' || count(*)
		  FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'},
		'1/1', $timeout);
	return undef unless defined $waited;
	return launcher_pid($node);
}

# ----------------------------------------------------------------

my $node = PostgreSQL::Test::Cluster->new('recovery');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'textbook'
textbook.database = 'postgres'
textbook.purge_interval = '200ms'
textbook.purge_batch_size = 100
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION textbook');
$node->safe_psql('postgres', $add_user);
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

$node->safe_psql('postgres', q{
	CREATE FUNCTION public.slow_delete() RETURNS trigger LANGUAGE plpgsql AS
	  $$ BEGIN PERFORM pg_sleep(0.001); RETURN OLD; END $$;
	CREATE TRIGGER slow_delete BEFORE DELETE ON textbook.user_chapter_translations
	  FOR EACH ROW EXECUTE FUNCTION public.slow_delete();
});
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
$node->safe_psql('postgres', 'DROP TRIGGER slow_delete ON textbook.user_chapter_translations');
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
