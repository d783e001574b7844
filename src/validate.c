/*
 * validate.c
 *		The value rules of the textbook schema: language tags, usernames,
 *		email addresses, password-hash formats, accessibility options and
 *		chapter/section references.
 *
 * Each rule is one C function that the tables call from a CHECK constraint
 * (so an INSERT from any ORM is checked exactly like our own functions) and
 * that the SQL-callable functions call on their arguments.  A CHECK function
 * raises its own error rather than returning false, so that the error can
 * say what is wrong (which subtag, which key) and, for a password, never
 * echo the rejected value.
 */
#include "postgres.h"

#include <ctype.h>

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "textbook.h"

/*
 * The fields a client reads from a constraint error (psycopg2's diag,
 * JDBC's ServerErrorMessage): our CHECK functions know which column and
 * constraint they guard, so an ORM can map the error to a form field.
 */
static int
errconstraint_of(const char *table, const char *column, const char *constraint)
{
	err_generic_string(PG_DIAG_SCHEMA_NAME, "textbook");
	if (table)
		err_generic_string(PG_DIAG_TABLE_NAME, table);
	if (column)
		err_generic_string(PG_DIAG_COLUMN_NAME, column);
	if (constraint)
		err_generic_string(PG_DIAG_CONSTRAINT_NAME, constraint);
	return 0;
}

/* at most this much of a rejected value is shown in an error */
#define SHOWN_BYTES 64

const char *
tb_shown(const char *value)
{
	int			len = strlen(value);

	if (len <= SHOWN_BYTES)
		return value;
	return psprintf("%s...", pnstrdup(value, pg_mbcliplen(value, len, SHOWN_BYTES)));
}

/* ----------------------------------------------------------------
 * Language tags (BCP 47: language[-extlang][-Script][-REGION][-variant]*)
 * ----------------------------------------------------------------
 */

/* Deprecated codes that IANA's registry maps to a preferred value. */
static const struct
{
	const char *deprecated;
	const char *preferred;
}			deprecated_languages[] = {
	{"in", "id"}, {"iw", "he"}, {"ji", "yi"}, {"jw", "jv"}, {"mo", "ro"},
},
			deprecated_regions[] = {
	{"BU", "MM"}, {"DD", "DE"}, {"FX", "FR"}, {"TP", "TL"}, {"YD", "YE"}, {"ZR", "CD"},
};

/* UN M.49 areas that IANA's registry accepts as region subtags. */
static const char *const m49_areas[] = {
	"001", "002", "003", "005", "009", "011", "013", "014", "015", "017",
	"018", "019", "021", "029", "030", "034", "035", "039", "053", "054",
	"057", "061", "142", "143", "145", "150", "151", "154", "155", "202",
	"419",
};

static int
cmp_language_code(const void *key, const void *entry)
{
	return strcmp((const char *) key, ((const TbLanguageCode *) entry)->code);
}

static int
cmp_cstring(const void *key, const void *entry)
{
	return strcmp((const char *) key, (const char *) entry);
}

static int
cmp_m49(const void *key, const void *entry)
{
	return strcmp((const char *) key, *(const char *const *) entry);
}

/* the canonical form of a lower-cased ISO 639 code, or NULL */
static const char *
lookup_language(const char *code)
{
	const TbLanguageCode *found;

	for (size_t i = 0; i < lengthof(deprecated_languages); i++)
		if (strcmp(code, deprecated_languages[i].deprecated) == 0)
			return deprecated_languages[i].preferred;

	/* qaa..qtz are reserved for private use by ISO 639-2 */
	if (strlen(code) == 3 && code[0] == 'q' && code[1] >= 'a' && code[1] <= 't')
		return code;

	found = bsearch(code, tb_language_codes, tb_language_codes_count,
					sizeof(TbLanguageCode), cmp_language_code);
	return found ? found->canonical : NULL;
}

static const char *
lookup_region(const char *code)
{
	if (isdigit((unsigned char) code[0]))
		return bsearch(code, m49_areas, lengthof(m49_areas),
					   sizeof(char *), cmp_m49) ? code : NULL;

	for (size_t i = 0; i < lengthof(deprecated_regions); i++)
		if (strcmp(code, deprecated_regions[i].deprecated) == 0)
			return deprecated_regions[i].preferred;
	return bsearch(code, tb_region_codes, tb_region_codes_count,
				   sizeof(tb_region_codes[0]), cmp_cstring) ? code : NULL;
}

static bool
all_chars(const char *s, int (*pred) (int))
{
	for (; *s; s++)
		if (!pred((unsigned char) *s))
			return false;
	return true;
}

pg_attribute_noreturn()
static void
bad_language_tag(const char *tag, const char *argname, const char *detail_fmt,
				 const char *subtag)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 argname ? errmsg("invalid language tag \"%s\" in %s", tag, argname)
			 : errmsg("invalid language tag \"%s\"", tag),
			 errdetail(detail_fmt, subtag),
			 errhint("Use a BCP 47 tag such as \"en\", \"pt-BR\" or \"zh-Hant-TW\".")));
}

/*
 * Check a BCP 47 language tag and write its canonical form into out (at
 * least TB_LANGUAGE_TAG_MAXLEN + 1 bytes): language lower case, script in
 * title case, region upper case, variants lower case, deprecated codes
 * replaced, and three-letter codes folded to ISO 639-1 where one exists.
 * One language thus always gives one string, and so one cache row.
 * Variants are checked for their form only: iso-codes has no registry of
 * them.
 *
 * argname, when not NULL, names the argument or column in the error.
 */
void
tb_canonical_language(const char *tag, int len, char *out, const char *argname)
{
	char		buf[TB_LANGUAGE_TAG_MAXLEN + 1];
	char	   *subtags[TB_LANGUAGE_TAG_MAXLEN / 2 + 1];
	int			nsubtags = 0;
	int			i = 0;
	char	   *p;
	const char *canonical;
	char	   *shown = pnstrdup(tag, len);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 argname ? errmsg("%s must not be empty", argname)
				 : errmsg("language tag must not be empty")));
	if (len > TB_LANGUAGE_TAG_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 argname ? errmsg("language tag in %s is too long", argname)
				 : errmsg("language tag is too long"),
				 errdetail("A language tag is at most %d characters long.",
						   TB_LANGUAGE_TAG_MAXLEN)));

	memcpy(buf, tag, len);
	buf[len] = '\0';
	for (p = buf;;)
	{
		char	   *dash = strchr(p, '-');

		if (dash)
			*dash = '\0';
		if (*p == '\0' || strlen(p) > 8 || !all_chars(p, isalnum))
		{
			if (strchr(p, '_'))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 argname ? errmsg("invalid language tag \"%s\" in %s", shown, argname)
						 : errmsg("invalid language tag \"%s\"", shown),
						 errdetail("Subtags are separated by \"-\", not \"_\"."),
						 errhint("Write \"pt-BR\", not \"pt_BR\".")));
			bad_language_tag(shown, argname,
							 "Subtag \"%s\" is not 1 to 8 letters or digits.", p);
		}
		for (char *c = p; *c; c++)
			*c = pg_ascii_tolower((unsigned char) *c);
		subtags[nsubtags++] = p;
		if (!dash)
			break;
		p = dash + 1;
	}

	/* primary language */
	if (strlen(subtags[0]) == 1)
		bad_language_tag(shown, argname,
						 "Private-use and grandfathered tags (\"%s-...\") are not supported.",
						 subtags[0]);
	if (!all_chars(subtags[0], isalpha) || strlen(subtags[0]) > 3)
		bad_language_tag(shown, argname,
						 "Language subtag \"%s\" is not a two- or three-letter ISO 639 code.",
						 subtags[0]);
	canonical = lookup_language(subtags[0]);
	if (canonical == NULL)
		bad_language_tag(shown, argname,
						 "Language subtag \"%s\" is not an ISO 639 language code.",
						 subtags[0]);
	strcpy(out, canonical);
	i = 1;

	/*
	 * Extended language subtags ("zh-yue") would need IANA's prefix table,
	 * which iso-codes lacks; the language subtag alone ("yue") is the
	 * canonical form anyway (RFC 5646, section 4.5).
	 */
	if (i < nsubtags && strlen(subtags[i]) == 3 && all_chars(subtags[i], isalpha))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 argname ? errmsg("invalid language tag \"%s\" in %s", shown, argname)
				 : errmsg("invalid language tag \"%s\"", shown),
				 errdetail("Extended language subtag \"%s\" is not supported.", subtags[i]),
				 lookup_language(subtags[i])
				 ? errhint("Use the language subtag alone: \"%s\".", lookup_language(subtags[i])) : 0));

	/* script */
	if (i < nsubtags && strlen(subtags[i]) == 4 && all_chars(subtags[i], isalpha))
	{
		subtags[i][0] = pg_ascii_toupper((unsigned char) subtags[i][0]);
		if (!bsearch(subtags[i], tb_script_codes, tb_script_codes_count,
					 sizeof(tb_script_codes[0]), cmp_cstring))
			bad_language_tag(shown, argname,
							 "Script subtag \"%s\" is not an ISO 15924 script code.",
							 subtags[i]);
		strcat(out, "-");
		strcat(out, subtags[i]);
		i++;
	}

	/* region */
	if (i < nsubtags &&
		((strlen(subtags[i]) == 2 && all_chars(subtags[i], isalpha)) ||
		 (strlen(subtags[i]) == 3 && all_chars(subtags[i], isdigit))))
	{
		for (char *c = subtags[i]; *c; c++)
			*c = pg_ascii_toupper((unsigned char) *c);
		canonical = lookup_region(subtags[i]);
		if (canonical == NULL)
			bad_language_tag(shown, argname,
							 "Region subtag \"%s\" is neither an ISO 3166-1 country code nor a UN M.49 area code.",
							 subtags[i]);
		strcat(out, "-");
		strcat(out, canonical);
		i++;
	}

	/* variants: 5-8 alphanumerics, or a digit and three alphanumerics */
	for (int first_variant = i; i < nsubtags; i++)
	{
		size_t		vlen = strlen(subtags[i]);

		if (vlen == 1)
			bad_language_tag(shown, argname,
							 "Extension and private-use subtags (\"%s-...\") are not supported.",
							 subtags[i]);
		if (!(vlen >= 5 || (vlen == 4 && isdigit((unsigned char) subtags[i][0]))))
			bad_language_tag(shown, argname,
							 "Subtag \"%s\" is not a valid script, region or variant subtag, or is out of order.",
							 subtags[i]);
		for (int j = first_variant; j < i; j++)
			if (strcmp(subtags[j], subtags[i]) == 0)
				bad_language_tag(shown, argname,
								 "Variant subtag \"%s\" is repeated.", subtags[i]);
		strcat(out, "-");
		strcat(out, subtags[i]);
	}
	pfree(shown);
}

PG_FUNCTION_INFO_V1(canonical_language);
/*
 * canonical_language(text) RETURNS text: the canonical form of a BCP 47
 * tag; an error naming the bad subtag when it is invalid.
 */
Datum
canonical_language(PG_FUNCTION_ARGS)
{
	text	   *tag = PG_GETARG_TEXT_PP(0);
	char		out[TB_LANGUAGE_TAG_MAXLEN + 1];

	tb_canonical_language(VARDATA_ANY(tag), VARSIZE_ANY_EXHDR(tag), out, NULL);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * The column argument of the CHECK functions goes into their messages, and
 * with them into the server log: it must look like a column name, not
 * a gigabyte of text or a forged log line.
 */
static char *
column_name_arg(FunctionCallInfo fcinfo, int argno)
{
	text	   *name = PG_GETARG_TEXT_PP(argno);
	const char *s = VARDATA_ANY(name);
	int			len = VARSIZE_ANY_EXHDR(name);

	if (len == 0 || len >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column_name must be 1 to %d bytes long", NAMEDATALEN - 1),
				 errdetail("The value given is %d bytes long.", len)));
	for (int i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column_name must not contain control characters")));
	return text_to_cstring(name);
}

PG_FUNCTION_INFO_V1(check_language_tag);
/*
 * check_language_tag(text, column text) RETURNS boolean: the CHECK behind
 * language columns.  The trigger canonicalises values before they are
 * stored, so a non-canonical value here means the trigger was bypassed
 * (session_replication_role = replica); still reject it.
 */
Datum
check_language_tag(PG_FUNCTION_ARGS)
{
	text	   *tag = PG_GETARG_TEXT_PP(0);
	char	   *column = column_name_arg(fcinfo, 1);
	char		out[TB_LANGUAGE_TAG_MAXLEN + 1];
	int			len = VARSIZE_ANY_EXHDR(tag);

	tb_canonical_language(VARDATA_ANY(tag), len, out, column);
	if (strlen(out) != (size_t) len || memcmp(out, VARDATA_ANY(tag), len) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("language tag \"%s\" in %s is not in canonical form",
						text_to_cstring(tag), column),
				 errhint("Store \"%s\" instead.", out),
				 errconstraint_of(NULL, column, NULL)));
	PG_RETURN_BOOL(true);
}

/* ----------------------------------------------------------------
 * chapter_id, section_id, current_section
 * ----------------------------------------------------------------
 */

/*
 * A reference is 1 to TB_REF_MAXCHARS characters with no control
 * characters (C0, DEL, or C1 in UTF-8); ids end up in URLs, logs and JSON.
 */
bool
tb_ref_is_valid(const char *value, int len)
{
	int			nchars = 0;

	for (int i = 0; i < len;)
	{
		unsigned char c = (unsigned char) value[i];
		int			clen = pg_mblen(value + i);

		if (c < 0x20 || c == 0x7f)
			return false;
		if (GetDatabaseEncoding() == PG_UTF8 && c == 0xc2 && i + 1 < len &&
			(unsigned char) value[i + 1] >= 0x80 && (unsigned char) value[i + 1] <= 0x9f)
			return false;
		i += clen;
		nchars++;
	}
	return nchars >= 1 && nchars <= TB_REF_MAXCHARS;
}

void
tb_check_ref(const char *value, int len, const char *name, int sqlstate)
{
	if (!tb_ref_is_valid(value, len))
		ereport(ERROR,
				(errcode(sqlstate),
				 len == 0 ? errmsg("%s must not be empty", name)
				 : errmsg("invalid %s", name),
				 errdetail("The value must be 1 to %d characters long and contain no control characters.",
						   TB_REF_MAXCHARS),
				 sqlstate == ERRCODE_CHECK_VIOLATION ? errconstraint_of(NULL, name, NULL) : 0));
}

PG_FUNCTION_INFO_V1(check_ref);
/* check_ref(text, column text) RETURNS boolean */
Datum
check_ref(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);

	tb_check_ref(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value),
				 column_name_arg(fcinfo, 1), ERRCODE_CHECK_VIOLATION);
	PG_RETURN_BOOL(true);
}

/* ----------------------------------------------------------------
 * users: username, email, password_hash
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(check_username);
/* check_username(text) RETURNS boolean: 3-64 of [A-Za-z0-9_.-] */
Datum
check_username(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	if (len < 3 || len > 64)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid username"),
				 errdetail("A username is 3 to 64 characters long; this one has %d.",
						   pg_mbstrlen_with_len(s, len)),
				 errconstraint_of("users", "username", "users_username_check")));
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!(isascii(c) && (isalnum(c) || c == '_' || c == '.' || c == '-')))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("invalid username \"%s\"", tb_shown(text_to_cstring(t))),
					 errdetail("A username contains only ASCII letters, digits, \"_\", \".\" and \"-\"."),
					 errconstraint_of("users", "username", "users_username_check")));
	}
	PG_RETURN_BOOL(true);
}

pg_attribute_noreturn()
static void
bad_email(text *t, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid email address \"%s\"", tb_shown(text_to_cstring(t))),
			 errdetail("%s", detail),
			 errconstraint_of("users", "email", "users_email_check")));
}

PG_FUNCTION_INFO_V1(check_email);
/*
 * check_email(text) RETURNS boolean: a plausible address, not RFC 5322 in
 * full (quoted local parts and IP literals are refused): one "@", a local
 * part without spaces, and a domain of at least two dot-separated labels.
 */
Datum
check_email(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	const char *at = NULL;
	int			labels = 0;
	int			label_len = 0;

	if (len > 254)
		bad_email(t, "An email address is at most 254 characters long.");
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c <= ' ' || c == 0x7f || c == '"' || c == '(' || c == ')' ||
			c == ',' || c == ':' || c == ';' || c == '<' || c == '>' ||
			c == '[' || c == ']' || c == '\\')
			bad_email(t, "An email address contains no spaces, control characters or any of \"(),:;<>[]\\.");
		if (c == '@')
		{
			if (at)
				bad_email(t, "An email address contains exactly one \"@\".");
			at = s + i;
		}
	}
	if (at == NULL)
		bad_email(t, "An email address contains exactly one \"@\".");
	if (at == s || at - s > 64)
		bad_email(t, "The part before \"@\" is 1 to 64 characters long.");
	if (s[0] == '.' || at[-1] == '.')
		bad_email(t, "The part before \"@\" does not start or end with \".\".");

	for (const char *d = at + 1; d <= s + len; d++)
	{
		if (d == s + len || *d == '.')
		{
			if (label_len == 0)
				bad_email(t, "The domain is made of non-empty labels separated by \".\".");
			if (d[-1] == '-' || d[-label_len] == '-')
				bad_email(t, "A domain label does not start or end with \"-\".");
			if (label_len > 63)
				bad_email(t, "A domain label is at most 63 characters long.");
			labels++;
			label_len = 0;
		}
		else if (isascii((unsigned char) *d) && !isalnum((unsigned char) *d) && *d != '-')
			bad_email(t, "A domain contains only letters, digits, \"-\" and \".\".");
		else
			label_len++;
	}
	if (labels < 2)
		bad_email(t, "The domain has at least two labels, such as \"example.org\".");
	PG_RETURN_BOOL(true);
}

/* bcrypt: $2a$NN$ + 22 characters of salt + 31 of hash, all in [./A-Za-z0-9] */
static bool
is_bcrypt(const char *s, int len)
{
	int			cost;

	if (len != 60 || s[0] != '$' || s[1] != '2' ||
		(s[2] != 'a' && s[2] != 'b' && s[2] != 'y') || s[3] != '$' ||
		!isdigit((unsigned char) s[4]) || !isdigit((unsigned char) s[5]) || s[6] != '$')
		return false;
	cost = (s[4] - '0') * 10 + (s[5] - '0');
	if (cost < 4 || cost > 31)
		return false;
	for (int i = 7; i < len; i++)
		if (!isalnum((unsigned char) s[i]) && s[i] != '.' && s[i] != '/')
			return false;
	return true;
}

/* base64 in its standard, passlib ("." for "+") and padded variants */
static bool
is_b64(const char *s, int len, int minlen)
{
	if (len < minlen)
		return false;
	for (int i = 0; i < len; i++)
		if (!isalnum((unsigned char) s[i]) && s[i] != '+' && s[i] != '/' &&
			s[i] != '.' && !(s[i] == '=' && i >= len - 2))
			return false;
	return true;
}

static bool
is_digits(const char *s, int len)
{
	if (len == 0 || len > 10)
		return false;
	for (int i = 0; i < len; i++)
		if (!isdigit((unsigned char) s[i]))
			return false;
	return true;
}

/* "k=v,k=v": PHC parameters */
static bool
is_phc_params(const char *s, int len)
{
	bool		in_value = false;
	int			run = 0;

	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '=' && !in_value && run > 0)
			in_value = true, run = 0;
		else if (c == ',' && in_value && run > 0)
			in_value = false, run = 0;
		else if (isalnum((unsigned char) c) || (c == '-' && !in_value) ||
				 (in_value && (c == '+' || c == '/' || c == '.')))
			run++;
		else
			return false;
	}
	return in_value && run > 0;
}

#define MAX_HASH_FIELDS 8

/* split on '$'; returns the number of fields */
static int
split_dollar(const char *s, int len, const char **start, int *flen)
{
	int			n = 0;

	start[0] = s;
	for (int i = 0; i <= len; i++)
		if (i == len || s[i] == '$')
		{
			flen[n] = (s + i) - start[n];
			if (++n == MAX_HASH_FIELDS || i == len)
				break;
			start[n] = s + i + 1;
		}
	return n;
}

#define FIELD_IS(k, lit) (flen[k] == (int) strlen(lit) && strncmp(f[k], lit, flen[k]) == 0)

/*
 * PHC string format: $id[$v=N][$params]$salt$hash, plus passlib's
 * $pbkdf2-sha256$rounds$salt$hash.
 */
static bool
is_phc(const char *s, int len)
{
	const char *f[MAX_HASH_FIELDS];
	int			flen[MAX_HASH_FIELDS];
	int			n;
	int			k = 2;
	bool		pbkdf2;

	if (len < 2 || s[0] != '$')
		return false;
	n = split_dollar(s + 1, len - 1, f, flen);
	if (n < 3)
		return false;
	pbkdf2 = FIELD_IS(0, "pbkdf2") || FIELD_IS(0, "pbkdf2-sha1") ||
		FIELD_IS(0, "pbkdf2-sha256") || FIELD_IS(0, "pbkdf2-sha512");
	if (!(FIELD_IS(0, "argon2id") || FIELD_IS(0, "argon2i") ||
		  FIELD_IS(0, "argon2d") || FIELD_IS(0, "scrypt") || pbkdf2))
		return false;
	k = 1;
	if (k < n && flen[k] > 2 && strncmp(f[k], "v=", 2) == 0 && is_digits(f[k] + 2, flen[k] - 2))
		k++;
	if (k < n && (is_phc_params(f[k], flen[k]) || (pbkdf2 && is_digits(f[k], flen[k]))))
		k++;
	else
		return false;
	/* salt and hash, nothing after */
	return n == k + 2 && is_b64(f[k], flen[k], 4) && is_b64(f[k + 1], flen[k + 1], 16);
}

/*
 * Django: pbkdf2_sha256$iterations$salt$hash, scrypt$N$salt$r$p$hash,
 * argon2$<PHC without the leading $>, bcrypt$<bcrypt>, bcrypt_sha256$<bcrypt>.
 */
static bool
is_django(const char *s, int len)
{
	const char *f[MAX_HASH_FIELDS];
	int			flen[MAX_HASH_FIELDS];
	int			n = split_dollar(s, len, f, flen);

	if (n < 2)
		return false;
	if (FIELD_IS(0, "pbkdf2_sha256") || FIELD_IS(0, "pbkdf2_sha1"))
		return n == 4 && is_digits(f[1], flen[1]) && is_b64(f[2], flen[2], 4) &&
			is_b64(f[3], flen[3], 16);
	if (FIELD_IS(0, "scrypt"))
		return n == 6 && is_digits(f[1], flen[1]) && is_b64(f[2], flen[2], 4) &&
			is_digits(f[3], flen[3]) && is_digits(f[4], flen[4]) &&
			is_b64(f[5], flen[5], 16);
	if (FIELD_IS(0, "argon2"))
		return is_phc(f[1] - 1, len - (f[1] - 1 - s));
	if (FIELD_IS(0, "bcrypt") || FIELD_IS(0, "bcrypt_sha256"))
		return is_bcrypt(f[1], len - (f[1] - s));
	return false;
}

PG_FUNCTION_INFO_V1(check_password_hash);
/*
 * check_password_hash(text) RETURNS boolean.  The error never shows the
 * value: a rejected value is quite likely a plaintext password.
 */
Datum
check_password_hash(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	if (!is_bcrypt(s, len) && !is_phc(s, len) && !is_django(s, len))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("password_hash is not a recognised password hash"),
				 errdetail("Accepted formats are bcrypt ($2a$, $2b$, $2y$), Argon2 ($argon2id$, $argon2i$), scrypt and PBKDF2, in PHC or Django format."),
				 errhint("The application must hash the password (for example with Argon2id or bcrypt) and store only the hash, never the password itself."),
				 errconstraint_of("users", "password_hash", "users_password_hash_check")));
	PG_RETURN_BOOL(true);
}

/* ----------------------------------------------------------------
 * Numbers in JSON values: compared as numeric, so that 1e400 is simply
 * out of range instead of an overflow of double precision
 * ----------------------------------------------------------------
 */

static int
numeric_cmp_str(Numeric n, const char *bound)
{
	Datum		b = DirectFunctionCall3(numeric_in, CStringGetDatum(bound),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n), b));
}

bool
tb_numeric_between(Numeric n, const char *low, const char *high)
{
	return !numeric_is_nan(n) && numeric_cmp_str(n, low) >= 0 && numeric_cmp_str(n, high) <= 0;
}

bool
tb_numeric_is_id(Numeric n)
{
	Datum		whole;

	if (!tb_numeric_between(n, "1", "9223372036854775807"))
		return false;
	whole = DirectFunctionCall2(numeric_trunc, NumericGetDatum(n), Int32GetDatum(0));
	return DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(n), whole));
}

/* ----------------------------------------------------------------
 * user_profiles.accessibility_options
 * ----------------------------------------------------------------
 */

typedef struct AccessibilityOption
{
	const char *key;
	bool		is_boolean;
	const char *min;
	const char *max;
} AccessibilityOption;

static const AccessibilityOption accessibility_options[] = {
	{"captions", true, NULL, NULL},
	{"dyslexia_font", true, NULL, NULL},
	{"high_contrast", true, NULL, NULL},
	{"line_height", false, "1.0", "3.0"},
	{"reduce_motion", true, NULL, NULL},
	{"screen_reader", true, NULL, NULL},
	{"text_to_speech_rate", false, "0.5", "2.0"},
};

PG_FUNCTION_INFO_V1(check_accessibility_options);
/*
 * check_accessibility_options(jsonb) RETURNS boolean: an object whose keys
 * are known options with values of the right type and range.
 */
Datum
check_accessibility_options(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	const AccessibilityOption *opt = NULL;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("accessibility_options must be a JSON object"),
				 errconstraint_of("user_profiles", "accessibility_options",
								  "user_profiles_accessibility_options_check")));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			opt = NULL;
			for (size_t i = 0; i < lengthof(accessibility_options); i++)
				if (strcmp(key, accessibility_options[i].key) == 0)
					opt = &accessibility_options[i];
			if (opt == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("unknown accessibility option \"%s\"", tb_shown(key)),
						 errhint("Known options are captions, dyslexia_font, high_contrast, reduce_motion, screen_reader (booleans), line_height (1.0 to 3.0) and text_to_speech_rate (0.5 to 2.0)."),
						 errconstraint_of("user_profiles", "accessibility_options",
										  "user_profiles_accessibility_options_check")));
		}
		else if (tok == WJB_VALUE)
		{
			bool		ok;

			if (opt->is_boolean)
				ok = v.type == jbvBool;
			else
				ok = v.type == jbvNumeric &&
					tb_numeric_between(v.val.numeric, opt->min, opt->max);
			if (!ok)
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("invalid value for accessibility option \"%s\"", opt->key),
						 opt->is_boolean
						 ? errdetail("Option \"%s\" takes true or false.", opt->key)
						 : errdetail("Option \"%s\" takes a number from %s to %s.",
									 opt->key, opt->min, opt->max),
						 errconstraint_of("user_profiles", "accessibility_options",
										  "user_profiles_accessibility_options_check")));
		}
	}
	PG_RETURN_BOOL(true);
}
