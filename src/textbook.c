/*
 * textbook.c
 *		Module load (the textbook.* settings, the shared memory request, the
 *		registration of the purge launcher) and the few helpers every SQL
 *		function uses.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "textbook.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

int			tb_translation_ttl = 30 * SECS_PER_DAY;
char	   *tb_purge_databases = NULL;
int			tb_purge_interval = 60 * 1000;
int			tb_purge_batch_size = 5000;
char	   *tb_purge_role = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;

/*
 * Prepare a statement and keep it for the life of the backend.  Every
 * statement we run names its tables and operators with their schema, so
 * the caller's search_path cannot change what it does.
 */
SPIPlanPtr
tb_prepare(const char *sql, int nargs, Oid *argtypes)
{
	return tb_prepare_ext(sql, nargs, argtypes, 0);
}

/* the same, with cursor options (custom plans, parallel query) */
SPIPlanPtr
tb_prepare_ext(const char *sql, int nargs, Oid *argtypes, int cursor_options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/*
 * The whole-row value in column 1 of an SPI result row ("RETURNING t",
 * "SELECT t FROM ..."), copied out of SPI memory.  A whole-row value has
 * the table's row type exactly, dropped columns included, so it is what a
 * function declared to return that type must return; "RETURNING *" would
 * leave dropped columns out.
 */
Datum
tb_row_datum(HeapTuple row, TupleDesc desc)
{
	bool		isnull;
	Datum		value = SPI_getbinval(row, desc, 1, &isnull);

	if (isnull)
		elog(ERROR, "whole-row value is null");
	return SPI_datumTransfer(value, false, -1);
}

/* the same as a tuple, for a tuplestore */
HeapTuple
tb_row_tuple(HeapTuple row, TupleDesc desc)
{
	HeapTupleHeader header = DatumGetHeapTupleHeader(tb_row_datum(row, desc));
	HeapTuple	tuple = palloc0(sizeof(HeapTupleData));

	tuple->t_len = HeapTupleHeaderGetDatumLength(header);
	ItemPointerSetInvalid(&tuple->t_self);
	tuple->t_tableOid = InvalidOid;
	tuple->t_data = header;
	return tuple;
}

/*
 * The read functions' error for a user id that does not exist (writes get
 * the foreign key's 23503 instead).  The caller has connected to SPI.
 */
void
tb_require_user(Datum user_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};

	if (plan == NULL)
		plan = tb_prepare("SELECT 1 FROM textbook.users WHERE id OPERATOR(pg_catalog.=) $1",
						  1, argtypes);
	if (SPI_execute_plan(plan, &user_id, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "user lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("user %lld does not exist", (long long) DatumGetInt64(user_id))));
}

/*
 * A confidence_score argument (NULL is allowed by the caller) as the
 * numeric the tables store, or the argument's error.
 */
Datum
tb_confidence_arg(float8 score)
{
	if (isnan(score) || score < 0.0 || score > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_confidence_score must be between 0 and 1"),
				 errdetail("The value given is %s.", float8out_internal(score))));
	return DirectFunctionCall1(float8_numeric, Float8GetDatum(score));
}

/* bytewise order of two texts, as COLLATE "C" sorts them */
int
tb_text_cmp(const text *x, const text *y)
{
	int			lx = VARSIZE_ANY_EXHDR(x);
	int			ly = VARSIZE_ANY_EXHDR(y);
	int			c = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(lx, ly));

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

static bool
check_database_list(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names = NIL;
	bool		ok = SplitGUCList(raw, ',', &names);

	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	else if (list_length(names) > TB_MAX_DATABASES)
	{
		GUC_check_errdetail("At most %d databases can be listed.", TB_MAX_DATABASES);
		ok = false;
	}
	else
	{
		ListCell   *lc;

		foreach(lc, names)
			if (strlen(lfirst(lc)) >= NAMEDATALEN)
			{
				GUC_check_errdetail("Database name \"%.20s...\" is longer than %d bytes.",
									(char *) lfirst(lc), NAMEDATALEN - 1);
				ok = false;
				break;
			}
	}
	list_free(names);
	pfree(raw);
	return ok;
}

static void
textbook_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	tb_purge_shmem_request();
}

void
_PG_init(void)
{
	DefineCustomIntVariable("textbook.translation_ttl",
							"How long a cached translation stays live after each write.",
							"upsert_translation and a plain INSERT set expires_at to now() plus this duration.",
							&tb_translation_ttl,
							30 * SECS_PER_DAY, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("textbook.database",
							   "Comma-separated list of databases whose expired translations the purge worker deletes.",
							   "A listed database that does not exist or lacks the extension is logged once and skipped until it appears.",
							   &tb_purge_databases,
							   "postgres",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   check_database_list, NULL, NULL);

	DefineCustomIntVariable("textbook.purge_interval",
							"Time the purge worker sleeps between two purge cycles.",
							NULL,
							&tb_purge_interval,
							60 * 1000, 100, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("textbook.purge_batch_size",
							"Number of expired translations the purge worker deletes per transaction.",
							"When it sweeps a large backlog by block ranges, each range is sized to hold about this many expired rows.",
							&tb_purge_batch_size,
							5000, 1, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("textbook.purge_role",
							   "Role the purge worker connects as.",
							   "Empty means the bootstrap superuser. The role needs LOGIN, CONNECT on the databases, USAGE on schema textbook and SELECT, UPDATE and DELETE on textbook.user_chapter_translations.",
							   &tb_purge_role,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("textbook");

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = textbook_shmem_request;

	tb_register_purge_launcher();
}
