# textbook: PGXS build.  `make && make install`, then `make installcheck`
# (as a non-root user) runs the regression, isolation and TAP suites on
# throw-away servers started with shared_preload_libraries = 'textbook'.

EXTENSION = textbook
EXTVERSION = $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = textbook
OBJS = \
	src/textbook.o \
	src/install.o \
	src/languages.o \
	src/validate.o \
	src/triggers.o \
	src/translation.o \
	src/progress.o \
	src/json_io.o \
	src/purge_worker.o

# the install script of every version and every upgrade script
DATA = $(wildcard $(EXTENSION)--*.sql)

REGRESS = schema validate translation progress json_io
REGRESS_OPTS = --temp-config=$(srcdir)/test/textbook.conf --temp-instance=tmp_check_regress
ISOLATION = translation_upsert translation_purge translation_read progress_concurrent progress_book_cache import_concurrent
ISOLATION_OPTS = --temp-config=$(srcdir)/test/textbook.conf --temp-instance=tmp_check_iso
TAP_TESTS = 1

EXTRA_CLEAN = src/languages.c tools/gen_languages output_iso tmp_check_regress tmp_check_iso

PKG_CONFIG ?= pkg-config
JSONC_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-c)
JSONC_LIBS := $(shell $(PKG_CONFIG) --libs json-c)
ISO_CODES_JSON ?= $(shell $(PKG_CONFIG) --variable=prefix iso-codes)/share/iso-codes/json

PG_CPPFLAGS = -I$(srcdir)/src $(JSONC_CFLAGS)
# PostgreSQL's own headers are not clean under -Wunused-parameter (static inline
# functions), so that one warning of -Wextra is off.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK = $(JSONC_LIBS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

ifeq ($(JSONC_LIBS),)
$(error json-c not found by pkg-config: install libjson-c-dev and pkg-config)
endif

# The language registries are compiled in from Debian's iso-codes.
tools/gen_languages: tools/gen_languages.c
	$(CC) $(CFLAGS) $(JSONC_CFLAGS) -o $@ $< $(JSONC_LIBS)

src/languages.c: tools/gen_languages $(wildcard $(ISO_CODES_JSON)/iso_639-*.json)
	@test -f $(ISO_CODES_JSON)/iso_639-3.json || { echo "iso-codes JSON not found in $(ISO_CODES_JSON): install iso-codes" >&2; exit 1; }
	./tools/gen_languages $(ISO_CODES_JSON) > $@.tmp && mv $@.tmp $@

src/languages.o: src/languages.c src/textbook.h
$(OBJS): src/textbook.h
