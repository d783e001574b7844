/*
 * json_io.c
 *		JSON in and out: import_documents (parsed with json-c), the rules of
 *		conversations.context, log_conversation, conversation_history and
 *		export_user_data.
 *
 * json-c is more lenient than JSON itself (NaN, leading zeros, single
 * quotes, raw control characters, \u0000 turned into an embedded NUL, lone
 * surrogates turned into U+FFFD, huge integers clamped).  So every input is
 * first scanned for exactly those, then parsed by json-c in strict mode:
 * whatever PostgreSQL's jsonb input rejects, we reject, with PostgreSQL's
 * message where we can and the line and character where it went wrong.
 * (Running PostgreSQL's own lexer first worked too, but it costs more than
 * json-c's whole parse.)  json-c allocates with malloc; the tree and the
 * tokener are released on every path, in PG_CATCH when an error unwinds.
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * PostgreSQL declares a SQL function json_object() (fmgrprotos.h) and
 * json-c a type of the same name; rename ours while its headers are read.
 */
#define json_object pg_json_object_fn
#include "access/detoast.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#undef json_object

#include <json.h>

#include "textbook.h"

/* Largest import_documents input, checked before any parsing. */
#define TB_JSON_MAX_BYTES (64 * 1024 * 1024)
/* Deepest nesting accepted; documents are three levels deep with metadata. */
#define TB_JSON_MAX_DEPTH 32

static SPIPlanPtr lock_documents_plan = NULL;
static SPIPlanPtr existing_documents_plan = NULL;
static SPIPlanPtr delete_chapters_plan = NULL;
static SPIPlanPtr insert_documents_plan = NULL;
static SPIPlanPtr fingerprint_plan = NULL;
static SPIPlanPtr log_conversation_plan = NULL;
static SPIPlanPtr history_plan = NULL;
static SPIPlanPtr export_plan = NULL;

/* ----------------------------------------------------------------
 * Parsing: a scan for what json-c would let through, then json-c
 * ----------------------------------------------------------------
 */

/* Raise PostgreSQL's JSON syntax error, saying where in the input. */
pg_attribute_noreturn()
static void
json_syntax_error(const char *data, const char *at, const char *detail)
{
	int			line = 1;
	const char *line_start = data;

	for (const char *p = data; p < at; p++)
		if (*p == '\n')
		{
			line++;
			line_start = p + 1;
		}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s", "json"),
			 errdetail_internal("%s", detail),
			 errcontext("JSON data, line %d, character %d", line,
						pg_mbstrlen_with_len(line_start, at - line_start) + 1)));
}

/* the bad token at p, up to the next delimiter, for an error message */
static const char *
token_at(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && q - p < 64 && !strchr(" \t\r\n,:[]{}\"", *q))
		q++;
	return psprintf("Token \"%s\" is invalid.", pnstrdup(p, Max(q - p, 1)));
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* the value of four hex digits at p, or -1 */
static int
hex4(const char *p, const char *end)
{
	int			value = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++)
	{
		int			d = hex_digit(p[i]);

		if (d < 0)
			return -1;
		value = value * 16 + d;
	}
	return value;
}

/*
 * Skip the bytes of a string that need no attention: not a quote, not a
 * backslash, not a control character.  Most of a book is such bytes, so
 * they are tested sixteen at a time where SSE2 is there (all of x86-64).
 */
static inline const char *
skip_plain_chars(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i backslash = _mm_set1_epi8('\\');
	const __m128i below_space = _mm_set1_epi8(0x20);
	const __m128i zero = _mm_setzero_si128();

	while (end - p >= 16)
	{
		__m128i		chunk = _mm_loadu_si128((const __m128i *) p);
		/* bytes < 0x20: saturating 0x20 - byte is non-zero only for them */
		__m128i		special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, quote),
															_mm_cmpeq_epi8(chunk, backslash)),
										   _mm_xor_si128(_mm_cmpeq_epi8(_mm_subs_epu8(below_space, chunk), zero),
														 _mm_set1_epi8((char) 0xff)));

		if (_mm_movemask_epi8(special) != 0)
			break;
		p += 16;
	}
#endif
	while (p < end && (unsigned char) *p >= 0x20 && *p != '"' && *p != '\\')
		p++;
	return p;
}

/*
 * Check a string's body from after its opening quote; return the position
 * after its closing quote.
 */
static const char *
scan_string(const char *data, const char *p, const char *end)
{
	while (p < end)
	{
		unsigned char c;
		int			code;

		p = skip_plain_chars(p, end);
		if (p >= end)
			break;
		c = (unsigned char) *p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			json_syntax_error(data, p,
							  psprintf("Character with value 0x%02x must be escaped.", c));
		if (c != '\\')
		{
			p++;
			continue;
		}
		if (++p >= end)
			break;
		if (*p != 'u')
		{
			p++;				/* json-c checks the other escapes */
			continue;
		}
		code = hex4(p + 1, end);
		if (code < 0)
			json_syntax_error(data, p - 1,
							  "\"\\u\" must be followed by four hexadecimal digits.");
		if (code == 0)
			json_syntax_error(data, p - 1, "\\u0000 cannot be converted to text.");
		if (code >= 0xdc00 && code <= 0xdfff)
			json_syntax_error(data, p - 1, "Unicode low surrogate must follow a high surrogate.");
		p += 5;
		if (code >= 0xd800 && code <= 0xdbff)
		{
			int			low = (end - p >= 2 && p[0] == '\\' && p[1] == 'u') ? hex4(p + 2, end) : -1;

			if (low < 0xdc00 || low > 0xdfff)
				json_syntax_error(data, p, "Unicode low surrogate must follow a high surrogate.");
			p += 6;
		}
	}
	return end;
}

/* Check a number against JSON's grammar; return the position after it. */
static const char *
scan_number(const char *data, const char *p, const char *end)
{
	const char *q = p;

	if (*q == '-')
		q++;
	if (q >= end || !isdigit((unsigned char) *q))
		json_syntax_error(data, p, token_at(p, end));
	if (*q == '0')
		q++;
	else
		while (q < end && isdigit((unsigned char) *q))
			q++;
	if (q < end && *q == '.')
	{
		if (++q >= end || !isdigit((unsigned char) *q))
			json_syntax_error(data, p, token_at(p, end));
		while (q < end && isdigit((unsigned char) *q))
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E'))
	{
		if (++q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || !isdigit((unsigned char) *q))
			json_syntax_error(data, p, token_at(p, end));
		while (q < end && isdigit((unsigned char) *q))
			q++;
	}
	/* "007", "1.5.5", "1x": a token that goes on */
	if (q < end && (isalnum((unsigned char) *q) || *q == '.' || *q == '-' || *q == '+'))
		json_syntax_error(data, p, token_at(p, end));
	return q;
}

/*
 * json-c's strict mode takes some input that PostgreSQL's JSON parser
 * refuses: NaN and Infinity, leading zeros and a bare trailing dot in
 * numbers, single quotes, raw control characters in strings, \u0000 and
 * lone UTF-16 surrogates (which it turns into a NUL and U+FFFD).  One pass
 * finds these, and measures the nesting, before json-c parses; json-c's
 * strict grammar refuses everything else.  sql/json_io.sql checks on
 * random inputs that whatever PostgreSQL refuses is refused here.
 */
static void
scan_json(const char *data, int len)
{
	const char *p = data;
	const char *end = data + len;
	int			depth = 0;

	while (p < end)
	{
		char		c = *p;

		if (c == '"')
			p = scan_string(data, p + 1, end);
		else if (c == '-' || isdigit((unsigned char) c))
			p = scan_number(data, p, end);
		else if (c == '\'' || c == 'N' || c == 'I')
			json_syntax_error(data, p, token_at(p, end));
		else
		{
			if ((c == '[' || c == '{') && ++depth > TB_JSON_MAX_DEPTH)
				json_syntax_error(data, p,
								  psprintf("JSON input is nested more than %d levels deep.",
										   TB_JSON_MAX_DEPTH));
			if (c == ']' || c == '}')
				depth--;
			p++;
		}
	}
}

/* PostgreSQL's wording for what json-c found wrong at "at" */
static const char *
json_c_error_detail(enum json_tokener_error error, const char *data, const char *at,
					const char *end)
{
	switch (error)
	{
		case json_tokener_error_parse_eof:
		case json_tokener_continue:
			return "The input string ended unexpectedly.";
		case json_tokener_error_parse_string:
			/* at is just past the backslash's escape letter or digits */
			while (at > data && *at != '\\')
				at--;
			return psprintf("Escape sequence \"%s\" is invalid.", pnstrdup(at, Min(end - at, 2)));
		case json_tokener_error_parse_array:
		case json_tokener_error_parse_object_key_name:
		case json_tokener_error_parse_object_key_sep:
		case json_tokener_error_parse_object_value_sep:
			{
				const char *desc = json_tokener_error_desc(error);

				return psprintf("%c%s, but found \"%s\".",
								pg_ascii_toupper((unsigned char) desc[0]), desc + 1,
								at < end ? pnstrdup(at, pg_mblen(at)) : "");
			}
		default:
			return at < end ? token_at(at, end) : "The input string ended unexpectedly.";
	}
}

/* json-c parse of input that scan_json has accepted */
static json_object *
parse_json_c(json_tokener *tok, const char *data, int len)
{
	json_object *root;
	enum json_tokener_error error;
	size_t		at;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, data, len);
	at = json_tokener_get_parse_end(tok);
	/* a top-level number or literal ends only at a NUL: feed one */
	if (json_tokener_get_error(tok) == json_tokener_continue)
	{
		root = json_tokener_parse_ex(tok, "", 1);
		at = len;
	}
	/* a JSON null is a NULL object in json-c, and not an error */
	error = json_tokener_get_error(tok);
	if (error != json_tokener_success)
		json_syntax_error(data, data + Min(at, (size_t) len),
						  json_c_error_detail(error, data, data + Min(at, (size_t) len),
											  data + len));
	return root;
}

/* ----------------------------------------------------------------
 * import_documents
 * ----------------------------------------------------------------
 */

typedef struct ImportDoc
{
	text	   *chapter_id;
	text	   *title;
	text	   *content;
	Jsonb	   *metadata;
	int			position;		/* in the input */
	int			chapter;		/* index of its chapter among the distinct ones */
} ImportDoc;

pg_attribute_noreturn()
static void
bad_document(int index, const char *key, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 key ? errmsg("invalid document at $[%d].%s", index, key)
			 : errmsg("invalid document at $[%d]", index),
			 errdetail("%s", detail)));
}

/* json-c clamps integers beyond 64 bits; refuse rather than change them */
static bool
has_clamped_integer(json_object *obj)
{
	switch (json_object_get_type(obj))
	{
		case json_type_int:
			{
				int64_t		v = json_object_get_int64(obj);

				return v == INT64_MAX || v == INT64_MIN;
			}
		case json_type_array:
			for (size_t i = 0; i < json_object_array_length(obj); i++)
				if (has_clamped_integer(json_object_array_get_idx(obj, i)))
					return true;
			return false;
		case json_type_object:
			{
				struct json_object_iterator it = json_object_iter_begin(obj);
				struct json_object_iterator end = json_object_iter_end(obj);

				for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
					if (has_clamped_integer(json_object_iter_peek_value(&it)))
						return true;
				return false;
			}
		default:
			return false;
	}
}

static text *
string_field(json_object *val, int index, const char *key, bool is_ref)
{
	const char *s;
	int			len;

	if (!json_object_is_type(val, json_type_string))
		bad_document(index, key, psprintf("\"%s\" must be a string.", key));
	s = json_object_get_string(val);
	len = json_object_get_string_len(val);
	if (is_ref && !tb_ref_is_valid(s, len))
		bad_document(index, key,
					 psprintf("\"%s\" must be 1 to %d characters without control characters.",
							  key, TB_REF_MAXCHARS));
	return cstring_to_text_with_len(s, len);
}

/*
 * The metadata object as jsonb.  What json-c accepts, jsonb may still
 * refuse (a number beyond numeric's range): say where.
 */
static Jsonb *
metadata_jsonb(json_object *val, int index)
{
	const char *json = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
													  JSON_C_TO_STRING_NOSLASHESCAPE);
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *volatile result = NULL;

	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		bad_document(index, "metadata",
					 psprintf("The metadata cannot be stored as jsonb: %s.", edata->message));
	}
	PG_END_TRY();
	return result;
}

static void
read_document(json_object *elem, int index, ImportDoc *doc)
{
	struct json_object_iterator it;
	struct json_object_iterator end;

	if (!json_object_is_type(elem, json_type_object))
		bad_document(index, NULL, "Each element must be an object with chapter_id, title, content and optional metadata.");

	memset(doc, 0, sizeof(ImportDoc));
	it = json_object_iter_begin(elem);
	end = json_object_iter_end(elem);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
	{
		const char *key = json_object_iter_peek_name(&it);
		json_object *val = json_object_iter_peek_value(&it);

		if (strcmp(key, "chapter_id") == 0)
			doc->chapter_id = string_field(val, index, key, true);
		else if (strcmp(key, "title") == 0)
			doc->title = string_field(val, index, key, false);
		else if (strcmp(key, "content") == 0)
			doc->content = string_field(val, index, key, false);
		else if (strcmp(key, "metadata") == 0)
		{
			if (json_object_is_type(val, json_type_null))
				continue;
			if (!json_object_is_type(val, json_type_object))
				bad_document(index, key, "\"metadata\" must be an object.");
			if (has_clamped_integer(val))
				bad_document(index, key,
							 "Integers in \"metadata\" must be between -9223372036854775807 and 9223372036854775806.");
			doc->metadata = metadata_jsonb(val, index);
		}
		else
			bad_document(index, tb_shown(key),
						 psprintf("Unknown key \"%s\"; a document has chapter_id, title, content and metadata.",
								  tb_shown(key)));
	}
	if (doc->chapter_id == NULL)
		bad_document(index, "chapter_id", "\"chapter_id\" is required.");
	if (doc->title == NULL)
		bad_document(index, "title", "\"title\" is required.");
	if (doc->content == NULL)
		bad_document(index, "content", "\"content\" is required.");
	if (doc->metadata == NULL)
		doc->metadata = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	doc->position = index;
}

static bool
varlena_equal(Datum a, struct varlena *b)
{
	struct varlena *x = PG_DETOAST_DATUM_PACKED(a);
	struct varlena *y = pg_detoast_datum_packed(b);

	return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
		memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

/* by chapter id in byte order, then by position in the input */
static int
cmp_doc_ptr(const void *a, const void *b)
{
	const ImportDoc *x = *(ImportDoc *const *) a;
	const ImportDoc *y = *(ImportDoc *const *) b;
	int			c = tb_text_cmp(x->chapter_id, y->chapter_id);

	return c != 0 ? c : x->position - y->position;
}

static ArrayType *
text_array(text **items, int n)
{
	return construct_array((Datum *) items, n, TEXTOID, -1, false, TYPALIGN_INT);
}

static bool
row_chapter_is(HeapTuple row, TupleDesc desc, text *chapter)
{
	bool		isnull;

	return tb_text_cmp(DatumGetTextPP(SPI_getbinval(row, desc, 1, &isnull)), chapter) == 0;
}

/*
 * Mark the chapters whose stored documents differ from the input's, so
 * that importing the same file twice changes nothing: not even ids or
 * dead rows.  sorted[] holds the documents by chapter, then input order;
 * the stored ones come in the same order, so one merge pass compares them.
 */
static void
find_changed_chapters(ImportDoc **sorted, int ndocs, ArrayType *chapter_ids,
					  bool *changed)
{
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1] = {PointerGetDatum(chapter_ids)};
	uint64		row = 0;
	TupleDesc	desc;

	if (existing_documents_plan == NULL)
		existing_documents_plan = tb_prepare(
											 "SELECT chapter_id, title, content, doc_metadata"
											 " FROM textbook.documents"
											 " WHERE chapter_id OPERATOR(pg_catalog.=) ANY ($1)"
											 " ORDER BY chapter_id COLLATE pg_catalog.\"C\", id",
											 1, argtypes);
	/* not read-only: a new snapshot, taken after we got the lock */
	if (SPI_execute_plan(existing_documents_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "import_documents: reading existing documents failed");
	desc = SPI_tuptable->tupdesc;

	for (int d = 0; d < ndocs;)
	{
		int			chapter = sorted[d]->chapter;
		text	   *id = sorted[d]->chapter_id;
		bool		same = true;

		CHECK_FOR_INTERRUPTS();
		for (; d < ndocs && sorted[d]->chapter == chapter; d++)
		{
			HeapTuple	tup;
			bool		isnull;

			if (!same)
				continue;
			if (row >= SPI_processed || !row_chapter_is(SPI_tuptable->vals[row], desc, id))
			{
				same = false;	/* fewer documents stored */
				continue;
			}
			tup = SPI_tuptable->vals[row++];
			same = varlena_equal(SPI_getbinval(tup, desc, 2, &isnull), (struct varlena *) sorted[d]->title) &&
				varlena_equal(SPI_getbinval(tup, desc, 3, &isnull), (struct varlena *) sorted[d]->content) &&
				varlena_equal(SPI_getbinval(tup, desc, 4, &isnull), (struct varlena *) sorted[d]->metadata);
		}
		/* stored documents beyond the input's, or left after a difference */
		for (; row < SPI_processed && row_chapter_is(SPI_tuptable->vals[row], desc, id); row++)
			same = false;
		changed[chapter] = !same;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * count(*) || '/' || max(id) of the chapters' stored documents, as seen
 * by the given snapshot (InvalidSnapshot: the transaction's).  An import
 * replaces rows by new ones with higher ids, so this changes with it.
 */
static char *
documents_fingerprint(ArrayType *chapter_ids, Snapshot snapshot)
{
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1] = {PointerGetDatum(chapter_ids)};
	int			ret;

	if (fingerprint_plan == NULL)
		fingerprint_plan = tb_prepare("SELECT pg_catalog.count(*)::pg_catalog.text OPERATOR(pg_catalog.||) '/'"
									  "       OPERATOR(pg_catalog.||) pg_catalog.max(id)::pg_catalog.text"
									  " FROM textbook.documents"
									  " WHERE chapter_id OPERATOR(pg_catalog.=) ANY ($1)",
									  1, argtypes);
	ret = snapshot == InvalidSnapshot
		? SPI_execute_plan(fingerprint_plan, values, NULL, true, 1)
		: SPI_execute_snapshot(fingerprint_plan, values, NULL, snapshot, InvalidSnapshot,
							   true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "import_documents: reading document ids failed");
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * Under REPEATABLE READ or SERIALIZABLE our snapshot may predate an import
 * of the same chapters that committed while we waited for the lock; its
 * rows would be invisible to our DELETE and the chapter would end up with
 * both sets.  Compare with the latest snapshot and fail the way
 * PostgreSQL does for a concurrent update.
 */
static void
check_no_concurrent_import(ArrayType *chapter_ids)
{
	char	   *ours;
	char	   *latest;

	if (!IsolationUsesXactSnapshot())
		return;
	ours = documents_fingerprint(chapter_ids, InvalidSnapshot);
	latest = documents_fingerprint(chapter_ids, GetLatestSnapshot());
	if ((ours == NULL) != (latest == NULL) || (ours && strcmp(ours, latest) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent import of the same chapters"),
				 errhint("Retry the transaction.")));
}

/* Replace the documents of the changed chapters by the input's. */
static void
store_documents(ImportDoc *docs, int ndocs, text **chapter_ids, int nchapters,
				const bool *changed)
{
	Oid			argtypes[4] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID};
	Datum		values[4];
	text	  **ids = palloc(sizeof(text *) * ndocs);
	text	  **titles = palloc(sizeof(text *) * ndocs);
	text	  **contents = palloc(sizeof(text *) * ndocs);
	Jsonb	  **metadata = palloc(sizeof(Jsonb *) * ndocs);
	text	  **replaced = palloc(sizeof(text *) * nchapters);
	int			n = 0;
	int			nreplaced = 0;

	for (int c = 0; c < nchapters; c++)
		if (changed[c])
			replaced[nreplaced++] = chapter_ids[c];
	if (nreplaced == 0)
		return;

	if (delete_chapters_plan == NULL)
		delete_chapters_plan = tb_prepare(
										  "DELETE FROM textbook.documents"
										  " WHERE chapter_id OPERATOR(pg_catalog.=) ANY ($1)",
										  1, argtypes);
	values[0] = PointerGetDatum(text_array(replaced, nreplaced));
	if (SPI_execute_plan(delete_chapters_plan, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "import_documents: deleting replaced documents failed");

	/*
	 * In input order, so ids follow the order of each chapter's chunks.  The
	 * arrays are unnested in the target list, in lockstep: in FROM, each
	 * would first be copied into a tuplestore (spilling a big book to disk).
	 */
	for (int d = 0; d < ndocs; d++)
	{
		if (!changed[docs[d].chapter])
			continue;
		ids[n] = docs[d].chapter_id;
		titles[n] = docs[d].title;
		contents[n] = docs[d].content;
		metadata[n] = docs[d].metadata;
		n++;
	}

	if (insert_documents_plan == NULL)
		insert_documents_plan = tb_prepare(
										   "INSERT INTO textbook.documents (chapter_id, title, content, doc_metadata)"
										   " SELECT pg_catalog.unnest($1), pg_catalog.unnest($2),"
										   "        pg_catalog.unnest($3), pg_catalog.unnest($4)",
										   4, argtypes);
	values[0] = PointerGetDatum(text_array(ids, n));
	values[1] = PointerGetDatum(text_array(titles, n));
	values[2] = PointerGetDatum(text_array(contents, n));
	values[3] = PointerGetDatum(construct_array((Datum *) metadata, n, JSONBOID, -1,
												false, TYPALIGN_INT));
	if (SPI_execute_plan(insert_documents_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "import_documents: inserting documents failed");
}

/*
 * Parse the validated input with json-c and copy every document out of the
 * json-c tree into palloc'd memory; the tree is freed on every path.
 */
static int
read_documents(const char *data, int len, ImportDoc **docs_out)
{
	json_tokener *volatile tok = NULL;
	json_object *volatile root = NULL;
	ImportDoc  *volatile docs = NULL;
	volatile int ndocs = 0;

	PG_TRY();
	{
		tok = json_tokener_new_ex(TB_JSON_MAX_DEPTH + 1);
		if (tok == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		root = parse_json_c(tok, data, len);
		if (!json_object_is_type(root, json_type_array))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("import_documents input must be a JSON array of documents")));

		ndocs = json_object_array_length(root);
		docs = palloc(sizeof(ImportDoc) * Max(ndocs, 1));
		for (int i = 0; i < ndocs; i++)
		{
			CHECK_FOR_INTERRUPTS();
			read_document(json_object_array_get_idx(root, i), i, &docs[i]);
		}
	}
	PG_CATCH();
	{
		if (root)
			json_object_put(root);
		if (tok)
			json_tokener_free(tok);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_object_put(root);
	json_tokener_free(tok);

	*docs_out = docs;
	return ndocs;
}

PG_FUNCTION_INFO_V1(import_documents);
/*
 * import_documents(p_json text) RETURNS bigint
 *
 * For every chapter_id in the input, that chapter's stored documents are
 * replaced by the input's, in input order, in the caller's transaction.
 * Concurrent imports are serialised by a SHARE ROW EXCLUSIVE lock on
 * documents, which readers do not wait for.
 */
Datum
import_documents(PG_FUNCTION_ARGS)
{
	Size		rawsize;
	text	   *input;
	ImportDoc  *docs;
	ImportDoc **sorted;
	int			ndocs;
	text	  **chapter_ids;
	int			nchapters = 0;
	ArrayType  *chapter_array;
	bool	   *changed;

	TB_REQUIRE_ARG(fcinfo, 0, "p_json");
	/* json-c decodes \u escapes to UTF-8; version 1.0 installs in any database */
	if (GetDatabaseEncoding() != PG_UTF8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("import_documents requires a UTF-8 database"),
				 errdetail("This database has encoding %s.", GetDatabaseEncodingName())));
	rawsize = toast_raw_datum_size(PG_GETARG_DATUM(0)) - VARHDRSZ;
	if (rawsize > TB_JSON_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("import_documents input is too large"),
				 errdetail("The input has %zu bytes; the limit is %d bytes.",
						   rawsize, TB_JSON_MAX_BYTES),
				 errhint("Import the book in several calls, for example one per chapter.")));
	input = PG_GETARG_TEXT_PP(0);
	scan_json(VARDATA_ANY(input), VARSIZE_ANY_EXHDR(input));
	ndocs = read_documents(VARDATA_ANY(input), VARSIZE_ANY_EXHDR(input), &docs);
	if (ndocs == 0)
		PG_RETURN_INT64(0);

	/* group the documents by chapter */
	sorted = palloc(sizeof(ImportDoc *) * ndocs);
	for (int i = 0; i < ndocs; i++)
		sorted[i] = &docs[i];
	qsort(sorted, ndocs, sizeof(ImportDoc *), cmp_doc_ptr);
	chapter_ids = palloc(sizeof(text *) * ndocs);
	for (int i = 0; i < ndocs; i++)
	{
		if (nchapters == 0 || tb_text_cmp(chapter_ids[nchapters - 1], sorted[i]->chapter_id) != 0)
			chapter_ids[nchapters++] = sorted[i]->chapter_id;
		sorted[i]->chapter = nchapters - 1;
	}
	chapter_array = text_array(chapter_ids, nchapters);
	changed = palloc0(sizeof(bool) * nchapters);

	SPI_connect();
	if (lock_documents_plan == NULL)
		lock_documents_plan = tb_prepare("LOCK TABLE textbook.documents IN SHARE ROW EXCLUSIVE MODE",
										 0, NULL);
	if (SPI_execute_plan(lock_documents_plan, NULL, NULL, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "import_documents: could not lock textbook.documents");
	check_no_concurrent_import(chapter_array);
	find_changed_chapters(sorted, ndocs, chapter_array, changed);
	store_documents(docs, ndocs, chapter_ids, nchapters, changed);
	SPI_finish();
	PG_RETURN_INT64(ndocs);
}

/* ----------------------------------------------------------------
 * Conversations
 * ----------------------------------------------------------------
 */

pg_attribute_noreturn()
static void
bad_context(int sqlstate, const char *path, const char *detail)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid conversation context at %s", path),
			 errdetail("%s", detail),
			 errhint("context is an object; its optional \"sources\" is an array of objects with chapter_id (string, required), section_id (string), document_id (integer) and score (number from 0 to 1).")));
}

static void
check_source(JsonbValue *source, int index, int sqlstate)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	bool		has_chapter = false;

	if (source->type != jbvBinary || !JsonContainerIsObject(source->val.binary.data))
		bad_context(sqlstate, psprintf("$.sources[%d]", index), "Each source must be an object.");

	it = JsonbIteratorInit(source->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *path;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		path = psprintf("$.sources[%d].%s", index, tb_shown(key));
		if (strcmp(key, "chapter_id") == 0 || strcmp(key, "section_id") == 0)
		{
			if (v.type != jbvString || !tb_ref_is_valid(v.val.string.val, v.val.string.len))
				bad_context(sqlstate, path,
							psprintf("\"%s\" must be a string of 1 to %d characters without control characters.",
									 key, TB_REF_MAXCHARS));
			has_chapter |= key[0] == 'c';
		}
		else if (strcmp(key, "document_id") == 0)
		{
			if (v.type != jbvNumeric || !tb_numeric_is_id(v.val.numeric))
				bad_context(sqlstate, path, "\"document_id\" must be a positive integer.");
		}
		else if (strcmp(key, "score") == 0)
		{
			if (v.type != jbvNumeric || !tb_numeric_between(v.val.numeric, "0", "1"))
				bad_context(sqlstate, path, "\"score\" must be a number from 0 to 1.");
		}
		else
			bad_context(sqlstate, psprintf("$.sources[%d]", index),
						psprintf("Unknown key \"%s\" in a source.", tb_shown(key)));
	}
	if (!has_chapter)
		bad_context(sqlstate, psprintf("$.sources[%d]", index), "\"chapter_id\" is required in every source.");
}

static void
check_context(Jsonb *jb, int sqlstate)
{
	JsonbValue *sources;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		bad_context(sqlstate, "$", "The context must be a JSON object.");

	sources = getKeyJsonValueFromContainer(&jb->root, "sources", 7, NULL);
	if (sources == NULL)
		return;
	if (sources->type != jbvBinary || !JsonContainerIsArray(sources->val.binary.data))
		bad_context(sqlstate, "$.sources", "\"sources\" must be an array.");
	{
		JsonbIterator *it = JsonbIteratorInit(sources->val.binary.data);
		JsonbValue	v;
		JsonbIteratorToken tok;
		int			index = 0;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_ELEM)
				check_source(&v, index++, sqlstate);
	}
}

PG_FUNCTION_INFO_V1(check_conversation_context);
/* check_conversation_context(jsonb) RETURNS boolean: the CHECK of conversations.context */
Datum
check_conversation_context(PG_FUNCTION_ARGS)
{
	check_context(PG_GETARG_JSONB_P(0), ERRCODE_CHECK_VIOLATION);
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(log_conversation);
/*
 * log_conversation(user_id, question, answer, context jsonb DEFAULT '{}',
 *					confidence_score DEFAULT NULL) RETURNS bigint
 */
Datum
log_conversation(PG_FUNCTION_ARGS)
{
	Oid			argtypes[5] = {INT8OID, TEXTOID, TEXTOID, JSONBOID, NUMERICOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int64		id;

	TB_REQUIRE_ARG(fcinfo, 0, "p_user_id");
	TB_REQUIRE_ARG(fcinfo, 1, "p_question");
	TB_REQUIRE_ARG(fcinfo, 2, "p_answer");
	if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_question must not be empty")));
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	if (PG_ARGISNULL(3))
		values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	else
	{
		check_context(PG_GETARG_JSONB_P(3), ERRCODE_INVALID_PARAMETER_VALUE);
		values[3] = PG_GETARG_DATUM(3);
	}
	if (PG_ARGISNULL(4))
		nulls[4] = 'n';
	else
		values[4] = tb_confidence_arg(PG_GETARG_FLOAT8(4));

	SPI_connect();
	if (log_conversation_plan == NULL)
		log_conversation_plan = tb_prepare(
										   "INSERT INTO textbook.conversations"
										   " (user_id, question, answer, context, confidence_score)"
										   " VALUES ($1, $2, $3, $4, $5) RETURNING id",
										   5, argtypes);
	if (SPI_execute_plan(log_conversation_plan, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "log_conversation: insert failed");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(id);
}

PG_FUNCTION_INFO_V1(conversation_history);
/*
 * conversation_history(user_id, p_limit DEFAULT 20, p_before_id DEFAULT NULL)
 *		RETURNS SETOF textbook.conversations
 *
 * Newest first; pass the smallest id of a page as p_before_id to get the
 * next one (keyset pagination on the (user_id, id) index).
 */
Datum
conversation_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[3] = {INT8OID, INT8OID, INT8OID};
	Datum		values[3];
	int32		limit;

	TB_REQUIRE_ARG(fcinfo, 0, "p_user_id");
	TB_REQUIRE_ARG(fcinfo, 1, "p_limit");
	limit = PG_GETARG_INT32(1);
	if (limit < 1 || limit > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_limit must be between 1 and 10000")));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = Int64GetDatum(limit);
	values[2] = PG_ARGISNULL(2) ? Int64GetDatum(PG_INT64_MAX) : PG_GETARG_DATUM(2);

	SPI_connect();
	if (history_plan == NULL)
		history_plan = tb_prepare("SELECT c FROM textbook.conversations c"
								  " WHERE user_id OPERATOR(pg_catalog.=) $1"
								  "   AND id OPERATOR(pg_catalog.<) $3"
								  " ORDER BY id DESC LIMIT $2",
								  3, argtypes);
	if (SPI_execute_plan(history_plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "conversation_history: query failed");
	for (uint64 i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult,
							tb_row_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc));
	if (SPI_processed == 0)
		tb_require_user(values[0]);
	SPI_finish();
	return (Datum) 0;
}

/*
 * One statement of jsonb builders: PostgreSQL assembles the document in a
 * single pass over the indexes, with no copy through json-c and no text
 * round trip; json-c would only add a conversion of every row.
 */
static const char export_sql[] =
"SELECT pg_catalog.jsonb_build_object("
"  'user', pg_catalog.to_jsonb(u) OPERATOR(pg_catalog.-) 'password_hash'::pg_catalog.text,"
"  'profile', (SELECT pg_catalog.to_jsonb(p) FROM textbook.user_profiles p"
"              WHERE p.user_id OPERATOR(pg_catalog.=) u.id),"
"  'reading_progress', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(r) ORDER BY r.chapter_id, r.id)"
"              FROM textbook.user_reading_progress r WHERE r.user_id OPERATOR(pg_catalog.=) u.id), '[]'),"
"  'bookmarks', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(b) ORDER BY b.id)"
"              FROM textbook.user_bookmarks b WHERE b.user_id OPERATOR(pg_catalog.=) u.id), '[]'),"
"  'translations', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t) ORDER BY t.id)"
"              FROM textbook.user_chapter_translations t WHERE t.user_id OPERATOR(pg_catalog.=) u.id), '[]'),"
"  'conversations', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c) ORDER BY c.id)"
"              FROM textbook.conversations c WHERE c.user_id OPERATOR(pg_catalog.=) u.id), '[]'),"
"  'exported_at', pg_catalog.now())"
" FROM textbook.users u WHERE u.id OPERATOR(pg_catalog.=) $1";

PG_FUNCTION_INFO_V1(export_user_data);
/* export_user_data(p_user_id bigint) RETURNS jsonb */
Datum
export_user_data(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		user_id;
	Datum		result;
	bool		isnull;

	TB_REQUIRE_ARG(fcinfo, 0, "p_user_id");
	user_id = PG_GETARG_DATUM(0);

	SPI_connect();
	if (export_plan == NULL)
		export_plan = tb_prepare(export_sql, 1, argtypes);
	if (SPI_execute_plan(export_plan, &user_id, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "export_user_data: query failed");
	if (SPI_processed == 0)
		tb_require_user(user_id);
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
