/*
 * translation.c
 *		The translation cache: upsert with a restarting expiry, reads of live
 *		rows, and the purge of expired rows that both purge_expired_translations
 *		and the background worker use.
 *
 * Expiry is computed here, in seconds added to an instant, never in SQL
 * with an interval: "now() + interval '30 days'" depends on the session's
 * TimeZone across a daylight-saving change, and the cache must not.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "textbook.h"

#define TRANSLATIONS "textbook.user_chapter_translations"

/* The statements run by this file, prepared once per backend. */
static SPIPlanPtr upsert_plan = NULL;
static SPIPlanPtr get_plan = NULL;
static SPIPlanPtr purge_all_plan = NULL;
static SPIPlanPtr purge_oldest_plan = NULL;
static SPIPlanPtr purge_range_plan = NULL;
static SPIPlanPtr purge_range_skip_locked_plan = NULL;
static SPIPlanPtr count_expired_plan = NULL;

static const char upsert_sql[] =
"INSERT INTO " TRANSLATIONS " AS t"
"  (user_id, chapter_id, target_language, original_content,"
"   translated_content, confidence_score, expires_at)"
" VALUES ($1, $2, $3, $4, $5, $6, $7)"
" ON CONFLICT (user_id, chapter_id, target_language) DO UPDATE SET"
"  original_content = excluded.original_content,"
"  translated_content = excluded.translated_content,"
"  confidence_score = excluded.confidence_score,"
"  updated_at = excluded.updated_at,"
"  expires_at = excluded.expires_at"
" RETURNING t";

static const char get_sql[] =
"SELECT t FROM " TRANSLATIONS " t"
" WHERE user_id OPERATOR(pg_catalog.=) $1"
"   AND chapter_id OPERATOR(pg_catalog.=) $2"
"   AND target_language OPERATOR(pg_catalog.=) $3"
"   AND expires_at OPERATOR(pg_catalog.>) $4";

static const char purge_all_sql[] =
"DELETE FROM " TRANSLATIONS " WHERE expires_at OPERATOR(pg_catalog.<=) $1";

/*
 * Oldest first, through the expires_at index.  Rows another transaction
 * holds are skipped (it is most likely refreshing them), and the outer
 * re-check runs on the row version we locked, so a row refreshed by a
 * concurrent upsert survives.
 */
static const char purge_oldest_sql[] =
"DELETE FROM " TRANSLATIONS
" WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
"   SELECT ctid FROM " TRANSLATIONS
"    WHERE expires_at OPERATOR(pg_catalog.<=) $1"
"    ORDER BY expires_at LIMIT $2"
"    FOR UPDATE SKIP LOCKED))"
"   AND expires_at OPERATOR(pg_catalog.<=) $1";

/*
 * A backlog is swept by block ranges (a TID range scan), as cheap per row
 * as a bulk DELETE, but one short transaction per range.  The expires_at
 * re-check runs on the latest row version, so a refreshed row survives.
 */
static const char purge_range_sql[] =
"DELETE FROM " TRANSLATIONS
" WHERE ctid OPERATOR(pg_catalog.>=) $1 AND ctid OPERATOR(pg_catalog.<) $2"
"   AND expires_at OPERATOR(pg_catalog.<=) $3";

/* the same range, leaving rows another transaction holds for next time */
static const char purge_range_skip_locked_sql[] =
"DELETE FROM " TRANSLATIONS
" WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
"   SELECT ctid FROM " TRANSLATIONS
"    WHERE ctid OPERATOR(pg_catalog.>=) $1 AND ctid OPERATOR(pg_catalog.<) $2"
"      AND expires_at OPERATOR(pg_catalog.<=) $3"
"    FOR UPDATE SKIP LOCKED))"
"   AND expires_at OPERATOR(pg_catalog.<=) $3";

/* counts expired rows through the index, stopping at $2 */
static const char count_expired_sql[] =
"SELECT pg_catalog.count(*) FROM (SELECT 1 FROM " TRANSLATIONS
" WHERE expires_at OPERATOR(pg_catalog.<=) $1 LIMIT $2) s";

/* a backlog of at least this share of the table is swept, not picked */
#define SWEEP_MIN_EXPIRED_FRACTION 0.05

/*
 * A sweep's ranges grow so that each transaction deletes about batch_size
 * rows, up to this many times the blocks that hold batch_size rows.
 */
#define SWEEP_MAX_STRETCH 8

/* blocks between two flushes of a sweep's WAL, see purge_range */
#define SWEEP_FLUSH_BLOCKS 32

TimestampTz
tb_translation_expiry(TimestampTz from)
{
	return from + (TimestampTz) tb_translation_ttl * USECS_PER_SEC;
}

/* the canonical language of a text argument, as a text datum */
static Datum
language_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	text	   *tag = PG_GETARG_TEXT_PP(argno);
	char		canonical[TB_LANGUAGE_TAG_MAXLEN + 1];

	tb_canonical_language(VARDATA_ANY(tag), VARSIZE_ANY_EXHDR(tag), canonical, argname);
	return PointerGetDatum(cstring_to_text(canonical));
}

static void
check_chapter_arg(FunctionCallInfo fcinfo, int argno)
{
	text	   *chapter = PG_GETARG_TEXT_PP(argno);

	tb_check_ref(VARDATA_ANY(chapter), VARSIZE_ANY_EXHDR(chapter), "p_chapter_id",
				 ERRCODE_INVALID_PARAMETER_VALUE);
}

PG_FUNCTION_INFO_V1(translation_expiry);
/* translation_expiry() RETURNS timestamptz: the default of expires_at */
Datum
translation_expiry(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(tb_translation_expiry(GetCurrentTransactionStartTimestamp()));
}

PG_FUNCTION_INFO_V1(upsert_translation);
/*
 * upsert_translation(user_id, chapter_id, target_language, original_content,
 *					  translated_content, confidence_score)
 *		RETURNS textbook.user_chapter_translations
 *
 * One INSERT ... ON CONFLICT DO UPDATE: two sessions writing the same key
 * serialise on the row, the later commit's content stays, and neither sees
 * a unique violation.
 */
Datum
upsert_translation(PG_FUNCTION_ARGS)
{
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	NUMERICOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int			ret;
	Datum		result;

	TB_REQUIRE_ARG(fcinfo, 0, "p_user_id");
	TB_REQUIRE_ARG(fcinfo, 1, "p_chapter_id");
	TB_REQUIRE_ARG(fcinfo, 2, "p_target_language");
	TB_REQUIRE_ARG(fcinfo, 3, "p_original_content");
	TB_REQUIRE_ARG(fcinfo, 4, "p_translated_content");

	values[0] = PG_GETARG_DATUM(0);
	check_chapter_arg(fcinfo, 1);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = language_arg(fcinfo, 2, "p_target_language");
	values[3] = PG_GETARG_DATUM(3);
	values[4] = PG_GETARG_DATUM(4);
	if (PG_ARGISNULL(5))
		nulls[5] = 'n';
	else
		values[5] = tb_confidence_arg(PG_GETARG_FLOAT8(5));
	values[6] = TimestampTzGetDatum(tb_translation_expiry(GetCurrentTransactionStartTimestamp()));

	SPI_connect();
	if (upsert_plan == NULL)
		upsert_plan = tb_prepare(upsert_sql, 7, argtypes);
	ret = SPI_execute_plan(upsert_plan, values, nulls, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "upsert_translation: unexpected SPI result %d", ret);
	result = tb_row_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(get_translation);
/*
 * get_translation(user_id, chapter_id, target_language)
 *		RETURNS SETOF textbook.user_chapter_translations
 *
 * The live row, or no row: an expired row is invisible here even before
 * any purge has run.
 */
Datum
get_translation(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	int			ret;

	TB_REQUIRE_ARG(fcinfo, 0, "p_user_id");
	TB_REQUIRE_ARG(fcinfo, 1, "p_chapter_id");
	TB_REQUIRE_ARG(fcinfo, 2, "p_target_language");

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = language_arg(fcinfo, 2, "p_target_language");
	values[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	SPI_connect();
	if (get_plan == NULL)
		get_plan = tb_prepare(get_sql, 4, argtypes);
	ret = SPI_execute_plan(get_plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "get_translation: unexpected SPI result %d", ret);
	if (SPI_processed == 1)
		tuplestore_puttuple(rsinfo->setResult,
							tb_row_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc));
	SPI_finish();
	return (Datum) 0;
}

/*
 * Delete expired rows, at most limit of them oldest first, or all of them
 * when limit is 0.  The caller has connected to SPI.
 */
static uint64
purge_expired(int64 limit)
{
	Oid			argtypes[2] = {TIMESTAMPTZOID, INT8OID};
	Datum		values[2];
	int			ret;

	values[0] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[1] = Int64GetDatum(limit);
	if (limit == 0)
	{
		if (purge_all_plan == NULL)
			purge_all_plan = tb_prepare(purge_all_sql, 1, argtypes);
		ret = SPI_execute_plan(purge_all_plan, values, NULL, false, 0);
	}
	else
	{
		if (purge_oldest_plan == NULL)
			purge_oldest_plan = tb_prepare(purge_oldest_sql, 2, argtypes);
		ret = SPI_execute_plan(purge_oldest_plan, values, NULL, false, 0);
	}
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "purge of expired translations: unexpected SPI result %d", ret);
	return SPI_processed;
}

/*
 * Set a sweep over the table's blocks from "from" on, about batch_size rows
 * examined, so about as many deleted, per range.  Returns the number of
 * rows per page the table holds on average, or 0 when it does not exist.
 */
static double
plan_sweep(int batch_size, TbPurgeSweep *sweep, BlockNumber from)
{
	Oid			relid = get_relname_relid("user_chapter_translations",
										  get_namespace_oid("textbook", false));
	Relation	rel;
	double		tuples_per_page;

	if (!OidIsValid(relid))
		return 0;
	rel = table_open(relid, AccessShareLock);
	sweep->end_block = RelationGetNumberOfBlocks(rel);
	tuples_per_page = (rel->rd_rel->relpages > 0 && rel->rd_rel->reltuples > 0)
		? rel->rd_rel->reltuples / rel->rd_rel->relpages : 50;
	table_close(rel, AccessShareLock);

	sweep->next_block = from;
	sweep->batch_size = batch_size;
	sweep->min_blocks_per_batch = Max(1, (BlockNumber) (batch_size / Max(tuples_per_page, 1.0)));
	sweep->blocks_per_batch = sweep->min_blocks_per_batch;
	sweep->active = from < sweep->end_block;
	if (from > 0)
		elog(DEBUG1, "textbook purge: resuming the sweep at block %u of %u", from, sweep->end_block);
	return tuples_per_page;
}

/*
 * Is the backlog large enough to sweep the table?  Picking expired rows
 * through the index costs a random heap access each; when more than a few
 * percent of the table has expired, reading every block in order is
 * cheaper.  The count stops at the threshold, so it stays cheap too.
 */
static void
start_sweep(int batch_size, TbPurgeSweep *sweep)
{
	double		tuples_per_page = plan_sweep(batch_size, sweep, 0);
	int64		threshold;
	Oid			argtypes[2] = {TIMESTAMPTZOID, INT8OID};
	Datum		values[2];
	bool		isnull;

	if (tuples_per_page == 0)
		return;
	sweep->active = false;
	threshold = Max((int64) batch_size * 2,
					(int64) (tuples_per_page * sweep->end_block * SWEEP_MIN_EXPIRED_FRACTION));
	if (count_expired_plan == NULL)
		count_expired_plan = tb_prepare(count_expired_sql, 2, argtypes);
	values[0] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[1] = Int64GetDatum(threshold);
	if (SPI_execute_plan(count_expired_plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "counting expired translations failed");
	if (DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) < threshold)
		return;

	sweep->active = sweep->end_block > 0;
	elog(DEBUG1, "textbook purge: at least %lld expired rows, sweeping %u blocks, %u in the first transaction",
		 (long long) threshold, sweep->end_block, sweep->blocks_per_batch);
}

/*
 * The next range's size: the blocks that held batch_size expired rows in
 * the range just swept, growing at most twofold from one range to the next.
 * Ranges sized for every row to have expired would, at 5 % expired, commit
 * every 250 rows: twenty times the commits, each waiting for its WAL flush.
 * The share of expired rows changes along the table (rows written together
 * expire together), so the last range says more than the whole sweep.
 */
static BlockNumber
next_range_size(const TbPurgeSweep *sweep, BlockNumber swept, uint64 deleted)
{
	double		grown = Min((double) sweep->min_blocks_per_batch * SWEEP_MAX_STRETCH,
							2.0 * swept);
	double		wanted;

	if (deleted == 0)
		return (BlockNumber) grown;
	wanted = (double) sweep->batch_size * swept / deleted;
	return (BlockNumber) Max(sweep->min_blocks_per_batch, Min(wanted, grown));
}

static uint64
purge_range(TbPurgeSweep *sweep)
{
	Oid			argtypes[3] = {TIDOID, TIDOID, TIMESTAMPTZOID};
	Datum		values[3];
	ItemPointerData from;
	ItemPointerData to;
	int			ret;
	SPIPlanPtr	plan;
	BlockNumber stop = Min(sweep->end_block, sweep->next_block + sweep->blocks_per_batch);
	BlockNumber piece;
	uint64		deleted = 0;

	/*
	 * Custom plans: a generic plan, costed without the block numbers, can
	 * pick the expires_at index and read the whole backlog for every range.
	 */
	if (sweep->skip_locked)
	{
		if (purge_range_skip_locked_plan == NULL)
			purge_range_skip_locked_plan = tb_prepare_ext(purge_range_skip_locked_sql, 3, argtypes,
														  CURSOR_OPT_CUSTOM_PLAN);
		plan = purge_range_skip_locked_plan;
	}
	else
	{
		if (purge_range_plan == NULL)
			purge_range_plan = tb_prepare_ext(purge_range_sql, 3, argtypes,
											  CURSOR_OPT_CUSTOM_PLAN);
		plan = purge_range_plan;
	}
	values[0] = PointerGetDatum(&from);
	values[1] = PointerGetDatum(&to);
	values[2] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	/*
	 * The range goes piece by piece, and each piece's WAL is flushed before
	 * the next one: an application's commit must write and flush all the WAL
	 * inserted before its commit record, so it then waits for one piece of
	 * ours at most, not for a whole batch (bench/README.md, purge latency).
	 */
	for (piece = sweep->next_block; piece < stop; piece += SWEEP_FLUSH_BLOCKS)
	{
		ItemPointerSet(&from, piece, 0);
		ItemPointerSet(&to, Min(stop, piece + SWEEP_FLUSH_BLOCKS), 0);
		ret = SPI_execute_plan(plan, values, NULL, false, 0);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "purge of expired translations: unexpected SPI result %d", ret);
		deleted += SPI_processed;
		XLogFlush(XactLastRecEnd);
	}
	sweep->skip_locked = false;
	sweep->blocks_per_batch = next_range_size(sweep, stop - sweep->next_block, deleted);
	sweep->next_block = stop;
	if (sweep->next_block >= sweep->end_block)
		sweep->active = false;
	return deleted;
}

/*
 * One batch for the worker, in the caller's transaction.  The first batch
 * of a run checks the size of the backlog (or resumes the sweep a previous
 * run left at sweep->resume_from): a good part of the table is swept by
 * block ranges, batch after batch; otherwise the oldest rows are picked
 * through the expires_at index.  A run that finished a sweep stops there:
 * until vacuum has been, the index still points at every row the sweep
 * deleted, and looking through it for the few rows that expired meanwhile
 * would visit them all again; the next cycle picks those up.  *more says
 * whether another batch is worth running.
 */
uint64
tb_purge_batch(int batch_size, TbPurgeSweep *sweep, bool *more)
{
	uint64		deleted;

	SPI_connect();
	if (!sweep->done)
	{
		sweep->done = true;		/* one sweep per run at most */
		if (sweep->resume_from > 0)
			plan_sweep(batch_size, sweep, sweep->resume_from);
		else
			start_sweep(batch_size, sweep);
	}
	if (sweep->active)
	{
		deleted = purge_range(sweep);
		*more = sweep->active;
	}
	else
	{
		deleted = purge_expired(batch_size);
		*more = (deleted == (uint64) batch_size);
	}
	SPI_finish();
	return deleted;
}

PG_FUNCTION_INFO_V1(purge_expired_translations);
/*
 * purge_expired_translations(p_limit integer DEFAULT NULL) RETURNS bigint:
 * deletes expired rows in the calling transaction and returns how many.
 */
Datum
purge_expired_translations(PG_FUNCTION_ARGS)
{
	int64		limit = 0;
	uint64		deleted;

	if (!PG_ARGISNULL(0))
	{
		limit = PG_GETARG_INT32(0);
		if (limit <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("p_limit must be positive"),
					 errhint("Pass NULL to delete every expired translation.")));
	}
	SPI_connect();
	deleted = purge_expired(limit);
	SPI_finish();
	PG_RETURN_INT64((int64) deleted);
}
