
# Copyright (c) textbook contributors
#
# What a sweep of a large backlog writes: transactions of about
# textbook.purge_batch_size deleted rows whatever the share of expired rows,
# and, with wal_compression off, full-page images compressed with lz4 in the
# worker's WAL only; a wal_compression the DBA chose is kept.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('purge_wal', conf => q{
textbook.database = 'postgres'
textbook.purge_interval = '1h'
textbook.purge_batch_size = 100
log_min_messages = debug1
});
install_textbook($node, 'postgres');

# One row per DELETE statement of the worker, with its transaction.
add_batch_log($node, 'postgres');

# $n rows, one in $every expired, spread over the whole table; VACUUM
# ANALYZE so that the worker knows the rows per page; a checkpoint, so that
# the first change to each page writes a full-page image.  Returns the WAL
# position before the purge.
sub backlog
{
	my ($prefix, $n, $every) = @_;
	$node->safe_psql('postgres', qq{
		INSERT INTO textbook.user_chapter_translations
		    (user_id, chapter_id, target_language, original_content, translated_content, expires_at)
		SELECT (SELECT id FROM textbook.users WHERE username = 'alice'), '$prefix' || i, 'fr',
		       repeat('o', 100), repeat('t', 100),
		       CASE WHEN i % $every = 0 THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END
		  FROM generate_series(1, $n) i});
	$node->safe_psql('postgres', 'VACUUM ANALYZE textbook.user_chapter_translations');
	$node->safe_psql('postgres', 'TRUNCATE public.batch_log');
	$node->safe_psql('postgres', 'CHECKPOINT');
	return $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
}

# Wake the worker, wait until no expired "$prefix" row is left, put it back to sleep.
sub purge
{
	my ($prefix) = @_;
	set_purge_interval($node, '100ms');
	ok( $node->poll_query_until('postgres', qq{
		SELECT count(*) = 0 FROM textbook.user_chapter_translations
		 WHERE chapter_id LIKE '$prefix%' AND expires_at <= now()}),
		"backlog $prefix purged");
	set_purge_interval($node, '1h');
	$node->poll_query_until('postgres',
		"SELECT worker_pid IS NULL FROM textbook.purge_status WHERE database = 'postgres'");
}

# The full-page images in the WAL from $start to now, of the heap DELETE
# records of the translations table: (images, images compressed with $method).
sub delete_images
{
	my ($start, $method) = @_;
	my $relfile = $node->safe_psql('postgres',
		"SELECT pg_relation_filenode('textbook.user_chapter_translations')");
	my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	my ($stdout, $stderr);
	IPC::Run::run [ 'pg_waldump', '-p', $node->data_dir . '/pg_wal', '-s', $start,
		'-e', $end, '-r', 'Heap', '-b' ], '>', \$stdout, '2>', \$stderr;
	my ($images, $compressed) = (0, 0);
	my $in_delete = 0;
	for my $line (split /\n/, $stdout)
	{
		if ($line =~ /^rmgr:/)
		{
			$in_delete = $line =~ /desc: DELETE /;
			next;
		}
		next unless $in_delete && $line =~ m{blkref #\d+: rel \d+/\d+/$relfile fork main blk \d+ \(FPW\)};
		$images++;
		$compressed++ if $line =~ /method: $method\b/;
	}
	return ($images, $compressed);
}

# ----------------------------------------------------------------
# Transactions of about purge_batch_size rows: 6000 rows, one in five
# expired (1200), swept in ranges sized by the share seen so far.
# ----------------------------------------------------------------
my $start = backlog('fifth', 6000, 5);
purge('fifth');
ok($node->log_contains(qr/textbook purge: at least \d+ expired rows, sweeping \d+ blocks/),
	'a backlog of one row in five is swept by block ranges');
my ($transactions, $total, $median) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*), sum(deleted), percentile_disc(0.5) WITHIN GROUP (ORDER BY deleted)
	  FROM (SELECT xid, sum(deleted) AS deleted FROM public.batch_log GROUP BY xid) t
	 WHERE deleted > 0});
is($total, '1200', 'every expired row went');
cmp_ok($median, '>=', 70, "half the sweep's transactions deleted at least 70 rows (batch size 100; median $median)");
cmp_ok($median, '<=', 130, "and half at most 130 (median $median)");
cmp_ok($transactions, '<=', 20,
	"1200 rows took $transactions transactions, not the 60 of ranges sized as if every row had expired");
is(count_rows($node, 'postgres', 'fifth'), '4800', 'live rows are untouched');

# ----------------------------------------------------------------
# A range is deleted in pieces of at most 32 blocks, each flushed.  With a
# batch size of 5000 rows of ~30 per page, every range is over 32 blocks.
# ----------------------------------------------------------------
$node->safe_psql('postgres', q{
	TRUNCATE textbook.user_chapter_translations;
	ALTER SYSTEM SET textbook.purge_batch_size = 5000;
	SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', "SELECT current_setting('textbook.purge_batch_size') = '5000'");
$start = backlog('pieces', 20000, 2);
my $writes = $node->safe_psql('postgres', 'SELECT wal_write FROM pg_stat_wal');
purge('pieces');
my ($xids, $statements, $fewest, $deleted) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*), sum(statements), min(statements) FILTER (WHERE NOT last), sum(deleted)
	  FROM (SELECT xid, count(*) AS statements, sum(deleted) AS deleted,
	               xid::text::bigint = max(xid::text::bigint) OVER () AS last
	          FROM public.batch_log GROUP BY xid) t});
is($deleted, '10000', 'the 10000 expired rows went');
cmp_ok($xids, '>=', 2, "in several transactions ($xids)");
cmp_ok($fewest // 0, '>=', 5,
	"each transaction but the last ran 5 or more DELETEs of 32 blocks ($xids transactions, $statements DELETEs)");
# Each flush writes the WAL out (test clusters run with fsync = off, so
# wal_write counts the flushes; wal_sync stays 0).  Without them, only the
# 4 commits and the WAL writer would write.  The worker's statistics reach
# pg_stat_wal when it exits, just after it cleared its pid in purge_status.
ok($node->poll_query_until('postgres', "SELECT wal_write - $writes >= $statements FROM pg_stat_wal"),
	"the WAL was flushed after each of them (pg_stat_wal.wal_write grew by at least $statements)")
  or diag($node->safe_psql('postgres', "SELECT wal_write - $writes FROM pg_stat_wal"));
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.purge_batch_size = 100;
	SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', "SELECT current_setting('textbook.purge_batch_size') = '100'");

# ----------------------------------------------------------------
# Full-page images of the worker's DELETEs: lz4 while wal_compression is
# off, the DBA's choice otherwise; other sessions keep the server setting.
# ----------------------------------------------------------------
my $has_lz4 = $node->safe_psql('postgres',
	"SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'wal_compression'");
SKIP:
{
	skip 'this server is built without lz4', 6 unless $has_lz4 eq 't';

	is($node->safe_psql('postgres', 'SHOW wal_compression'), 'off', 'wal_compression is off');
	my $lsn = backlog('half', 4000, 2);
	purge('half');
	my ($images, $lz4) = delete_images($lsn, 'lz4');
	cmp_ok($images, '>', 10, "the worker's DELETEs wrote full-page images ($images)");
	is($lz4, $images, 'all of them compressed with lz4');

	# An application's DELETE after a checkpoint: uncompressed images.
	$lsn = backlog('app', 2000, 2);
	$node->safe_psql('postgres',
		"DELETE FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'app%' AND expires_at <= now()");
	($images, my $app_lz4) = delete_images($lsn, 'lz4');
	ok($images > 10 && $app_lz4 == 0,
		"an application session's images stay uncompressed ($app_lz4 of $images with lz4)");

	$node->safe_psql('postgres', q{
		ALTER SYSTEM SET wal_compression = 'pglz';
		SELECT pg_reload_conf();
	});
	$node->poll_query_until('postgres', "SELECT current_setting('wal_compression') = 'pglz'");
	$lsn = backlog('chosen', 4000, 2);
	purge('chosen');
	($images, my $pglz) = delete_images($lsn, 'pglz');
	cmp_ok($images, '>', 10, "with wal_compression = pglz the worker wrote $images images");
	is($pglz, $images, 'all of them compressed with pglz, as the DBA chose');
}

$node->stop;
done_testing();
