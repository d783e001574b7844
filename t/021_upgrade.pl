# ALTER EXTENSION textbook UPDATE: from every earlier version installed by
# its own script, the update path ends in the same catalog as a fresh
# install of the default version, and keeps the data.  With a single
# version this checks that UPDATE is a clean no-op and that the installed
# scripts agree with the control file.
use strict;
use warnings;
use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TextbookTest;

my $node = start_textbook_node('upgrade');

my $default = $node->safe_psql('postgres',
    q{SELECT default_version FROM pg_available_extensions WHERE name = 'textbook'});
like($default, qr/^\d+\.\d+$/, "default version $default");

my @versions = split /\n/, $node->safe_psql('postgres',
    q{SELECT version FROM pg_available_extension_versions WHERE name = 'textbook' ORDER BY string_to_array(version, '.')::int[]});
ok(scalar(grep { $_ eq $default } @versions), 'the default version is installable');

# the catalog of a fresh install, as pg_dump describes it
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION textbook');
my $fresh = $node->safe_psql('fresh', q{
SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n' ORDER BY 1)
FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'textbook')});
my $fresh_schema = schema_of('fresh');

foreach my $from (@versions)
{
    my $db = "from_" . ($from =~ s/\./_/gr);
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    $node->safe_psql($db, "CREATE EXTENSION textbook VERSION '$from'");
    $node->safe_psql($db, q{
INSERT INTO textbook.users (username, email, password_hash)
VALUES ('keeper', 'keeper@example.org', '$2b$12$' || repeat('k', 53))});
    my ($ret, $out, $err) = $node->psql($db, 'ALTER EXTENSION textbook UPDATE');
    is($ret, 0, "ALTER EXTENSION textbook UPDATE from $from succeeds") or diag $err;
    is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'textbook'}),
        $default, "$from is updated to $default");
    is($node->safe_psql($db, q{SELECT count(*) FROM textbook.users WHERE username = 'keeper'}),
        '1', "data kept when updating from $from");
    is($node->safe_psql($db, q{
SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n' ORDER BY 1)
FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'textbook')}),
        $fresh, "extension members after updating from $from match a fresh install");
    is(schema_of($db), $fresh_schema, "schema after updating from $from matches a fresh install");
}

# a second UPDATE when already current is a no-op, with PostgreSQL's notice
my ($ret, $out, $err) = $node->psql('fresh', 'ALTER EXTENSION textbook UPDATE');
is($ret, 0, 'UPDATE at the current version succeeds');
like($err, qr/already installed/, 'and says the version is already installed');

$node->stop;
done_testing();

# columns, constraints, indexes, triggers and function definitions: what
# an upgrade script must reproduce besides the list of members
sub schema_of
{
    my ($db) = @_;
    return $node->safe_psql($db, q{
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
    SELECT format('column %s.%s %s %s %s', table_name, column_name, data_type, is_nullable,
                  coalesce(column_default, '')) AS line
    FROM information_schema.columns WHERE table_schema = 'textbook'
    UNION ALL
    SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'textbook'::regnamespace
    UNION ALL
    SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'textbook'
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(oid)) FROM pg_trigger
    WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'textbook.%'
    UNION ALL
    SELECT format('function %s', pg_get_functiondef(oid)) FROM pg_proc
    WHERE pronamespace = 'textbook'::regnamespace
    UNION ALL
    SELECT format('acl %s %s', relname, relacl) FROM pg_class
    WHERE relnamespace = 'textbook'::regnamespace) s});
}
