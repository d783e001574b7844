/*
 * textbook.h
 *		Declarations shared between the source files of the textbook extension.
 */
#ifndef TEXTBOOK_H
#define TEXTBOOK_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "storage/block.h"
#include "utils/timestamp.h"

/* Longest language tag we store; RFC 5646 asks for at least 35. */
#define TB_LANGUAGE_TAG_MAXLEN 64
/* Databases the purge worker can serve (textbook.database) */
#define TB_MAX_DATABASES 32
/* chapter_id, section_id, current_section */
#define TB_REF_MAXCHARS 200

/* languages.c, generated at build time from Debian's iso-codes */
typedef struct TbLanguageCode
{
	char		code[4];
	char		canonical[4];
} TbLanguageCode;

extern const TbLanguageCode tb_language_codes[];
extern const int tb_language_codes_count;
extern const char tb_script_codes[][5];
extern const int tb_script_codes_count;
extern const char tb_region_codes[][3];
extern const int tb_region_codes_count;

/* textbook.c: settings */
extern int	tb_translation_ttl;		/* seconds */
extern char *tb_purge_databases;
extern int	tb_purge_interval;		/* milliseconds */
extern int	tb_purge_batch_size;
extern char *tb_purge_role;

/* validate.c */
extern void tb_canonical_language(const char *tag, int len, char *out,
								  const char *argname);
extern void tb_check_ref(const char *value, int len, const char *name,
						 int sqlstate);
extern bool tb_ref_is_valid(const char *value, int len);
extern const char *tb_shown(const char *value);
struct NumericData;
extern bool tb_numeric_between(struct NumericData *n, const char *low, const char *high);
extern bool tb_numeric_is_id(struct NumericData *n);

/* textbook.c */
struct _SPI_plan;
extern struct _SPI_plan *tb_prepare(const char *sql, int nargs, Oid *argtypes);
extern struct _SPI_plan *tb_prepare_ext(const char *sql, int nargs, Oid *argtypes,
										int cursor_options);
extern Datum tb_row_datum(HeapTuple row, TupleDesc desc);
extern HeapTuple tb_row_tuple(HeapTuple row, TupleDesc desc);
extern void tb_require_user(Datum user_id);
extern Datum tb_confidence_arg(float8 score);
extern int	tb_text_cmp(const text *x, const text *y);

/* translation.c */
typedef struct TbPurgeSweep
{
	bool		active;			/* sweeping block ranges now */
	bool		done;			/* a sweep was considered in this run */
	BlockNumber resume_from;	/* where the previous run's sweep stopped */
	bool		skip_locked;	/* redo the next range skipping locked rows */
	BlockNumber next_block;
	BlockNumber end_block;
	BlockNumber blocks_per_batch;	/* adapted to the share of expired rows */
	BlockNumber min_blocks_per_batch;	/* as if every row had expired */
	int			batch_size;
} TbPurgeSweep;

extern TimestampTz tb_translation_expiry(TimestampTz from);
extern uint64 tb_purge_batch(int batch_size, TbPurgeSweep *sweep, bool *more);

/* purge_worker.c */
extern void tb_purge_shmem_request(void);
extern void tb_register_purge_launcher(void);

/* common argument checks, used by every SQL-callable function */
#define TB_REQUIRE_ARG(fcinfo, n, name) \
	do { \
		if (PG_ARGISNULL(n)) \
			ereport(ERROR, \
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), \
					 errmsg("%s must not be null", (name)))); \
	} while (0)

#endif							/* TEXTBOOK_H */
