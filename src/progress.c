/*
 * progress.c
 *		Reading progress: record_progress, reset_progress, and the two
 *		aggregates progress_summary (per user) and chapter_progress (per
 *		chapter).
 *
 * The aggregates first reduce the progress rows (one user's through the
 * (user_id, chapter_id) key, or every row grouped by chapter) and only then
 * match them against the book's chapters, which are few and kept per
 * backend until documents change; a hand-written query reads documents
 * every time and typically joins every progress row to it first.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "textbook.h"

/* the most minutes one record_progress call may add */
#define MAX_MINUTES_PER_CALL 1440

static SPIPlanPtr record_plan = NULL;
static SPIPlanPtr reset_all_plan = NULL;
static SPIPlanPtr reset_chapter_plan = NULL;
static SPIPlanPtr book_chapters_plan = NULL;
static SPIPlanPtr user_rows_plan = NULL;
static SPIPlanPtr chapter_totals_plan = NULL;

static const char record_sql[] =
"INSERT INTO textbook.user_reading_progress AS p"
"  (user_id, chapter_id, current_section, completion_percentage,"
"   study_time_minutes, last_read_at)"
" VALUES ($1, $2, $3, $4, $5, $6)"
" ON CONFLICT (user_id, chapter_id) DO UPDATE SET"
"  current_section = excluded.current_section,"
"  completion_percentage = GREATEST(p.completion_percentage, excluded.completion_percentage),"
"  study_time_minutes = p.study_time_minutes OPERATOR(pg_catalog.+) excluded.study_time_minutes,"
"  last_read_at = excluded.last_read_at,"
"  updated_at = excluded.updated_at"
" RETURNING p";

/* the book's chapters, in reading order: by their first document */
static const char book_chapters_sql[] =
"SELECT chapter_id FROM textbook.documents"
" GROUP BY chapter_id ORDER BY pg_catalog.min(id)";

static const char user_rows_sql[] =
"SELECT chapter_id, completion_percentage, study_time_minutes, last_read_at,"
"       current_section"
"  FROM textbook.user_reading_progress WHERE user_id OPERATOR(pg_catalog.=) $1";

static const char chapter_totals_sql[] =
"SELECT chapter_id, pg_catalog.count(*),"
"       pg_catalog.count(*) FILTER (WHERE completion_percentage OPERATOR(pg_catalog.=) 100),"
"       pg_catalog.sum(completion_percentage),"
"       pg_catalog.sum(study_time_minutes),"
"       pg_catalog.max(last_read_at)"
"  FROM textbook.user_reading_progress GROUP BY chapter_id"
" ORDER BY chapter_id COLLATE pg_catalog.\"C\"";

static Datum
numeric_from_int(int64 v)
{
	return NumericGetDatum(int64_to_numeric(v));
}

/* 0.00: the average of nothing, shown with the scale of the others */
static Datum
numeric_zero(void)
{
	return DirectFunctionCall2(numeric_round, numeric_from_int(0), Int32GetDatum(2));
}

static Datum
numeric_div_round(Datum sum, int64 divisor)
{
	Datum		q = DirectFunctionCall2(numeric_div, sum, numeric_from_int(divisor));

	return DirectFunctionCall2(numeric_round, q, Int32GetDatum(2));
}

typedef struct BookChapter
{
	text	   *chapter_id;
	int			position;		/* in reading order */
} BookChapter;

static int
cmp_book_chapter(const void *a, const void *b)
{
	return tb_text_cmp(((const BookChapter *) a)->chapter_id,
					   ((const BookChapter *) b)->chapter_id);
}

/*
 * The book's chapters, sorted bytewise for lookups, each with its position
 * in reading order.  Both aggregates need them on every call, and they
 * change only when documents change, so each backend keeps them: a
 * statement trigger on documents sends a relcache invalidation, and our
 * callback drops the copy.  Under REPEATABLE READ and SERIALIZABLE the
 * chapters are read with the transaction's snapshot instead.
 */
typedef struct BookCache
{
	bool		valid;
	Oid			documents_relid;
	int			nchapters;
	BookChapter *chapters;
	MemoryContext context;
} BookCache;

static BookCache book_cache;

static void
invalidate_book_cache(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == book_cache.documents_relid)
		book_cache.valid = false;
}

/* The caller has connected to SPI. */
static int
book_chapters(BookChapter **chapters)
{
	Oid			relid;
	MemoryContext old;
	bool		snapshot_bound = IsolationUsesXactSnapshot();

	/* see a concurrent import's invalidation even mid-transaction */
	AcceptInvalidationMessages();
	relid = get_relname_relid("documents", get_namespace_oid("textbook", false));
	if (book_cache.valid && book_cache.documents_relid == relid && !snapshot_bound)
	{
		*chapters = book_cache.chapters;
		return book_cache.nchapters;
	}

	if (book_cache.context == NULL)
	{
		book_cache.context = AllocSetContextCreate(TopMemoryContext, "textbook book chapters",
												   ALLOCSET_SMALL_SIZES);
		CacheRegisterRelcacheCallback(invalidate_book_cache, (Datum) 0);
	}
	book_cache.valid = false;
	MemoryContextReset(book_cache.context);

	if (book_chapters_plan == NULL)
		book_chapters_plan = tb_prepare(book_chapters_sql, 0, NULL);
	if (SPI_execute_plan(book_chapters_plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the chapters of textbook.documents failed");

	old = MemoryContextSwitchTo(book_cache.context);
	book_cache.nchapters = SPI_processed;
	book_cache.chapters = palloc(sizeof(BookChapter) * Max(book_cache.nchapters, 1));
	for (int i = 0; i < book_cache.nchapters; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		book_cache.chapters[i].chapter_id = (text *) datumCopy(d, false, -1);
		book_cache.chapters[i].position = i;
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	qsort(book_cache.chapters, book_cache.nchapters, sizeof(BookChapter), cmp_book_chapter);
	book_cache.documents_relid = relid;
	book_cache.valid = !snapshot_bound;

	*chapters = book_cache.chapters;
	return book_cache.nchapters;
}

/* position of the chapter in reading order, or -1 when not in the book */
static int
book_position(text *chapter, BookChapter *chapters, int n)
{
	BookChapter key = {chapter, 0};
	BookChapter *hit = bsearch(&key, chapters, n, sizeof(BookChapter), cmp_book_chapter);

	return hit ? hit->position : -1;
}

PG_FUNCTION_INFO_V1(record_progress);
/*
 * record_progress(user_id, chapter_id, section_id, completion_percentage,
 *				   minutes DEFAULT 0) RETURNS textbook.user_reading_progress
 *
 * One INSERT ... ON CONFLICT DO UPDATE whose update reads the locked row:
 * concurrent calls for one (user, chapter) add up their minutes and keep
 * the highest completion, whatever the order they commit in.
 */
Datum
record_progress(PG_FUNCTION_ARGS)
{
	Oid			argtypes[6] = {INT8OID, TEXTOID, TEXTOID, NUMERICOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[6];
	text	   *chapter;
	text	   *section;
	Datum		completion;
	int32		minutes;
	Datum		result;

	TB_REQUIRE_ARG(fcinfo, 0, "p_user_id");
	TB_REQUIRE_ARG(fcinfo, 1, "p_chapter_id");
	TB_REQUIRE_ARG(fcinfo, 2, "p_section_id");
	TB_REQUIRE_ARG(fcinfo, 3, "p_completion_percentage");
	TB_REQUIRE_ARG(fcinfo, 4, "p_minutes");

	chapter = PG_GETARG_TEXT_PP(1);
	section = PG_GETARG_TEXT_PP(2);
	tb_check_ref(VARDATA_ANY(chapter), VARSIZE_ANY_EXHDR(chapter), "p_chapter_id",
				 ERRCODE_INVALID_PARAMETER_VALUE);
	tb_check_ref(VARDATA_ANY(section), VARSIZE_ANY_EXHDR(section), "p_section_id",
				 ERRCODE_INVALID_PARAMETER_VALUE);

	completion = PG_GETARG_DATUM(3);
	if (numeric_is_nan(DatumGetNumeric(completion)) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, completion, numeric_from_int(0))) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, completion, numeric_from_int(100))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_completion_percentage must be between 0 and 100"),
				 errdetail("The value given is %s.",
						   tb_shown(DatumGetCString(DirectFunctionCall1(numeric_out, completion))))));

	minutes = PG_GETARG_INT32(4);
	if (minutes < 0 || minutes > MAX_MINUTES_PER_CALL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_minutes must be between 0 and %d", MAX_MINUTES_PER_CALL),
				 errdetail("The value given is %d.", minutes),
				 errhint("Report study time as it happens, at most one day per call.")));

	values[0] = PG_GETARG_DATUM(0);
	values[1] = PointerGetDatum(chapter);
	values[2] = PointerGetDatum(section);
	values[3] = completion;
	values[4] = Int32GetDatum(minutes);
	values[5] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	SPI_connect();
	if (record_plan == NULL)
		record_plan = tb_prepare(record_sql, 6, argtypes);
	if (SPI_execute_plan(record_plan, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "record_progress: upsert failed");
	result = tb_row_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(reset_progress);
/* reset_progress(user_id, chapter_id DEFAULT NULL) RETURNS bigint */
Datum
reset_progress(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	uint64		deleted;

	TB_REQUIRE_ARG(fcinfo, 0, "p_user_id");
	values[0] = PG_GETARG_DATUM(0);

	SPI_connect();
	if (PG_ARGISNULL(1))
	{
		if (reset_all_plan == NULL)
			reset_all_plan = tb_prepare("DELETE FROM textbook.user_reading_progress"
										" WHERE user_id OPERATOR(pg_catalog.=) $1",
										1, argtypes);
		if (SPI_execute_plan(reset_all_plan, values, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "reset_progress: delete failed");
	}
	else
	{
		values[1] = PG_GETARG_DATUM(1);
		if (reset_chapter_plan == NULL)
			reset_chapter_plan = tb_prepare("DELETE FROM textbook.user_reading_progress"
											" WHERE user_id OPERATOR(pg_catalog.=) $1"
											"   AND chapter_id OPERATOR(pg_catalog.=) $2",
											2, argtypes);
		if (SPI_execute_plan(reset_chapter_plan, values, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "reset_progress: delete failed");
	}
	deleted = SPI_processed;
	SPI_finish();
	PG_RETURN_INT64((int64) deleted);
}

PG_FUNCTION_INFO_V1(progress_summary);
/*
 * progress_summary(user_id) RETURNS one row of chapters_total,
 * chapters_started, chapters_completed, overall_completion,
 * total_study_minutes, last_read_at, last_chapter_id, last_section_id.
 *
 * overall_completion is the completion summed over the book's chapters
 * divided by their number, so unstarted chapters count as 0; progress on
 * a chapter that has no documents counts as started but not towards it.
 */
Datum
progress_summary(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Oid			argtypes[1] = {INT8OID};
	Datum		user_id;
	BookChapter *chapters;
	int			nchapters;
	SPITupleTable *rows;
	uint64		nrows;
	int64		started = 0;
	int64		completed = 0;
	int64		minutes = 0;
	Datum		completion_sum = numeric_from_int(0);
	Datum		hundred = numeric_from_int(100);
	int			latest = -1;
	TimestampTz latest_at = 0;
	Datum		values[8];
	bool		nulls[8] = {0};
	HeapTuple	result;

	TB_REQUIRE_ARG(fcinfo, 0, "p_user_id");
	user_id = PG_GETARG_DATUM(0);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "progress_summary: return type must be a row type");

	SPI_connect();
	nchapters = book_chapters(&chapters);
	if (user_rows_plan == NULL)
		user_rows_plan = tb_prepare(user_rows_sql, 1, argtypes);
	if (SPI_execute_plan(user_rows_plan, &user_id, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "progress_summary: query failed");
	rows = SPI_tuptable;
	nrows = SPI_processed;
	if (nrows == 0)
		tb_require_user(user_id);

	for (uint64 i = 0; i < nrows; i++)
	{
		HeapTuple	row = rows->vals[i];
		TupleDesc	desc = rows->tupdesc;
		bool		isnull;
		text	   *chapter = DatumGetTextPP(SPI_getbinval(row, desc, 1, &isnull));
		Datum		completion = SPI_getbinval(row, desc, 2, &isnull);
		TimestampTz read_at;

		started++;
		if (DatumGetBool(DirectFunctionCall2(numeric_ge, completion, hundred)))
			completed++;
		if (book_position(chapter, chapters, nchapters) >= 0)
			completion_sum = DirectFunctionCall2(numeric_add, completion_sum, completion);
		minutes += DatumGetInt32(SPI_getbinval(row, desc, 3, &isnull));
		read_at = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
		if (latest < 0 || read_at > latest_at)
		{
			latest = i;
			latest_at = read_at;
		}
	}

	values[0] = Int64GetDatum(nchapters);
	values[1] = Int64GetDatum(started);
	values[2] = Int64GetDatum(completed);
	values[3] = nchapters > 0 ? numeric_div_round(completion_sum, nchapters)
		: numeric_zero();
	values[4] = Int64GetDatum(minutes);
	if (latest >= 0)
	{
		bool		isnull;
		HeapTuple	row = rows->vals[latest];

		values[5] = TimestampTzGetDatum(latest_at);
		values[6] = SPI_getbinval(row, rows->tupdesc, 1, &isnull);
		values[7] = SPI_getbinval(row, rows->tupdesc, 5, &nulls[7]);
	}
	else
		nulls[5] = nulls[6] = nulls[7] = true;

	/* form the result before SPI_finish frees the rows it points into */
	result = heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls);
	result = SPI_copytuple(result);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(result));
}

PG_FUNCTION_INFO_V1(chapter_progress);
/*
 * chapter_progress() RETURNS SETOF (chapter_id, readers, completed_readers,
 * avg_completion, total_study_minutes, last_read_at): every chapter of the
 * book in reading order, unread ones with zeros, then chapters that have
 * progress but no documents.
 */
Datum
chapter_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	BookChapter *chapters;
	int			nchapters;
	text	  **by_position;
	int64	   *totals_row;		/* reading position -> row of the totals, or -1 */
	TupleDesc	desc;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	SPI_connect();
	nchapters = book_chapters(&chapters);
	/* the one query here worth parallel workers: it reads every row */
	if (chapter_totals_plan == NULL)
		chapter_totals_plan = tb_prepare_ext(chapter_totals_sql, 0, NULL,
											 CURSOR_OPT_PARALLEL_OK);
	if (SPI_execute_plan(chapter_totals_plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "chapter_progress: query failed");
	desc = SPI_tuptable->tupdesc;

	by_position = palloc(sizeof(text *) * Max(nchapters, 1));
	totals_row = palloc(sizeof(int64) * Max(nchapters, 1));
	for (int c = 0; c < nchapters; c++)
	{
		by_position[chapters[c].position] = chapters[c].chapter_id;
		totals_row[chapters[c].position] = -1;
	}

	/* book chapters' totals in reading order; the others go out at once */
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		bool		isnull;
		int			pos = book_position(DatumGetTextPP(SPI_getbinval(tup, desc, 1, &isnull)),
										chapters, nchapters);

		if (pos >= 0)
			totals_row[pos] = r;
	}

	for (int pass = 0; pass < 2; pass++)
	{
		/* pass 0: the book's chapters in reading order; pass 1: the others, by id */
		int64		n = pass == 0 ? nchapters : (int64) SPI_processed;

		for (int64 i = 0; i < n; i++)
		{
			Datum		values[6];
			bool		nulls[6] = {0};
			int64		row = pass == 0 ? totals_row[i] : i;
			bool		isnull;

			if (pass == 1 &&
				book_position(DatumGetTextPP(SPI_getbinval(SPI_tuptable->vals[i], desc, 1, &isnull)),
							  chapters, nchapters) >= 0)
				continue;
			if (row < 0)
			{
				values[0] = PointerGetDatum(by_position[i]);
				values[1] = Int64GetDatum(0);
				values[2] = Int64GetDatum(0);
				values[3] = numeric_zero();
				values[4] = Int64GetDatum(0);
				nulls[5] = true;
			}
			else
			{
				HeapTuple	tup = SPI_tuptable->vals[row];
				int64		readers = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));

				values[0] = SPI_getbinval(tup, desc, 1, &isnull);
				values[1] = Int64GetDatum(readers);
				values[2] = SPI_getbinval(tup, desc, 3, &isnull);
				values[3] = numeric_div_round(SPI_getbinval(tup, desc, 4, &isnull), readers);
				values[4] = SPI_getbinval(tup, desc, 5, &isnull);
				values[5] = SPI_getbinval(tup, desc, 6, &nulls[5]);
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	SPI_finish();
	return (Datum) 0;
}
