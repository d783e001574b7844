
# Copyright (c) textbook contributors
#
# CREATE EXTENSION and ALTER EXTENSION UPDATE refuse a schema textbook that
# a non-superuser owns, may create objects in, or has left objects in: such
# a role could plant an operator that a constraint binds to, or a function
# that a call picks over ours, which then runs with the rights of whoever
# writes the table or calls it.  The update refuses an extension whose
# schema is no longer the one named textbook.  Version 1.0 had that hole (numeric columns
# compared with integer constants); the update to 1.1 repairs such an
# install once a superuser owns the schema.  Both refuse a database that is
# not UTF-8.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('install_target');
my $superuser = $node->safe_psql('postgres', 'SELECT current_user');

# psql with verbose errors: (exit code, stderr)
sub try_sql
{
	my ($db, $sql, %opts) = @_;
	my ($ret, $out, $err) = $node->psql($db, "\\set VERBOSITY verbose\n$sql", %opts);
	return ($ret, $err);
}

sub installed_version
{
	my ($db) = @_;
	return $node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'textbook'});
}

# mallory owns a database and plants, in her own schema textbook, an
# operator that fits "confidence_score >= 0" better than pg_catalog's
# numeric >= numeric.  It records that it ran.
my $plant = q{
CREATE SCHEMA textbook;
CREATE FUNCTION textbook.planted_ge(numeric, integer) RETURNS boolean
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('planted.ran', 'yes', false);
    RETURN $1 OPERATOR(pg_catalog.>=) $2::numeric;
END $$;
CREATE OPERATOR textbook.>= (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = textbook.planted_ge);
};
$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
CREATE DATABASE hostile OWNER mallory;
CREATE DATABASE hostile10 OWNER mallory;
});
$node->safe_psql($_, $plant, extra_params => [ '-U', 'mallory' ]) for ('hostile', 'hostile10');

# ----------------------------------------------------------------
# the default version refuses the planted schema, and creates nothing
# ----------------------------------------------------------------

my ($ret, $err) = try_sql('hostile', 'CREATE EXTENSION textbook');
isnt($ret, 0, 'CREATE EXTENSION refuses a schema owned by a non-superuser');
like($err, qr/ERROR:  42501: schema "textbook" is owned by role "mallory", which is not a superuser/,
	'42501, naming the owner');
like($err, qr/HINT:  Make a superuser the owner of the schema, and drop what other roles created in it\./,
	'with a hint');
is(installed_version('hostile'), '', 'nothing is installed');
is($node->safe_psql('hostile',
		q{SELECT count(*) FROM pg_class WHERE relnamespace = 'textbook'::regnamespace}),
	'0', 'no table was created');

# a superuser's schema in which others may create objects: refused too
$node->safe_psql('postgres', q{
CREATE DATABASE granted;
CREATE DATABASE public_create;
});
$node->safe_psql('granted', 'CREATE SCHEMA textbook; GRANT USAGE, CREATE ON SCHEMA textbook TO mallory');
($ret, $err) = try_sql('granted', 'CREATE EXTENSION textbook');
isnt($ret, 0, 'CREATE EXTENSION refuses a schema a non-superuser may create objects in');
like($err, qr/ERROR:  42501: role "mallory" may create objects in schema "textbook"/, '42501, naming the role');
like($err, qr/HINT:  REVOKE CREATE ON SCHEMA textbook FROM mallory\./, 'with the REVOKE to run');
$node->safe_psql('public_create', 'CREATE SCHEMA textbook; GRANT CREATE ON SCHEMA textbook TO PUBLIC');
($ret, $err) = try_sql('public_create', 'CREATE EXTENSION textbook');
like($err, qr/ERROR:  42501: every role may create objects in schema "textbook"\n(?:.*\n)*HINT:  REVOKE CREATE ON SCHEMA textbook FROM PUBLIC\./,
	'PUBLIC too');

# a schema a superuser owns now, but in which mallory left a function that
# an integer argument fits better than the extension's bigint one
$node->safe_psql('postgres', 'CREATE DATABASE leftover OWNER mallory');
$node->safe_psql('leftover', q{
CREATE SCHEMA textbook;
CREATE FUNCTION textbook.export_user_data(p_user_id integer) RETURNS jsonb
    LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
}, extra_params => [ '-U', 'mallory' ]);
$node->safe_psql('leftover', qq{ALTER SCHEMA textbook OWNER TO "$superuser"});
($ret, $err) = try_sql('leftover', 'CREATE EXTENSION textbook');
isnt($ret, 0, 'CREATE EXTENSION refuses a schema holding objects of a non-superuser');
like($err, qr/ERROR:  42501: schema "textbook" holds function textbook\.export_user_data\(integer\), owned by role "mallory", which is not a superuser/,
	'42501, naming the object and its owner');
$node->safe_psql('leftover', 'DROP FUNCTION textbook.export_user_data(integer)');
($ret, $err) = try_sql('leftover', 'CREATE EXTENSION textbook');
is($ret, 0, 'once it is dropped, the install succeeds') or diag $err;

# a trusted extension that mallory put into a superuser's schema (no CREATE
# on the schema needed): its objects are the bootstrap superuser's, the
# extension is hers
$node->safe_psql('postgres', 'CREATE DATABASE trusted OWNER mallory');
$node->safe_psql('trusted', 'CREATE SCHEMA textbook');
$node->safe_psql('trusted', 'CREATE EXTENSION citext SCHEMA textbook', extra_params => [ '-U', 'mallory' ]);
($ret, $err) = try_sql('trusted', 'CREATE EXTENSION textbook');
like($err, qr/ERROR:  42501: schema "textbook" holds extension citext, owned by role "mallory", which is not a superuser/,
	"a non-superuser's extension in the schema is refused");

# a schema a superuser made beforehand, with USAGE for others, is fine
$node->safe_psql('granted', 'REVOKE CREATE ON SCHEMA textbook FROM mallory');
($ret, $err) = try_sql('granted', 'CREATE EXTENSION textbook');
is($ret, 0, "a superuser's own schema textbook is accepted") or diag $err;

# ----------------------------------------------------------------
# version 1.0 in the planted schema: bound to the planted operator; the
# update refuses the schema, then repairs the constraints once a superuser
# owns it
# ----------------------------------------------------------------

$node->safe_psql('hostile10', "CREATE EXTENSION textbook VERSION '1.0'");
my $bound = q{
SELECT count(*) FROM pg_constraint
WHERE connamespace = 'textbook'::regnamespace AND contype = 'c'
  AND pg_get_constraintdef(oid) LIKE '%OPERATOR(textbook.%'};
is($node->safe_psql('hostile10', $bound), '3',
	'1.0 in the planted schema: three constraints use the planted operator');
my $write = q{
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('bob', 'bob@example.org', '$2b$12$' || repeat('b', 53));
SELECT textbook.log_conversation(1, 'q', 'a', '{}', 0.5);
SELECT current_setting('planted.ran', true);
};
like($node->safe_psql('hostile10', $write), qr/\nyes$/,
	'and writing a conversation runs the planted function');

($ret, $err) = try_sql('hostile10', 'ALTER EXTENSION textbook UPDATE');
isnt($ret, 0, 'the update refuses the schema owned by mallory');
like($err, qr/ERROR:  42501: schema "textbook" is owned by role "mallory"/, 'and says why');
is(installed_version('hostile10'), '1.0', 'still 1.0');

$node->safe_psql('hostile10', qq{ALTER SCHEMA textbook OWNER TO "$superuser"});
($ret, $err) = try_sql('hostile10', 'ALTER EXTENSION textbook UPDATE');
like($err, qr/ERROR:  42501: schema "textbook" holds function textbook\.planted_ge\(numeric,integer\), owned by role "mallory"/,
	'a superuser owning the schema is not enough: the planted objects are refused');
is(installed_version('hostile10'), '1.0', 'still 1.0');

# dropping the planted function drops its operator and the constraints bound to it
$node->safe_psql('hostile10', 'DROP FUNCTION textbook.planted_ge(numeric, integer) CASCADE');
($ret, $err) = try_sql('hostile10', 'ALTER EXTENSION textbook UPDATE');
is($ret, 0, 'once the planted objects are gone, the update succeeds') or diag $err;
isnt(installed_version('hostile10'), '1.0', 'updated');
is($node->safe_psql('hostile10', $bound), '0', 'no constraint uses the planted operator any more');
is($node->safe_psql('hostile10', q{
SELECT textbook.log_conversation(1, 'q2', 'a', '{}', 0.5) > 0;
SELECT coalesce(current_setting('planted.ran', true), 'no');
}), "t\nno", 'writing a conversation no longer runs it');
is($node->safe_psql('hostile10', q{SELECT count(*) FROM textbook.conversations}), '2',
	'the data is kept');

# ----------------------------------------------------------------
# the update finds the extension in schema textbook, not a namesake
# ----------------------------------------------------------------

$node->safe_psql('postgres', 'CREATE DATABASE renamed');
$node->safe_psql('renamed', q{
CREATE EXTENSION textbook VERSION '1.0';
ALTER SCHEMA textbook RENAME TO textbook_real;
CREATE SCHEMA textbook;
});
($ret, $err) = try_sql('renamed', 'ALTER EXTENSION textbook UPDATE');
isnt($ret, 0, 'the update refuses an extension whose schema was renamed');
like($err, qr/ERROR:  55000: extension "textbook" is in schema "textbook_real", not in schema "textbook"/,
	'55000, naming both schemas');
is(installed_version('renamed'), '1.0', 'still 1.0');

# ----------------------------------------------------------------
# UTF-8 only
# ----------------------------------------------------------------

$node->safe_psql('postgres',
	q{CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
($ret, $err) = try_sql('latin1', 'CREATE EXTENSION textbook');
isnt($ret, 0, 'CREATE EXTENSION refuses a LATIN1 database');
like($err, qr/ERROR:  0A000: extension "textbook" requires a UTF-8 database\nDETAIL:  Database "latin1" has encoding LATIN1\./,
	'0A000, with the encoding');
is(installed_version('latin1'), '', 'nothing is installed');

# 1.0 installs there; its import refuses to store UTF-8 bytes as LATIN1
$node->safe_psql('latin1', "CREATE EXTENSION textbook VERSION '1.0'");
($ret, $err) = try_sql('latin1',
	q{SELECT textbook.import_documents('[{"chapter_id": "a", "title": "\u00e9", "content": "x"}]')});
like($err, qr/ERROR:  0A000: import_documents requires a UTF-8 database/, 'import_documents refuses it');
is($node->safe_psql('latin1', 'SELECT count(*) FROM textbook.documents'), '0', 'and stores nothing');
($ret, $err) = try_sql('latin1', 'ALTER EXTENSION textbook UPDATE');
like($err, qr/ERROR:  0A000: extension "textbook" requires a UTF-8 database/, 'the update refuses it too');

$node->stop;
done_testing();
