
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
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

# ----------------------------------------------------------------
# helpers of this test
# ----------------------------------------------------------------

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

# seconds of cycles measured after the warm-up: about 8 cycles a second,
# so the default gives about two thousand; TEXTBOOK_SOAK_SECONDS=3600 soaks
my $duration = $ENV{TEXTBOOK_SOAK_SECONDS} || 250;
die "TEXTBOOK_SOAK_SECONDS must be at least 60\n" if $duration < 60;

my $node = start_textbook_node('memory', conf => q{
textbook.database = 'postgres, db2, missing, noext'
textbook.purge_interval = '100ms'
textbook.purge_batch_size = 10
log_statement = 'none'
});
for my $db ('postgres', 'db2')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db") if $db ne 'postgres';
	install_textbook($node, $db);
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

cmp_ok($cycles, ">=", 5 * $duration, "enough cycles ran ($cycles, at least 5 a second)");
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
