/**
 * The feedback store's file format and how a file is opened: the schema migrations, the checks
 * that a file is ours (application id) and not from a newer genloom (user_version), the
 * connection settings (WAL, synchronous = FULL, busy timeout) and the turning of SQLite errors
 * into one-line GenloomErrors. The guarantees these give are described at the top of store.ts.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import nodePath from 'node:path';
import { GenloomError, type GenloomErrorCode } from '../core/errors.ts';
import { makeDirectories } from '../io/atomic.ts';

/** 'GLFB' (GenLoom FeedBack) in the database header. */
const applicationId = 0x474c4642;
const busyTimeoutMs = 10_000;
/** The rater of feedback given without a name; v1 ratings, which had none, become this one too. */
export const defaultRater = 'anonymous';

interface Migration {
  version: number;
  summary: string;
  sql: string;
}

/** Every schema version in order; a migration's SQL takes the database from `version - 1` to `version`. */
const migrations: readonly Migration[] = [
  {
    version: 1,
    summary: 'samples and ratings',
    sql: `
      PRAGMA application_id = ${applicationId};
      CREATE TABLE samples (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        model_hash TEXT NOT NULL,
        family TEXT NOT NULL,
        seed INTEGER NOT NULL,
        settings TEXT NOT NULL,
        prompt TEXT,
        output_path TEXT,
        output_text TEXT,
        hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        CHECK (output_path IS NOT NULL OR output_text IS NOT NULL)
      );
      CREATE TABLE ratings (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL REFERENCES samples (id),
        kind TEXT NOT NULL CHECK (kind IN ('thumbs', 'stars')),
        score REAL NOT NULL,
        note TEXT,
        created_at TEXT NOT NULL
      );`,
  },
  {
    version: 2,
    summary: 'raters, pairwise preferences and lookup indexes',
    // Ratings from v1 had no rater: they become the default one.
    sql: `
      ALTER TABLE ratings ADD COLUMN rater TEXT NOT NULL DEFAULT '${defaultRater}';
      CREATE TABLE preferences (
        id INTEGER PRIMARY KEY,
        chosen_id INTEGER NOT NULL REFERENCES samples (id),
        rejected_id INTEGER NOT NULL REFERENCES samples (id),
        rater TEXT NOT NULL DEFAULT '${defaultRater}',
        created_at TEXT NOT NULL,
        CHECK (chosen_id <> rejected_id)
      );
      CREATE INDEX samples_by_model ON samples (model_hash);
      CREATE INDEX ratings_by_sample ON ratings (sample_id);
      CREATE INDEX preferences_by_chosen ON preferences (chosen_id);
      CREATE INDEX preferences_by_rejected ON preferences (rejected_id);`,
  },
];

/** The schema version this code writes; files from a newer one are refused. */
export const feedbackSchemaVersion = migrations[migrations.length - 1]!.version;

/**
 * Opens the database at `path` (see FeedbackStore.open), returning the connection and the
 * resolved file path it was opened at; the connection is closed again if any check fails.
 */
export function openDatabase(path: string): { db: Database.Database; file: string } {
  const file = nodePath.resolve(path);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    throw new GenloomError('BAD_ARGUMENT', `${path} is a directory; pass a database file path such as ${nodePath.join(path, 'feedback.db')}`);
  }
  try {
    makeDirectories(nodePath.dirname(file));
  } catch (error) {
    throw new GenloomError('BAD_ARGUMENT', `cannot create the folder of ${path}: ${reason(error)}`, { cause: error });
  }
  const db = connect(file);
  try {
    prepareDatabase(db, file);
  } catch (error) {
    db.close();
    throw error;
  }
  return { db, file };
}

/** Opens the connection; the native module loads here, so a missing build is reported here. */
function connect(file: string): Database.Database {
  try {
    // `timeout` is SQLite's busy_timeout: wait this long for another writer's lock before failing.
    return new Database(file, { timeout: busyTimeoutMs });
  } catch (error) {
    if (error instanceof Database.SqliteError) {
      throw new GenloomError('BAD_ARGUMENT', `cannot open feedback database ${file}: ${reason(error)}`, { cause: error });
    }
    throw new GenloomError(
      'BACKEND',
      `the feedback store needs better-sqlite3's native module, which did not load (${reason(error)}); build it with: npm run postinstall`,
      { cause: error },
    );
  }
}

/** Checks that `file` is ours (or empty), sets the connection up and migrates to the newest schema. */
function prepareDatabase(db: Database.Database, file: string): void {
  let foundId: number;
  let foundVersion: number;
  let tables: string[];
  try {
    // One read transaction, so that another process creating the store meanwhile cannot show us
    // its tables without its application id.
    [foundId, foundVersion, tables] = db.transaction(() => [
      db.pragma('application_id', { simple: true }) as number,
      db.pragma('user_version', { simple: true }) as number,
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[],
    ] as const).deferred();
  } catch (error) {
    if (error instanceof Database.SqliteError && error.code === 'SQLITE_NOTADB') {
      throw new GenloomError('CORRUPT_FILE', `${file} is not a feedback database (not SQLite): ${reason(error)}`, { cause: error });
    }
    throw asGenloomError(error, `cannot read feedback database ${file}`);
  }
  const empty = foundId === 0 && foundVersion === 0 && tables.length === 0;
  if (foundId !== applicationId && !empty) {
    const listed = tables.length > 0 ? `tables ${tables.join(', ')}` : 'no tables';
    throw new GenloomError('BAD_ARGUMENT', `${file} is a SQLite database but not a genloom feedback store (${listed}); pass a new path or a feedback store`);
  }
  if (foundVersion > feedbackSchemaVersion) {
    throw new GenloomError(
      'UNSUPPORTED',
      `${file} has feedback schema v${foundVersion}, newer than the v${feedbackSchemaVersion} this genloom knows; upgrade genloom to use it`,
    );
  }
  try {
    enableWal(db);
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (error) {
    throw asGenloomError(error, `cannot set up feedback database ${file}`);
  }
  for (const migration of migrations) {
    try {
      // The version is read again inside the transaction: another process may have migrated meanwhile.
      db.transaction(() => {
        if ((db.pragma('user_version', { simple: true }) as number) >= migration.version) return;
        db.exec(migration.sql);
        db.pragma(`user_version = ${migration.version}`);
      }).immediate();
    } catch (error) {
      throw asGenloomError(error, `cannot migrate ${file} to feedback schema v${migration.version} (${migration.summary})`);
    }
  }
}

/**
 * Switching a file to WAL needs it to itself for a moment, and SQLite answers SQLITE_BUSY at once
 * instead of calling the busy handler (two processes creating one store race here): retry until
 * the busy timeout. Once the file is in WAL mode this is a no-op.
 */
function enableWal(db: Database.Database): void {
  const deadline = Date.now() + busyTimeoutMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      const busy = error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
      if (!busy || Date.now() > deadline) throw error;
      Atomics.wait(sleeper, 0, 0, 5);
    }
  }
}

export function asGenloomError(error: unknown, context: string): GenloomError {
  if (error instanceof GenloomError) return error;
  const code = error instanceof Database.SqliteError ? error.code : '';
  const kind: GenloomErrorCode = code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' ? 'CORRUPT_FILE' : 'BAD_ARGUMENT';
  const detail = code.startsWith('SQLITE_BUSY')
    ? `another process held the database for over ${busyTimeoutMs / 1000} s (${reason(error)})`
    : reason(error);
  return new GenloomError(kind, `${context}: ${detail}`, { cause: error });
}

export function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
}
