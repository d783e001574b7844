
# Copyright (c) textbook contributors

=pod

=head1 NAME

TextbookTest - helpers shared by the textbook TAP tests (t/0NN_*.pl)

=head1 SYNOPSIS

  use FindBin;
  use lib $FindBin::RealBin;
  use TextbookTest;

  my $node = start_textbook_node('purge', conf => q{
  textbook.database = 'postgres'
  textbook.purge_interval = '200ms'
  });
  install_textbook($node, 'postgres');
  add_translations($node, 'postgres', 'old', 10);
  expire($node, 'postgres', 'old');
  ok(defined wait_for($node, 'postgres', '...', '0', 10), '...');

=head1 DESCRIPTION

Every helper is exported by default.  They take the node
(a PostgreSQL::Test::Cluster) first and, where they query, the database
name second.  Test rows belong to the user "alice" that install_textbook()
creates; chapter ids are a prefix followed by a number, so that a prefix
names one group of rows.

=cut

package TextbookTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep gettimeofday tv_interval);

use parent 'Exporter';

our @EXPORT = qw(
  start_textbook_node
  install_textbook
  add_translations
  expire
  count_rows
  bulk_expired
  add_slow_delete
  drop_slow_delete
  add_batch_log
  wait_for
  log_count
  log_problems
  launcher_pid
  wait_for_new_launcher
  set_purge_interval
);

=head1 SETTING UP

=over

=item start_textbook_node($name, %opts)

Create, initialise and start a node named $name; return it.  Options:
C<conf>, lines appended to postgresql.conf; C<preload> (default 1), whether
shared_preload_libraries = 'textbook' is set; C<init>, a hash ref of
arguments for PostgreSQL::Test::Cluster::init (e.g.
C<< { allows_streaming => 1 } >>).

=cut

sub start_textbook_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	my $conf = "\n";
	$conf .= "shared_preload_libraries = 'textbook'\n" if $opts{preload} // 1;
	(my $extra = $opts{conf} // '') =~ s/^\n+//;
	$node->append_conf('postgresql.conf', $conf . $extra);
	$node->start;
	return $node;
}

=item install_textbook($node, $db)

CREATE EXTENSION textbook in $db, and add the user "alice" (whose
password_hash looks like a bcrypt hash, as the table requires).

=cut

sub install_textbook
{
	my ($node, $db) = @_;
	$node->safe_psql($db, 'CREATE EXTENSION textbook');
	$node->safe_psql($db, q{
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('alice', 'alice@example.org', '$2b$12$' || repeat('a', 53));
});
}

=back

=head1 TRANSLATION ROWS

=over

=item add_translations($node, $db, $prefix, $n)

$n live translations for chapters "${prefix}1" .. "${prefix}$n", written
through textbook.upsert_translation.

=cut

sub add_translations
{
	my ($node, $db, $prefix, $n) = @_;
	$node->safe_psql($db, qq{
		SELECT count(*) FROM generate_series(1, $n) g,
		  LATERAL textbook.upsert_translation(
		    (SELECT id FROM textbook.users WHERE username = 'alice'),
		    '$prefix' || g, 'fr', 'orig', 'translated', 0.9)});
}

=item expire($node, $db, $prefix)

Make the translations of chapters "$prefix%" expire (a minute ago).

=cut

sub expire
{
	my ($node, $db, $prefix) = @_;
	$node->safe_psql($db, qq{
		UPDATE textbook.user_chapter_translations
		   SET expires_at = now() - interval '1 min'
		 WHERE chapter_id LIKE '$prefix%'});
}

=item count_rows($node, $db, $prefix)

The number of translations of chapters "$prefix%", as a string.

=cut

sub count_rows
{
	my ($node, $db, $prefix) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FROM textbook.user_chapter_translations WHERE chapter_id LIKE '$prefix%'");
}

=item bulk_expired($node, $db, $prefix, $n)

$n translations that expired an hour ago, inserted directly into the
table (much faster than add_translations for large backlogs).

=cut

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

=item add_slow_delete($node, $db, $seconds)

A row trigger "slow_delete" on textbook.user_chapter_translations that
sleeps $seconds (a string such as '0.001') per deleted row, so that a
purge lasts long enough to be caught, signalled or killed.

=item drop_slow_delete($node, $db)

Drop that trigger again.

=cut

sub add_slow_delete
{
	my ($node, $db, $seconds) = @_;
	$node->safe_psql($db, qq{
	CREATE FUNCTION public.slow_delete() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$ BEGIN PERFORM pg_sleep($seconds); RETURN OLD; END \$\$;
	CREATE TRIGGER slow_delete BEFORE DELETE ON textbook.user_chapter_translations
	  FOR EACH ROW EXECUTE FUNCTION public.slow_delete();
});
}

sub drop_slow_delete
{
	my ($node, $db) = @_;
	$node->safe_psql($db, 'DROP TRIGGER slow_delete ON textbook.user_chapter_translations');
}

=item add_batch_log($node, $db)

Create public.batch_log and a statement trigger that adds to it one row
per DELETE on the translations table: how many rows the statement
deleted (C<deleted>) and its transaction (C<xid>).  Each DELETE the
worker runs is one piece of a batch; the xid tells its transaction.

=cut

sub add_batch_log
{
	my ($node, $db) = @_;
	$node->safe_psql($db, q{
	CREATE TABLE public.batch_log (deleted bigint, xid xid8 DEFAULT pg_current_xact_id());
	CREATE FUNCTION public.log_batch() RETURNS trigger LANGUAGE plpgsql AS
	  $$ BEGIN INSERT INTO public.batch_log (deleted) SELECT count(*) FROM old_rows; RETURN NULL; END $$;
	CREATE TRIGGER log_batch AFTER DELETE ON textbook.user_chapter_translations
	  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.log_batch();
});
}

=back

=head1 WAITING AND THE SERVER LOG

=over

=item wait_for($node, $db, $query, $expected, $timeout)

Run $query on $db until it prints $expected; return the seconds waited,
or undef (with a diagnostic) once $timeout seconds have passed.  Unlike
poll_query_until, errors are retried and the timeout is the caller's.

=cut

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

=item log_count($node, $re, $offset)

The number of matches of $re in the server log after byte $offset.

=cut

sub log_count
{
	my ($node, $re, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my @m = ($log =~ /$re/g);
	return scalar @m;
}

=item log_problems($node, $from [, $to])

The lines of the server log between byte offsets $from and $to (default:
the end) that report an error or a background worker that did not exit
cleanly.

=cut

sub log_problems
{
	my ($node, $from, $to) = @_;
	my $log = slurp_file($node->logfile, $from);
	$log = substr($log, 0, $to - $from) if defined $to;
	return grep { /(?:ERROR|FATAL|PANIC|WARNING|terminated by signal|exited with exit code)/ }
	  split /\n/, $log;
}

=item set_purge_interval($node, $interval)

ALTER SYSTEM SET textbook.purge_interval to $interval, reload, and wait
until a new session sees the new value.  The launcher rereads the file at
the same signal, so by then it sleeps for the new interval.

=cut

sub set_purge_interval
{
	my ($node, $interval) = @_;
	$node->safe_psql('postgres', qq{
		ALTER SYSTEM SET textbook.purge_interval = '$interval';
		SELECT pg_reload_conf();
	});
	$node->poll_query_until('postgres', qq{
		SELECT current_setting('textbook.purge_interval')::interval = '$interval'::interval})
	  or die "textbook.purge_interval did not become $interval";
}

=back

=head1 THE LAUNCHER

=over

=item launcher_pid($node)

The PID of the running purge launcher, from pg_stat_activity ('' if none
runs).

=cut

sub launcher_pid
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'textbook purge launcher'");
}

=item wait_for_new_launcher($node, $old_pid, $timeout)

Wait until the server answers queries again and a launcher other than
$old_pid runs; return its PID, or undef after $timeout seconds.

=cut

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

=back

=cut

1;
