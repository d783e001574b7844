/*
 * install.c
 *		The check the install and upgrade scripts run before they create
 *		anything: the database and the schema textbook are fit to hold the
 *		extension.
 *
 * The scripts create the function, call it and drop it again, so it is no
 * member of the extension.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "textbook.h"

#define PLANTED_DETAIL "Objects another role creates in the schema could take the place of " \
	"built-in operators in the extension's constraints, or of its functions in calls."

/*
 * Every object in the schema with an owner, as (description, owner), the
 * first one owned by a role that is not a superuser.  Text search parsers
 * and templates have no owner: only superusers create them.  Extensions
 * count: a trusted extension's objects belong to the bootstrap superuser,
 * but any database owner may put one into the schema.
 */
static const char foreign_object_sql[] =
"SELECT pg_catalog.format('%s %s', i.type, i.identity), a.rolname"
"  FROM (SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, oid, relowner FROM pg_catalog.pg_class"
"         WHERE relnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, oid, proowner FROM pg_catalog.pg_proc"
"         WHERE pronamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, oid, typowner FROM pg_catalog.pg_type"
"         WHERE typnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, oid, oprowner FROM pg_catalog.pg_operator"
"         WHERE oprnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, oid, collowner FROM pg_catalog.pg_collation"
"         WHERE collnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, oid, conowner FROM pg_catalog.pg_conversion"
"         WHERE connamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, oid, opcowner FROM pg_catalog.pg_opclass"
"         WHERE opcnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, oid, opfowner FROM pg_catalog.pg_opfamily"
"         WHERE opfnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, oid, cfgowner FROM pg_catalog.pg_ts_config"
"         WHERE cfgnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, oid, dictowner FROM pg_catalog.pg_ts_dict"
"         WHERE dictnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, oid, stxowner FROM pg_catalog.pg_statistic_ext"
"         WHERE stxnamespace OPERATOR(pg_catalog.=) $1"
"        UNION ALL SELECT 'pg_catalog.pg_extension'::pg_catalog.regclass, oid, extowner FROM pg_catalog.pg_extension"
"         WHERE extnamespace OPERATOR(pg_catalog.=) $1) o (classid, objid, owner)"
"  JOIN pg_catalog.pg_authid a ON a.oid OPERATOR(pg_catalog.=) o.owner,"
"  LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) i"
" WHERE NOT a.rolsuper"
" ORDER BY 1 LIMIT 1";

static const char extension_schema_sql[] =
"SELECT extnamespace FROM pg_catalog.pg_extension WHERE oid OPERATOR(pg_catalog.=) $1";

/* The extension being created or updated lives in schema textbook. */
static void
check_extension_schema(Oid nsp)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(CurrentExtensionObject)};
	bool		isnull;
	Oid			extnsp;

	if (SPI_execute_with_args(extension_schema_sql, 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "textbook: the extension being installed was not found");
	extnsp = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (extnsp != nsp)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"textbook\" is in schema \"%s\", not in schema \"textbook\"",
						get_namespace_name(extnsp)),
				 errdetail("Its scripts create and change objects in schema \"textbook\", which is now another schema."),
				 errhint("Give the extension's schema its name back before the update.")));
}

/* No object in the schema belongs to a role that is not a superuser. */
static void
check_schema_objects(Oid nsp)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(nsp)};

	if (SPI_execute_with_args(foreign_object_sql, 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "textbook: reading the objects of schema textbook failed");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema \"textbook\" holds %s, owned by role \"%s\", which is not a superuser",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
				 errdetail(PLANTED_DETAIL),
				 errhint("Drop the objects of other roles from the schema, after checking what they are.")));
}

PG_FUNCTION_INFO_V1(check_install_target);
/*
 * check_install_target() RETURNS void.
 *
 * CREATE EXTENSION installs into schema textbook as it finds it, running
 * the script as a superuser.  A schema that another role owns, may create
 * objects in, or has left objects in could hold an operator such as
 * textbook.>=(numeric, integer) that fits a constraint better than the
 * built-in one (the constraint would bind to it for good and run it with
 * the rights of whoever writes the table, a superuser included), or a
 * textbook.export_user_data(integer) that a call with an integer literal
 * picks over ours.  And the update scripts name schema textbook, which must
 * then be the extension's own.
 *
 * json-c reads and writes UTF-8, which only a UTF-8 database stores as it is.
 */
Datum
check_install_target(PG_FUNCTION_ARGS)
{
	Oid			nsp = get_namespace_oid("textbook", false);
	HeapTuple	tup;
	Form_pg_namespace form;
	Datum		acl;
	bool		isnull;

	/* CurrentExtensionObject is the extension only while its script runs */
	if (!creating_extension)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("check_install_target() is for the install and update scripts of extension \"textbook\"")));

	if (GetDatabaseEncoding() != PG_UTF8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("extension \"textbook\" requires a UTF-8 database"),
				 errdetail("Database \"%s\" has encoding %s.",
						   get_database_name(MyDatabaseId), GetDatabaseEncodingName())));

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema %u", nsp);
	form = (Form_pg_namespace) GETSTRUCT(tup);
	if (!superuser_arg(form->nspowner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema \"textbook\" is owned by role \"%s\", which is not a superuser",
						GetUserNameFromId(form->nspowner, false)),
				 errdetail(PLANTED_DETAIL),
				 errhint("Make a superuser the owner of the schema, and drop what other roles created in it.")));

	acl = SysCacheGetAttr(NAMESPACEOID, tup, Anum_pg_namespace_nspacl, &isnull);
	if (!isnull)
	{
		Datum	   *items;
		int			nitems;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ACLITEMOID, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetAclP(acl), ACLITEMOID, typlen, typbyval, typalign,
						  &items, NULL, &nitems);
		for (int i = 0; i < nitems; i++)
		{
			AclItem    *item = (AclItem *) DatumGetPointer(items[i]);

			if (!(ACLITEM_GET_PRIVS(*item) & ACL_CREATE))
				continue;
			if (item->ai_grantee == ACL_ID_PUBLIC)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("every role may create objects in schema \"textbook\""),
						 errdetail(PLANTED_DETAIL),
						 errhint("REVOKE CREATE ON SCHEMA textbook FROM PUBLIC.")));
			if (!superuser_arg(item->ai_grantee))
			{
				char	   *grantee = GetUserNameFromId(item->ai_grantee, false);

				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("role \"%s\" may create objects in schema \"textbook\"", grantee),
						 errdetail(PLANTED_DETAIL),
						 errhint("REVOKE CREATE ON SCHEMA textbook FROM %s.",
								 quote_identifier(grantee))));
			}
		}
	}
	ReleaseSysCache(tup);

	SPI_connect();
	check_extension_schema(nsp);
	check_schema_objects(nsp);
	SPI_finish();
	PG_RETURN_VOID();
}
