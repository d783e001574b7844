/*
 * purge_worker.c
 *		The background worker that deletes expired translations, and its
 *		status in shared memory.
 *
 * A launcher, connected to no database (it only reads the shared catalogs),
 * wakes every textbook.purge_interval.  For each database listed in
 * textbook.database that it can connect to, it starts a short-lived
 * dynamic worker that connects, checks that the extension is installed,
 * deletes expired rows in batches of textbook.purge_batch_size with a
 * commit after each, records what it did and exits.
 *
 * A worker stops after WORKER_RUN_MS; when rows are left, the launcher
 * comes back after BACKLOG_PAUSE_MS rather than a whole interval, and the
 * next worker resumes a sweep where the last one stopped.  No connection
 * lives longer than that (plus one lock wait), so DROP DATABASE, which
 * waits 5 s for other sessions to leave and checks every 100 ms, always
 * gets through.  A missing database, role,
 * privilege or extension is a state the launcher logs once, not a crash
 * loop, and a worker that cannot connect is retried less and less often.
 *
 * The launcher is registered with BgWorkerStart_RecoveryFinished: it does
 * not run on a hot standby and starts when the standby is promoted.
 *
 * Shared memory follows pg_prewarm's autoprewarm: a small struct that is
 * requested when preloaded and otherwise carved out of the main segment's
 * spare space on first use, so textbook.start_purge_worker() and the
 * purge_status view work without shared_preload_libraries too.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "textbook.h"

/* seconds the postmaster waits before restarting a launcher that died */
#define LAUNCHER_RESTART_SECONDS 5
/* longest run of one worker, and the pause before the next when rows are left */
#define WORKER_RUN_MS 3000
#define BACKLOG_PAUSE_MS 250
/* a batch waits this long for a row lock before skipping locked rows */
#define WORKER_LOCK_TIMEOUT "1s"
/* longest wait before retrying a database a worker could not connect to */
#define MAX_RETRY_MS (10 * 60 * 1000)

typedef enum PurgeState
{
	PURGE_STATE_NEW = 0,		/* not visited yet */
	PURGE_STATE_OK,
	PURGE_STATE_NO_DATABASE,
	PURGE_STATE_NO_CONNECTIONS,
	PURGE_STATE_NO_PRIVILEGE,
	PURGE_STATE_NO_EXTENSION,
	PURGE_STATE_NO_ROLE,
	PURGE_STATE_NO_WORKER_SLOT,
	PURGE_STATE_CANNOT_CONNECT,
	PURGE_STATE_INTERRUPTED,
	PURGE_STATE_ERROR
} PurgeState;

static const char *const purge_state_names[] = {
	[PURGE_STATE_NEW] = "waiting",
	[PURGE_STATE_OK] = "ok",
	[PURGE_STATE_NO_DATABASE] = "database does not exist",
	[PURGE_STATE_NO_CONNECTIONS] = "database does not allow connections",
	[PURGE_STATE_NO_PRIVILEGE] = "purge role lacks CONNECT",
	[PURGE_STATE_NO_EXTENSION] = "extension not installed",
	[PURGE_STATE_NO_ROLE] = "purge role cannot log in",
	[PURGE_STATE_NO_WORKER_SLOT] = "no background worker slot",
	[PURGE_STATE_CANNOT_CONNECT] = "worker could not connect",
	[PURGE_STATE_INTERRUPTED] = "interrupted",
	[PURGE_STATE_ERROR] = "error",
};

typedef struct PurgeSlot
{
	NameData	dbname;			/* empty: slot unused */
	PurgeState	state;
	PurgeState	logged_state;	/* the state the log last announced */
	bool		reported;		/* the worker of this run got connected */
	bool		backlog;		/* the last run stopped with rows left */
	BlockNumber sweep_resume;	/* and, if it was sweeping, at this block */
	int			failures;		/* connection failures in a row */
	TimestampTz retry_after;	/* no new worker before this */
	pid_t		worker_pid;		/* while a worker purges this database */
	TimestampTz last_start;
	TimestampTz last_end;
	int64		rows_last_run;
	int64		rows_total;
	TimestampTz last_error_at;
	char		last_error[256];
} PurgeSlot;

typedef struct PurgeShared
{
	LWLock		lock;
	pid_t		launcher_pid;
	bool		role_logged;	/* a purge role that cannot log in was logged */
	PurgeSlot	slots[TB_MAX_DATABASES];
} PurgeShared;

static PurgeShared *purge_shared = NULL;

PGDLLEXPORT void tb_purge_launcher_main(Datum main_arg);
PGDLLEXPORT void tb_purge_worker_main(Datum main_arg);

/* ----------------------------------------------------------------
 * Shared memory
 * ----------------------------------------------------------------
 */

void
tb_purge_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(PurgeShared)));
}

static void
attach_shmem(void)
{
	bool		found;

	if (purge_shared != NULL)
		return;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	purge_shared = ShmemInitStruct("textbook purge", sizeof(PurgeShared), &found);
	if (!found)
	{
		memset(purge_shared, 0, sizeof(PurgeShared));
		LWLockInitialize(&purge_shared->lock, LWLockNewTrancheId());
	}
	LWLockRelease(AddinShmemInitLock);
	LWLockRegisterTranche(purge_shared->lock.tranche, "textbook_purge");
}

static PurgeSlot *
find_slot(const char *dbname)
{
	for (int i = 0; i < TB_MAX_DATABASES; i++)
		if (strcmp(NameStr(purge_shared->slots[i].dbname), dbname) == 0)
			return &purge_shared->slots[i];
	return NULL;
}

/* ----------------------------------------------------------------
 * Launcher
 * ----------------------------------------------------------------
 */

/*
 * The launcher, started with the server or by start_purge_worker(): after
 * recovery only (so never on a standby), and restarted when it dies.
 */
static void
launcher_spec(BackgroundWorker *worker)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = LAUNCHER_RESTART_SECONDS;
	strcpy(worker->bgw_library_name, "textbook");
	strcpy(worker->bgw_function_name, "tb_purge_launcher_main");
	strcpy(worker->bgw_name, "textbook purge launcher");
	strcpy(worker->bgw_type, "textbook purge launcher");
}

void
tb_register_purge_launcher(void)
{
	BackgroundWorker worker;

	launcher_spec(&worker);
	RegisterBackgroundWorker(&worker);
}

static void
clear_launcher_pid(int code, Datum arg)
{
	LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE);
	if (purge_shared->launcher_pid == MyProcPid)
		purge_shared->launcher_pid = 0;
	LWLockRelease(&purge_shared->lock);
}

/* Log a database's state once, when it begins. */
static void
announce_state(PurgeSlot *slot)
{
	PurgeState	state;
	PurgeState	logged;
	char		dbname[NAMEDATALEN];
	char		error[sizeof(slot->last_error)];

	LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE);
	state = slot->state;
	logged = slot->logged_state;
	slot->logged_state = state;
	strlcpy(dbname, NameStr(slot->dbname), sizeof(dbname));
	strlcpy(error, slot->last_error, sizeof(error));
	LWLockRelease(&purge_shared->lock);

	if (state == logged)
		return;
	switch (state)
	{
		case PURGE_STATE_OK:
			ereport(LOG,
					(errmsg("textbook purge worker: purging expired translations in database \"%s\"",
							dbname)));
			break;
		case PURGE_STATE_NO_DATABASE:
			ereport(LOG,
					(errmsg("textbook purge worker: database \"%s\" does not exist, skipping it until it is created",
							dbname)));
			break;
		case PURGE_STATE_NO_CONNECTIONS:
			ereport(LOG,
					(errmsg("textbook purge worker: database \"%s\" does not allow connections, skipping it",
							dbname)));
			break;
		case PURGE_STATE_NO_PRIVILEGE:
			ereport(LOG,
					(errmsg("textbook purge worker: role \"%s\" may not connect to database \"%s\", skipping it",
							tb_purge_role, dbname),
					 errhint("GRANT CONNECT ON DATABASE to the role of textbook.purge_role.")));
			break;
		case PURGE_STATE_NO_EXTENSION:
			ereport(LOG,
					(errmsg("textbook purge worker: extension \"textbook\" is not installed in database \"%s\", skipping it until it is",
							dbname)));
			break;
		case PURGE_STATE_NO_WORKER_SLOT:
			ereport(LOG,
					(errmsg("textbook purge worker: no background worker slot free to purge database \"%s\"",
							dbname),
					 errhint("Increase max_worker_processes.")));
			break;
		case PURGE_STATE_CANNOT_CONNECT:
			ereport(LOG,
					(errmsg("textbook purge worker: the worker for database \"%s\" exited before it could connect, retrying less often",
							dbname),
					 errhint("The server log shows why, for example a connection limit.")));
			break;
		case PURGE_STATE_ERROR:
			ereport(LOG,
					(errmsg("textbook purge worker: purge of database \"%s\" failed: %s",
							dbname, error)));
			break;
		case PURGE_STATE_NO_ROLE:	/* logged once for all databases */
		case PURGE_STATE_INTERRUPTED:	/* the worker's own exit says why */
		case PURGE_STATE_NEW:
			break;
	}
}

static void
set_state(PurgeSlot *slot, PurgeState state)
{
	LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE);
	slot->state = state;
	LWLockRelease(&purge_shared->lock);
	announce_state(slot);
}

/*
 * Give every listed database a slot, keeping the figures of those already
 * served, and free the slots of databases no longer listed.
 */
static List *
assign_slots(void)
{
	char	   *raw = pstrdup(tb_purge_databases);
	List	   *names = NIL;
	List	   *slots = NIL;
	ListCell   *lc;

	if (!SplitGUCList(raw, ',', &names))
		names = NIL;			/* the check hook has rejected such a value */

	LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < TB_MAX_DATABASES; i++)
	{
		PurgeSlot  *slot = &purge_shared->slots[i];
		bool		listed = false;

		foreach(lc, names)
			if (strcmp(NameStr(slot->dbname), lfirst(lc)) == 0)
				listed = true;
		if (!listed)
			memset(slot, 0, sizeof(PurgeSlot));
	}
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		PurgeSlot  *slot;

		if (*name == '\0' || strlen(name) >= NAMEDATALEN)
			continue;
		slot = find_slot(name);
		if (slot == NULL && (slot = find_slot("")) != NULL)
			namestrcpy(&slot->dbname, name);
		if (slot != NULL && !list_member_ptr(slots, slot))
			slots = lappend(slots, slot);
	}
	LWLockRelease(&purge_shared->lock);
	return slots;
}

/*
 * The OID of textbook.purge_role if it can log in (InvalidOid for the
 * bootstrap superuser), or false.  Read in the caller's transaction.
 */
static bool
purge_role_oid(Oid *roleid)
{
	HeapTuple	tup;
	bool		can_login;

	*roleid = InvalidOid;
	if (tb_purge_role[0] == '\0')
		return true;
	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(tb_purge_role));
	if (!HeapTupleIsValid(tup))
		return false;
	can_login = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	*roleid = ((Form_pg_authid) GETSTRUCT(tup))->oid;
	ReleaseSysCache(tup);
	return can_login;
}

/*
 * Can a worker connect to this database as the purge role?  The launcher
 * is connected to no database: syscache lookups on shared catalogs work,
 * but their indexes cannot be opened before the shared relcache is built,
 * so pg_database is read with a heap scan, as autovacuum's launcher does.
 */
static PurgeState
check_connectable(const char *dbname, Oid roleid)
{
	PurgeState	state = PURGE_STATE_NO_DATABASE;
	MemoryContext cxt = CurrentMemoryContext;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), dbname) != 0)
			continue;
		if (!db->datallowconn)
			state = PURGE_STATE_NO_CONNECTIONS;
		else if (OidIsValid(roleid) &&
				 pg_database_aclcheck(db->oid, roleid, ACL_CONNECT) != ACLCHECK_OK)
			state = PURGE_STATE_NO_PRIVILEGE;
		else
			state = PURGE_STATE_OK;
		break;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	/* the commit leaves us in TopMemoryContext */
	MemoryContextSwitchTo(cxt);
	return state;
}

/*
 * A worker that exited without getting connected (a connection limit, a
 * database dropped meanwhile) has logged why; wait longer before each new
 * attempt, so that the log is not flooded.
 */
static void
note_connection_failure(PurgeSlot *slot)
{
	int64		wait_ms;

	LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE);
	slot->failures = Min(slot->failures + 1, 20);
	wait_ms = Min((int64) tb_purge_interval << slot->failures, (int64) MAX_RETRY_MS);
	slot->retry_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	slot->state = PURGE_STATE_CANNOT_CONNECT;
	LWLockRelease(&purge_shared->lock);
}

/* Start a worker for one database and wait until it has finished. */
static void
purge_one_database(PurgeSlot *slot, Oid roleid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pid_t		pid;
	bool		reported;
	PurgeState	state;
	pid_t		running;

	/* a worker of a launcher that was terminated may still be at it */
	LWLockAcquire(&purge_shared->lock, LW_SHARED);
	running = slot->worker_pid;
	LWLockRelease(&purge_shared->lock);
	if (running != 0)
		return;

	state = check_connectable(NameStr(slot->dbname), roleid);
	if (state != PURGE_STATE_OK)
	{
		set_state(slot, state);
		return;
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strcpy(worker.bgw_library_name, "textbook");
	strcpy(worker.bgw_function_name, "tb_purge_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "textbook purge worker for database %s",
			 NameStr(slot->dbname));
	strcpy(worker.bgw_type, "textbook purge worker");
	worker.bgw_main_arg = Int32GetDatum(slot - purge_shared->slots);
	strlcpy(worker.bgw_extra, NameStr(slot->dbname), BGW_EXTRALEN);
	worker.bgw_notify_pid = MyProcPid;

	LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE);
	slot->reported = false;
	slot->backlog = false;
	LWLockRelease(&purge_shared->lock);

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		set_state(slot, PURGE_STATE_NO_WORKER_SLOT);
		return;
	}
	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
		WaitForBackgroundWorkerShutdown(handle);
	pfree(handle);

	LWLockAcquire(&purge_shared->lock, LW_SHARED);
	reported = slot->reported;
	LWLockRelease(&purge_shared->lock);
	if (!reported)
		note_connection_failure(slot);
	announce_state(slot);
}

/*
 * One pass over the listed databases.  Returns whether a worker stopped
 * with rows left, so that the next pass should come soon.
 */
static bool
run_cycle(void)
{
	List	   *slots = assign_slots();
	ListCell   *lc;
	Oid			roleid;
	bool		role_ok;
	bool		backlog = false;
	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	role_ok = purge_role_oid(&roleid);
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	/* one line for all databases when the role cannot log in */
	LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE);
	foreach(lc, slots)
		if (!role_ok)
			((PurgeSlot *) lfirst(lc))->state =
				((PurgeSlot *) lfirst(lc))->logged_state = PURGE_STATE_NO_ROLE;
	if (role_ok == purge_shared->role_logged)
	{
		purge_shared->role_logged = !role_ok;
		LWLockRelease(&purge_shared->lock);
		if (!role_ok)
			ereport(LOG,
					(errmsg("textbook purge worker: role \"%s\" does not exist or cannot log in, no database is purged",
							tb_purge_role),
					 errhint("Set textbook.purge_role to a role with LOGIN, or to '' for the bootstrap superuser.")));
	}
	else
		LWLockRelease(&purge_shared->lock);
	if (!role_ok)
		return false;

	foreach(lc, slots)
	{
		PurgeSlot  *slot = lfirst(lc);
		TimestampTz retry_after;

		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(&purge_shared->lock, LW_SHARED);
		retry_after = slot->retry_after;
		LWLockRelease(&purge_shared->lock);
		if (retry_after > GetCurrentTimestamp())
			continue;

		pgstat_report_activity(STATE_RUNNING, psprintf("purging database \"%s\"",
													   NameStr(slot->dbname)));
		purge_one_database(slot, roleid);
		LWLockAcquire(&purge_shared->lock, LW_SHARED);
		backlog |= slot->backlog;
		LWLockRelease(&purge_shared->lock);
	}
	pgstat_report_activity(STATE_IDLE, NULL);
	return backlog;
}

void
tb_purge_launcher_main(Datum main_arg)
{
	MemoryContext cycle_context;
	TimestampTz last_cycle_end = 0;
	bool		backlog = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	attach_shmem();
	LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE);
	if (purge_shared->launcher_pid != 0)
	{
		pid_t		other = purge_shared->launcher_pid;

		LWLockRelease(&purge_shared->lock);
		ereport(LOG,
				(errmsg("textbook purge launcher already running with PID %d, exiting", (int) other)));
		/* exit code 0: the postmaster does not restart a duplicate */
		proc_exit(0);
	}
	purge_shared->launcher_pid = MyProcPid;
	LWLockRelease(&purge_shared->lock);
	before_shmem_exit(clear_launcher_pid, 0);

	ereport(LOG,
			(errmsg("textbook purge launcher started for databases \"%s\", every %d ms",
					tb_purge_databases, tb_purge_interval)));

	cycle_context = AllocSetContextCreate(TopMemoryContext, "textbook purge cycle",
										  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		TimestampTz now;
		TimestampTz next;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		now = GetCurrentTimestamp();
		next = TimestampTzPlusMilliseconds(last_cycle_end,
										   backlog ? Min(tb_purge_interval, BACKLOG_PAUSE_MS)
										   : tb_purge_interval);
		if (last_cycle_end == 0 || now >= next)
		{
			MemoryContext old = MemoryContextSwitchTo(cycle_context);

			/* a promoted standby starts us; a standby never does */
			backlog = !RecoveryInProgress() && run_cycle();
			MemoryContextSwitchTo(old);
			MemoryContextReset(cycle_context);
			last_cycle_end = GetCurrentTimestamp();
			continue;
		}

		/* a reload that shortens the interval wakes us and takes effect here */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 TimestampDifferenceMilliseconds(now, next),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------
 * Per-database worker
 * ----------------------------------------------------------------
 */

static PurgeSlot *my_slot = NULL;
static char my_dbname[NAMEDATALEN];
static bool my_run_finished = false;

/* Run stmts on our slot under the lock, unless it now serves another database. */
#define WITH_MY_SLOT(stmts) \
	do { \
		LWLockAcquire(&purge_shared->lock, LW_EXCLUSIVE); \
		if (strcmp(NameStr(my_slot->dbname), my_dbname) == 0) \
		{ stmts; } \
		LWLockRelease(&purge_shared->lock); \
	} while (0)

/* at exit: a run cut short (SIGTERM, pg_terminate_backend) says so */
static void
clear_worker_pid(int code, Datum arg)
{
	WITH_MY_SLOT(if (my_slot->worker_pid == MyProcPid)
				 {
					 my_slot->worker_pid = 0;
					 if (!my_run_finished)
					 {
						 my_slot->state = PURGE_STATE_INTERRUPTED;
						 my_slot->last_end = GetCurrentTimestamp();
					 }
				 });
}

static bool
extension_installed(void)
{
	bool		installed;
	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("textbook", true));
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return installed;
}

/*
 * One batch in its own transaction.  A sweep that waits too long for a
 * row lock (a client holding a row in an open transaction) gives up, and
 * the same block range is redone skipping the locked rows.
 */
static uint64
run_batch(TbPurgeSweep *sweep, bool *more)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint64		deleted = 0;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		deleted = tb_purge_batch(tb_purge_batch_size, sweep, more);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE || !sweep->active ||
			sweep->skip_locked)
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		FreeErrorData(edata);
		AbortCurrentTransaction();
		sweep->skip_locked = true;
		deleted = 0;
		*more = true;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return deleted;
}

/*
 * Delete expired rows, one transaction per batch, until none is left or
 * the run has lasted WORKER_RUN_MS.  Returns whether rows are left.
 */
static bool
purge_database(void)
{
	bool		more = true;
	int64		batches = 0;
	TbPurgeSweep sweep = {0};
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext batch_context = AllocSetContextCreate(CurrentMemoryContext,
														"textbook purge batch",
														ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(batch_context);

	WITH_MY_SLOT(sweep.resume_from = my_slot->sweep_resume);
	while (more)
	{
		uint64		deleted;

		CHECK_FOR_INTERRUPTS();
		if (TimestampDifferenceExceeds(started, GetCurrentTimestamp(), WORKER_RUN_MS))
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		pgstat_report_activity(STATE_RUNNING,
							   sweep.active
							   ? psprintf("purging expired translations, batch %lld: blocks %u to %u of %u",
										  (long long) ++batches, sweep.next_block,
										  Min(sweep.end_block, sweep.next_block + sweep.blocks_per_batch),
										  sweep.end_block)
							   : psprintf("purging expired translations, batch %lld of at most %d rows",
										  (long long) ++batches, tb_purge_batch_size));
		deleted = run_batch(&sweep, &more);
		pgstat_report_stat(false);
		MemoryContextReset(batch_context);

		WITH_MY_SLOT(my_slot->rows_last_run += deleted; my_slot->rows_total += deleted);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(batch_context);
	/* a sweep cut short by the time limit goes on where it stopped */
	WITH_MY_SLOT(my_slot->sweep_resume = (more && sweep.active) ? sweep.next_block : 0);
	return more;
}

void
tb_purge_worker_main(Datum main_arg)
{
	int			slotno = DatumGetInt32(main_arg);
	MemoryContext oldcxt = CurrentMemoryContext;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	attach_shmem();
	if (slotno < 0 || slotno >= TB_MAX_DATABASES)
		elog(ERROR, "textbook purge worker: invalid slot %d", slotno);
	my_slot = &purge_shared->slots[slotno];
	strlcpy(my_dbname, MyBgworkerEntry->bgw_extra, sizeof(my_dbname));

	BackgroundWorkerInitializeConnection(my_dbname,
										 tb_purge_role[0] ? tb_purge_role : NULL, 0);
	WITH_MY_SLOT(my_slot->reported = true;
				 my_slot->failures = 0;
				 my_slot->retry_after = 0);

	/*
	 * Our statements name every object with its schema.  Commits wait for
	 * their WAL flush, although a purge lost in a crash would simply be
	 * redone: with asynchronous commits the purge's WAL (mostly full-page
	 * images) piles up unflushed, and the application's next commits have
	 * to flush it for us (bench/README.md, purge latency).
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", WORKER_LOCK_TIMEOUT, PGC_USERSET, PGC_S_OVERRIDE);

	/*
	 * Nearly all the WAL of a purge is full-page images: the first change to
	 * each page after a checkpoint logs the whole page.  lz4 halves them, so
	 * the application's commits wait behind half as much of our WAL, and
	 * fewer new WAL segments are zero-filled during the purge (bench/README.md).
	 * A compression the DBA chose is kept.
	 */
#ifdef USE_LZ4
	if (wal_compression == WAL_COMPRESSION_NONE)
		SetConfigOption("wal_compression", "lz4", PGC_SUSET, PGC_S_OVERRIDE);
#endif
	pgstat_report_appname("textbook purge worker");

	if (!extension_installed())
	{
		WITH_MY_SLOT(my_slot->state = PURGE_STATE_NO_EXTENSION);
		proc_exit(0);
	}

	WITH_MY_SLOT(my_slot->worker_pid = MyProcPid;
				 my_slot->last_start = GetCurrentTimestamp();
				 my_slot->rows_last_run = 0);
	before_shmem_exit(clear_worker_pid, 0);

	PG_TRY();
	{
		bool		backlog = purge_database();

		WITH_MY_SLOT(my_slot->state = PURGE_STATE_OK;
					 my_slot->backlog = backlog;
					 my_slot->last_end = GetCurrentTimestamp());
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* record the error for the status view; the launcher logs it once */
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();

		/*
		 * A DROP EXTENSION that committed while we waited for its locks
		 * makes our statements fail on tables that are gone ("could not
		 * open relation with OID ..."): that is no error of the purge, but
		 * the state the launcher announces for a missing extension.
		 */
		if (!extension_installed())
			WITH_MY_SLOT(my_slot->state = PURGE_STATE_NO_EXTENSION;
						 my_slot->last_end = GetCurrentTimestamp());
		else
			WITH_MY_SLOT(my_slot->state = PURGE_STATE_ERROR;
						 my_slot->last_end = GetCurrentTimestamp();
						 my_slot->last_error_at = my_slot->last_end;
						 strlcpy(my_slot->last_error, edata->message, sizeof(my_slot->last_error)));
		FreeErrorData(edata);
	}
	PG_END_TRY();

	my_run_finished = true;
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

/* ----------------------------------------------------------------
 * SQL interface
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(start_purge_worker);
/*
 * start_purge_worker() RETURNS boolean: start the launcher without a
 * server restart; false, with a notice, when one is already running.
 */
Datum
start_purge_worker(PG_FUNCTION_ARGS)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	attach_shmem();
	LWLockAcquire(&purge_shared->lock, LW_SHARED);
	pid = purge_shared->launcher_pid;
	LWLockRelease(&purge_shared->lock);
	if (pid != 0)
	{
		ereport(NOTICE,
				(errmsg("textbook purge worker is already running with PID %d", (int) pid)));
		PG_RETURN_BOOL(false);
	}

	launcher_spec(&worker);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not register the textbook purge worker"),
				 errhint("Increase max_worker_processes.")));
	if (RecoveryInProgress())
	{
		ereport(NOTICE,
				(errmsg("textbook purge worker will start when recovery ends")));
		PG_RETURN_BOOL(true);
	}
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start the textbook purge worker"),
				 errhint("More details may be available in the server log.")));
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(purge_status);
/*
 * purge_status() RETURNS SETOF record: one row per served database, read
 * by the textbook.purge_status view.
 */
Datum
purge_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	attach_shmem();

	LWLockAcquire(&purge_shared->lock, LW_SHARED);
	for (int i = 0; i < TB_MAX_DATABASES; i++)
	{
		PurgeSlot  *slot = &purge_shared->slots[i];
		Datum		values[10];
		bool		nulls[10] = {0};

		if (NameStr(slot->dbname)[0] == '\0')
			continue;
		values[0] = CStringGetTextDatum(NameStr(slot->dbname));
		values[1] = CStringGetTextDatum(slot->worker_pid ? "purging"
										: purge_state_names[slot->state]);
		values[2] = Int32GetDatum(purge_shared->launcher_pid);
		nulls[2] = purge_shared->launcher_pid == 0;
		values[3] = Int32GetDatum(slot->worker_pid);
		nulls[3] = slot->worker_pid == 0;
		values[4] = TimestampTzGetDatum(slot->last_start);
		nulls[4] = slot->last_start == 0;
		values[5] = TimestampTzGetDatum(slot->last_end);
		nulls[5] = slot->last_end == 0;
		values[6] = Int64GetDatum(slot->rows_last_run);
		nulls[6] = slot->last_start == 0;
		values[7] = Int64GetDatum(slot->rows_total);
		values[8] = CStringGetTextDatum(slot->last_error);
		nulls[8] = slot->last_error_at == 0;
		values[9] = TimestampTzGetDatum(slot->last_error_at);
		nulls[9] = slot->last_error_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(&purge_shared->lock);
	return (Datum) 0;
}
