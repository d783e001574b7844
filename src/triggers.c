/*
 * triggers.c
 *		Triggers of the textbook tables: keeping updated_at current, storing
 *		language tags in canonical form, and telling every backend when the
 *		book's documents change.
 *
 * The row triggers take the column name as their argument, so one C
 * function serves every table.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "textbook.h"

static int
trigger_column(TriggerData *trigdata, const char *funcname, Oid expected_type)
{
	Trigger    *trigger = trigdata->tg_trigger;
	TupleDesc	tupdesc = trigdata->tg_relation->rd_att;
	int			attnum;

	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be a BEFORE ROW trigger with the column name as its one argument",
						funcname)));
	attnum = SPI_fnumber(tupdesc, trigger->tgargs[0]);
	if (attnum <= 0 || SPI_gettypeid(tupdesc, attnum) != expected_type)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of type %s not found in relation \"%s\"",
						trigger->tgargs[0], format_type_be(expected_type),
						RelationGetRelationName(trigdata->tg_relation))));
	return attnum;
}

static HeapTuple
new_row(TriggerData *trigdata)
{
	return TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)
		? trigdata->tg_newtuple : trigdata->tg_trigtuple;
}

PG_FUNCTION_INFO_V1(tg_set_updated_at);
/*
 * BEFORE UPDATE: set the column to the transaction's start time, the value
 * now() gives, so that a row and its siblings changed in one transaction
 * agree.
 */
Datum
tg_set_updated_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	int			attnum;
	Datum		value;
	bool		isnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tg_set_updated_at must be called as a trigger")));
	attnum = trigger_column(trigdata, "tg_set_updated_at", TIMESTAMPTZOID);
	value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	return PointerGetDatum(heap_modify_tuple_by_cols(new_row(trigdata),
													 trigdata->tg_relation->rd_att,
													 1, &attnum, &value, &isnull));
}

PG_FUNCTION_INFO_V1(tg_canonicalize_language);
/*
 * BEFORE INSERT OR UPDATE: replace the language tag by its canonical form,
 * or raise an error naming the bad subtag.
 */
Datum
tg_canonicalize_language(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	row;
	int			attnum;
	bool		isnull;
	Datum		value;
	text	   *tag;
	int			len;
	char		canonical[TB_LANGUAGE_TAG_MAXLEN + 1];

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tg_canonicalize_language must be called as a trigger")));
	attnum = trigger_column(trigdata, "tg_canonicalize_language", TEXTOID);
	row = new_row(trigdata);
	value = heap_getattr(row, attnum, trigdata->tg_relation->rd_att, &isnull);
	if (isnull)
		return PointerGetDatum(row);

	tag = DatumGetTextPP(value);
	len = VARSIZE_ANY_EXHDR(tag);
	tb_canonical_language(VARDATA_ANY(tag), len, canonical,
						  trigdata->tg_trigger->tgargs[0]);
	if (strlen(canonical) == (size_t) len && memcmp(canonical, VARDATA_ANY(tag), len) == 0)
		return PointerGetDatum(row);

	isnull = false;
	value = PointerGetDatum(cstring_to_text(canonical));
	return PointerGetDatum(heap_modify_tuple_by_cols(row,
													 trigdata->tg_relation->rd_att,
													 1, &attnum, &value, &isnull));
}

PG_FUNCTION_INFO_V1(tg_documents_changed);
/*
 * AFTER ... FOR EACH STATEMENT on documents: a relcache invalidation of the
 * table, sent to every backend at commit, makes progress.c drop its copy
 * of the book's chapters.
 */
Datum
tg_documents_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tg_documents_changed must be called as an AFTER statement trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
