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
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "textbook.h"

static const char *
role_name(Oid roleid)
{
	return roleid == ACL_ID_PUBLIC ? "PUBLIC" : GetUserNameFromId(roleid, false);
}

PG_FUNCTION_INFO_V1(check_install_target);
/*
 * check_install_target() RETURNS void.
 *
 * CREATE EXTENSION installs into schema textbook as it finds it, running
 * the script as a superuser.  A schema that another role owns, or may
 * create objects in, could hold an operator such as textbook.>=(numeric,
 * integer) that fits a constraint better than the built-in one; the
 * constraint would bind to it for good and run it with the rights of
 * whoever writes the table, a superuser included.
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
						role_name(form->nspowner)),
				 errdetail("Objects that role creates in the schema could take the place of built-in operators in the extension's constraints."),
				 errhint("Drop the schema and let CREATE EXTENSION create it, or make a superuser its owner.")));

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

			if ((ACLITEM_GET_PRIVS(*item) & ACL_CREATE) &&
				(item->ai_grantee == ACL_ID_PUBLIC || !superuser_arg(item->ai_grantee)))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("role \"%s\" may create objects in schema \"textbook\"",
								role_name(item->ai_grantee)),
						 errdetail("Objects that role creates in the schema could take the place of built-in operators in the extension's constraints."),
						 errhint("REVOKE CREATE ON SCHEMA textbook FROM %s.",
								 item->ai_grantee == ACL_ID_PUBLIC ? "PUBLIC"
								 : quote_identifier(role_name(item->ai_grantee)))));
		}
	}
	ReleaseSysCache(tup);
	PG_RETURN_VOID();
}
