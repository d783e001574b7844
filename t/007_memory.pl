
# Copyright (c) textbook contributors
#
# The launcher runs for months: its memory must not grow with the number
# of cycles.  At the shortest interval (100ms), with every kind of listed
# database (served twice, missing, without the extension), its resident
# size (VmRSS, RssAnon) and its memory contexts (pg_log_backend_memory_contexts)
# stay flat after a warm-up.

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

# VmRSS and RssAnon of a process, in kB
sub rss
{
	my ($pid) = @_;
	my $status = slurp_file("/proc/$pid/status");
	my ($vm)   = $status =~ /^VmRSS:\s+(\d+) kB/m;
	my ($anon) = $status =~ /^RssAnon:\s+(\d+) kB/m;
	return ($vm, $anon);
}

# Bytes used in the launcher's TopMemoryContext, and in all its contexts,
# as logged by pg_log_backend_memory_contexts().
sub memory_used
{
	my ($node, $pid) = @_;
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	$node->wait_for_log(qr/\[$pid\] LOG:  Grand total: \d+ bytes/, $offset);
	my $log = slurp_file($node->logfile, $offset);
	my ($top)   = $log =~ /\[$pid\] LOG:  level: 0; TopMemoryContext: \d+ total in \d+ blocks; \d+ free \(\d+ chunks\); (\d+) used/;
	my ($grand) = $log =~ /\[$pid\] LOG:  Grand total: \d+ bytes in \d+ blocks; \d+ free \(\d+ chunks\); (\d+) used/;
	return ($top, $grand);
}

# Cycles run so far: nobody but the purge worker connects to database
# "noext", and each of its visits commits two transactions (the one of
# InitPostgres and the one that looks the extension up).
sub cycles
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT xact_commit / 2 FROM pg_stat_database WHERE datname = 'noext'");
}

# ----------------------------------------------------------------

my $duration = 45;    # seconds of cycles measured after the warm-up

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'textbook'
textbook.database = 'postgres, db2, missing, noext'
textbook.purge_interval = '100ms'
textbook.purge_batch_size = 10
log_statement = 'none'
});
$node->start;
for my $db ('postgres', 'db2')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db") if $db ne 'postgres';
	$node->safe_psql($db, 'CREATE EXTENSION textbook');
	$node->safe_psql($db, $add_user);
	add_translations($node, $db, 'live', 5);
}
$node->safe_psql('postgres', 'CREATE DATABASE noext');

my $launcher = launcher_pid($node);
like($launcher, qr/^\d+$/, 'launcher running');

# warm-up: every path taken a few times, caches filled
for my $db ('postgres', 'db2')
{
	add_translations($node, $db, 'warm', 30);
	expire($node, $db, 'warm');
}
usleep(3_000_000);

my ($vm0, $anon0) = rss($launcher);
my ($top0, $grand0) = memory_used($node, $launcher);
my $cycles0 = cycles($node);
my $t0 = [gettimeofday];
note("after warm-up: VmRSS $vm0 kB, RssAnon $anon0 kB, TopMemoryContext $top0 B used, all contexts $grand0 B used");

# keep the workers busy with something to purge now and then
my $round = 0;
while (tv_interval($t0) < $duration)
{
	$round++;
	for my $db ('postgres', 'db2')
	{
		add_translations($node, $db, "r${round}_", 20);
		expire($node, $db, "r${round}_");
	}
	usleep(2_000_000);
}

my $cycles = cycles($node) - $cycles0;
my ($vm1, $anon1) = rss($launcher);
my ($top1, $grand1) = memory_used($node, $launcher);
note("after $cycles cycles in " . sprintf('%.0f', tv_interval($t0))
	  . "s: VmRSS $vm1 kB, RssAnon $anon1 kB, TopMemoryContext $top1 B used, all contexts $grand1 B used");
note(sprintf('growth per cycle: TopMemoryContext %.1f B, all contexts %.1f B',
		($top1 - $top0) / ($cycles || 1), ($grand1 - $grand0) / ($cycles || 1)));

cmp_ok($cycles, ">", 2 * $duration, "enough cycles ran ($cycles)");
is(launcher_pid($node), $launcher, 'same launcher throughout');
cmp_ok($vm1 - $vm0, '<', 1024, 'VmRSS grows by less than 1 MB');
cmp_ok($anon1 - $anon0, '<', 512, 'RssAnon grows by less than 512 kB');
# a leak of even a few bytes a cycle would show here
cmp_ok($top1 - $top0, '<', 4096, 'TopMemoryContext does not grow with the cycles');
cmp_ok($grand1 - $grand0, '<', 8192, 'memory contexts in all do not grow with the cycles');

for my $db ('postgres', 'db2')
{
	is($node->safe_psql($db,
			'SELECT count(*) FROM textbook.user_chapter_translations WHERE expires_at <= now()'),
		'0', "$db: everything expired has been purged");
}
my @problems = log_problems($node, 0);
is(scalar(@problems), 0, 'no error in the log') or diag(join("\n", @problems));

$node->stop;
done_testing();
