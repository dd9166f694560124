package store

/*
// The SQLite that go-sqlite3 links in; declared here rather than included,
// as its header is that package's.
typedef struct sqlite3 sqlite3;
int sqlite3_db_config(sqlite3 *, int, ...);
int sqlite3_auto_extension(void (*)(void));

#define DATASYNC_DBCONFIG_NO_CKPT_ON_CLOSE 1006

// datasyncKeepWAL runs on every SQLite connection this process opens (only
// state stores: connectors run in their own processes). By default the
// last connection to close checkpoints the WAL into the database and
// deletes it: two fsyncs and an unlink, 41-47 ms of an incremental run's
// exit here, after the background checkpointer had copied nearly all of it.
// Without that, the WAL stays beside state.db for the next process, which
// reads through it and checkpoints as usual. A commit is exactly as
// durable (synchronous=NORMAL syncs the WAL at checkpoints, not commits).
static int datasyncKeepWAL(sqlite3 *db, char **err, const void *api) {
	(void)err;
	(void)api;
	sqlite3_db_config(db, DATASYNC_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
	return 0;
}

// Registered as the program loads, before any connection is opened.
__attribute__((constructor)) static void datasyncRegisterKeepWAL(void) {
	sqlite3_auto_extension((void (*)(void))datasyncKeepWAL);
}
*/
import "C"
