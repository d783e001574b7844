
# Copyright (c) textbook contributors
#
# Several databases in textbook.database: each is purged by its own worker;
# a database that does not exist, lacks the extension, does not allow
# connections or loses the extension is logged once, without a crash loop;
# DROP DATABASE of a served database is not blocked; textbook.purge_role.

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

sub create_served_db
{
	my ($node, $db) = @_;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	install_textbook($node, $db);
}

my %re = (
	missing => sub { qr/LOG:  textbook purge worker: database "$_[0]" does not exist, skipping it until it is created/ },
	noext   => sub { qr/LOG:  textbook purge worker: extension "textbook" is not installed in database "$_[0]", skipping it until it is/ },
	ok      => sub { qr/LOG:  textbook purge worker: purging expired translations in database "$_[0]"/ },
	noconn  => sub { qr/LOG:  textbook purge worker: database "$_[0]" does not allow connections, skipping it/ },
	failed  => sub { qr/LOG:  textbook purge worker: purge of database "$_[0]" failed: / },
);

# ----------------------------------------------------------------

my $node = start_textbook_node('databases', conf => q{
textbook.database = 'db1, db2,nodb ,noext,dropme'
textbook.purge_interval = '200ms'
textbook.purge_batch_size = 100
});
my $launcher = launcher_pid($node);
like($launcher, qr/^\d+$/, 'launcher running');

$node->wait_for_log($re{missing}->('dropme'), 0);
pass('each missing database is announced');

create_served_db($node, 'db1');
create_served_db($node, 'db2');
$node->safe_psql('postgres', 'CREATE DATABASE noext');
for my $db ('db1', 'db2')
{
	add_translations($node, $db, 'live', 3);
	add_translations($node, $db, 'old', 40);
	expire($node, $db, 'old');
}
for my $db ('db1', 'db2')
{
	ok(defined wait_for($node, $db,
			"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'old%'",
			'0', 10),
		"$db: expired rows purged");
	is(count_rows($node, $db, 'live'), '3', "$db: live rows untouched");
}
$node->wait_for_log($re{noext}->('noext'), 0);

# several more cycles, then count what was logged
usleep(2_000_000);
is(log_count($node, $re{missing}->('nodb'), 0), 1,
	'a missing database is logged once over ~10 cycles');
is(log_count($node, $re{missing}->('noext'), 0), 1, 'noext: missing, once');
is(log_count($node, $re{noext}->('noext'), 0), 1,
	'a database without the extension is logged once');
is(log_count($node, $re{ok}->('db1'), 0), 1, 'db1: purging announced once');
is(log_count($node, $re{ok}->('db2'), 0), 1, 'db2: purging announced once');
is(launcher_pid($node), $launcher, 'no crash-restart loop: same launcher');
my @problems = log_problems($node, 0);
is(scalar(@problems), 0, 'no error, no failed worker in the log')
  or diag(join("\n", @problems));

is($node->safe_psql('db1',
		'SELECT database, state, rows_total FROM textbook.purge_status ORDER BY database'),
	join("\n",
		'db1|ok|40', 'db2|ok|40', 'dropme|database does not exist|0',
		'nodb|database does not exist|0', 'noext|extension not installed|0'),
	'purge_status shows every listed database and its state');

# ----------------------------------------------------------------
# The missing database appears, with the extension: it is purged.
# ----------------------------------------------------------------

my $offset = -s $node->logfile;
create_served_db($node, 'nodb');
add_translations($node, 'nodb', 'old', 10);
expire($node, 'nodb', 'old');
ok(defined wait_for($node, 'nodb',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'old%'",
		'0', 10),
	'a database created later is purged');
$node->wait_for_log($re{ok}->('nodb'), $offset);
pass('and its purge is announced');

# ----------------------------------------------------------------
# DROP EXTENSION in a served database, in the middle of a purge: it waits
# for the worker's batch, and the worker's next batch finds the tables
# gone.  That is the state "extension not installed", logged once, not a
# failed purge.
# ----------------------------------------------------------------

add_slow_delete($node, 'db2', '0.005');
bulk_expired($node, 'db2', 'race', 1000);
ok( $node->poll_query_until(
		'db2', q{
SELECT count(*) > 0 FROM pg_stat_activity
WHERE backend_type = 'textbook purge worker' AND datname = 'db2'
  AND query LIKE 'purging expired translations, batch 2%'}),
	'db2: the worker is in the second batch of a slow purge');
$offset = -s $node->logfile;
$node->safe_psql('db2', 'DROP EXTENSION textbook CASCADE');
$node->wait_for_log($re{noext}->('db2'), $offset);
usleep(1_500_000);
is(log_count($node, $re{noext}->('db2'), $offset), 1,
	'DROP EXTENSION is logged once over several cycles');
is(log_count($node, $re{failed}->('db2'), $offset), 0,
	'the purge it cut short is not logged as failed');
@problems = log_problems($node, $offset);
is(scalar(@problems), 0, 'no error after DROP EXTENSION') or diag(join("\n", @problems));
is($node->safe_psql('db1',
		"SELECT state, last_error IS NULL FROM textbook.purge_status WHERE database = 'db2'"),
	'extension not installed|t', 'purge_status: db2 extension not installed, no error');

# ----------------------------------------------------------------
# The list is reloadable: databases leave and join it.  template0 does not
# allow connections; "Books" keeps its case.
# ----------------------------------------------------------------

$offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.database = 'db1, db2, nodb, dropme, template0, Books';
	SELECT pg_reload_conf();
});
$node->wait_for_log($re{noconn}->('template0'), $offset);
pass('template0 is announced as not allowing connections');
ok(defined wait_for($node, 'db1',
		"SELECT string_agg(database, ',' ORDER BY database) FROM textbook.purge_status",
		'Books,db1,db2,dropme,nodb,template0', 5),
	'purge_status follows the reloaded list');
create_served_db($node, 'Books');
add_translations($node, 'Books', 'old', 10);
expire($node, 'Books', 'old');
ok(defined wait_for($node, 'Books',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'old%'",
		'0', 10),
	'a mixed-case database name is served');
usleep(1_000_000);
is(log_count($node, $re{noconn}->('template0'), $offset), 1, 'template0 logged once');
is(launcher_pid($node), $launcher, 'still the same launcher');

my ($ret, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET textbook.database = '"
	  . join(',', map { "d$_" } 1 .. 33) . "'");
isnt($ret, 0, 'more than 32 databases are rejected');
like($err, qr/At most 32 databases can be listed/, '... with a detail saying so');

# ----------------------------------------------------------------
# DROP DATABASE (no FORCE) of a served database, while the worker visits
# it every 200ms: never "being accessed by other users".
# ----------------------------------------------------------------

for my $i (1 .. 5)
{
	create_served_db($node, 'dropme');
	bulk_expired($node, 'dropme', 'old', 3000);
	# every other time, wait for the purge to finish; else drop at once
	if ($i % 2)
	{
		wait_for($node, 'dropme',
			"SELECT count(*) FROM textbook.user_chapter_translations", '0', 10);
	}
	my $t0 = [gettimeofday];
	($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE dropme');
	is($ret, 0, "DROP DATABASE of a served database succeeds (round $i)")
	  or diag($err);
	note(sprintf('DROP DATABASE took %.2fs', tv_interval($t0)));
}
is(launcher_pid($node), $launcher, 'same launcher after the drops');

# ----------------------------------------------------------------
# textbook.purge_role
# ----------------------------------------------------------------

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.database = 'db1, nodb';
	ALTER SYSTEM SET textbook.purge_role = 'purger';
	SELECT pg_reload_conf();
});
$offset = -s $node->logfile;
my $norole_re = qr/LOG:  textbook purge worker: role "purger" does not exist or cannot log in, no database is purged/;
$node->wait_for_log($norole_re, $offset);
add_translations($node, 'db1', 'role', 10);
expire($node, 'db1', 'role');
usleep(1_500_000);
is(count_rows($node, 'db1', 'role'), '10', 'a missing purge role purges nothing');
is(log_count($node, $norole_re, $offset), 1,
	'a missing purge role is logged once (not once per database or cycle)');
is($node->safe_psql('db1', 'SELECT string_agg(state, \',\') FROM textbook.purge_status'),
	'purge role cannot log in,purge role cannot log in', 'purge_status says why');

# the role exists but has no LOGIN: still the same state, no new line
my $norole_lines = log_count($node, $norole_re, $offset);
$node->safe_psql('postgres', 'CREATE ROLE purger NOLOGIN');
usleep(1_000_000);
is(log_count($node, $norole_re, $offset), $norole_lines, 'a NOLOGIN role: no new line');
is(count_rows($node, 'db1', 'role'), '10', 'still nothing purged');

# LOGIN, and SELECT and DELETE on the table in db1 only: not enough (the
# description asks for UPDATE too), and both databases report the error
# once.
$offset = -s $node->logfile;
$node->safe_psql('db1', q{
	GRANT USAGE ON SCHEMA textbook TO purger;
	GRANT SELECT, DELETE ON textbook.user_chapter_translations TO purger;
});
add_translations($node, 'nodb', 'role', 10);
expire($node, 'nodb', 'role');
$node->safe_psql('postgres', 'ALTER ROLE purger LOGIN');
ok(defined wait_for($node, 'db1', q{
	SELECT state || '|' || (last_error LIKE 'permission denied%')
	  FROM textbook.purge_status WHERE database = 'db1'},
		'error|true', 5),
	'SELECT and DELETE are not enough: the purge locks rows FOR UPDATE, as documented');
is(count_rows($node, 'db1', 'role'), '10', 'nothing purged in db1 yet');
ok(defined wait_for($node, 'db1', q{
	SELECT state || '|' || (last_error LIKE 'permission denied%') || '|' || (last_error_at IS NOT NULL)
	  FROM textbook.purge_status WHERE database = 'nodb'},
		'error|true|true', 10),
	'a privilege error is recorded in purge_status');
usleep(1_500_000);
is(log_count($node, $re{failed}->('nodb'), $offset), 1, 'the error is logged once');
is(count_rows($node, 'nodb', 'role'), '10', 'nothing purged where the role lacks privileges');
@problems = log_problems($node, $offset);
is(scalar(@problems), 0, 'no error lines from the workers themselves')
  or diag(join("\n", @problems));

# with UPDATE as well (the purge locks rows FOR UPDATE), db1 is purged
$node->safe_psql('db1', 'GRANT UPDATE ON textbook.user_chapter_translations TO purger');
ok(defined wait_for($node, 'db1',
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE 'role%'",
		'0', 5),
	'purged as the purge role with SELECT, UPDATE and DELETE');
ok(defined wait_for($node, 'db1',
		"SELECT state FROM textbook.purge_status WHERE database = 'db1'", 'ok', 5),
	'db1 state ok');

# CONNECT revoked from the purge role: the worker cannot connect.  That is
# a state like the others: logged once, not an error per cycle, and
# purge_status must not keep saying 'ok'.
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'REVOKE CONNECT ON DATABASE db1 FROM PUBLIC');
usleep(2_000_000);    # ~10 cycles
@problems = log_problems($node, $offset);
cmp_ok(scalar(@problems), '<=', 1,
	'a purge role without CONNECT does not flood the log')
  or diag(scalar(@problems) . " lines in 2s, e.g.:\n" . join("\n", @problems[0 .. 3]));
isnt($node->safe_psql('nodb', "SELECT state FROM textbook.purge_status WHERE database = 'db1'"),
	'ok', 'purge_status does not say ok for a database the worker cannot connect to');
is(launcher_pid($node), $launcher, 'the launcher is still the same process');
$node->safe_psql('postgres', 'GRANT CONNECT ON DATABASE db1 TO PUBLIC');

# ----------------------------------------------------------------
# DROP DATABASE while a long purge runs there.  DROP DATABASE waits 5 s for
# other sessions to leave; a purge that takes longer (here a row trigger
# makes each batch of 100 rows take 0.1 s) must not make it fail.
# ----------------------------------------------------------------

$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET textbook.purge_role;
	ALTER SYSTEM SET textbook.database = 'db1, dropme';
	SELECT pg_reload_conf();
});
create_served_db($node, 'dropme');
add_slow_delete($node, 'dropme', '0.001');
bulk_expired($node, 'dropme', 'old', 15000);
ok(defined wait_for($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'textbook purge worker' AND datname = 'dropme'",
		'1', 10),
	'a worker is purging dropme');
my $t0 = [gettimeofday];
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE dropme');
is($ret, 0, 'DROP DATABASE succeeds while a long purge runs in that database')
  or diag(sprintf("after %.1fs: %s", tv_interval($t0), $err));
$node->safe_psql('postgres', 'DROP DATABASE IF EXISTS dropme WITH (FORCE)');
is(launcher_pid($node), $launcher, 'still the same launcher');

# ----------------------------------------------------------------
# An empty list: nothing to do, nothing logged.
# ----------------------------------------------------------------

$offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.database = '';
	SELECT pg_reload_conf();
});
ok(defined wait_for($node, 'db1', 'SELECT count(*) FROM textbook.purge_status', '0', 5),
	'an empty textbook.database: purge_status is empty');
usleep(500_000);
ok(!$node->log_contains(qr/LOG:  textbook purge worker:/, $offset), 'and nothing is logged');
is(launcher_pid($node), $launcher, 'the launcher idles');

# ----------------------------------------------------------------
# No background worker slot left for the per-database worker: logged
# once, with a hint.
# ----------------------------------------------------------------

$node->safe_psql('postgres', q{
	ALTER SYSTEM SET textbook.database = 'db1';
	ALTER SYSTEM SET max_worker_processes = 2;
});
$node->restart;
$offset = 0;
my $noslot_re = qr/LOG:  textbook purge worker: no background worker slot free to purge database "db1"\n.*HINT:  Increase max_worker_processes\./;
$node->wait_for_log($noslot_re, 0);
usleep(1_000_000);
is(log_count($node, qr/no background worker slot free to purge database "db1"/, 0), 1,
	'no free worker slot is logged once');
is($node->safe_psql('db1', "SELECT state FROM textbook.purge_status WHERE database = 'db1'"),
	'no background worker slot', 'purge_status says so');

$node->stop;
done_testing();
