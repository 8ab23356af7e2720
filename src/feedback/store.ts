/**
 * The feedback store: one SQLite file holding generated samples, the ratings people gave them and
 * their pairwise preferences, which the fine-tuning methods read back.
 *
 * Several processes may write at once (the studio server, a CLI rating session): the file is in WAL
 * mode so readers never block the writer, every write is a `BEGIN IMMEDIATE` transaction (it takes
 * the write lock up front; a deferred one that upgrades later fails at once with SQLITE_BUSY instead
 * of waiting) and `busy_timeout` makes a writer wait for the lock rather than fail. With
 * `synchronous = FULL` a committed transaction survives a crash of the process and of the machine.
 *
 * Identity and versions: `PRAGMA application_id` marks the file as ours, `PRAGMA user_version` is
 * the schema version, and `migrations` lists every version in order. A SQLite file without our
 * application id is refused unless it is empty, so the store never adds tables to another program's
 * database.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import nodePath from 'node:path';
import { check, GenloomError, type GenloomErrorCode } from '../core/errors.ts';
import { makeDirectories, writeFileAtomic } from '../io/atomic.ts';

/** 'GLFB' (GenLoom FeedBack) in the database header. */
const applicationId = 0x474c4642;
const busyTimeoutMs = 10_000;
const defaultRater = 'anonymous';
const sha256Hex = /^[0-9a-f]{64}$/;

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

export type RatingKind = 'thumbs' | 'stars';

export interface SampleInput {
  /** The model directory; stored resolved to an absolute path. */
  model: string;
  /** sha256 hex of the model's model.safetensors: see `modelHash`. */
  modelHash: string;
  family: string;
  seed: number;
  /** How the sample was drawn (temperature, steps, guidance, …); stored as JSON. */
  settings?: Record<string, unknown>;
  prompt?: string | null;
  /** The file written (PNG, MIDI, …); it must exist. */
  outputPath?: string | null;
  /** Generated text. At least one of `outputPath` and `outputText` is required. */
  outputText?: string | null;
  /** sha256 hex of the output; computed from the file (else the text) when absent. */
  hash?: string;
}

export interface SampleRecord {
  id: number;
  model: string;
  modelHash: string;
  family: string;
  seed: number;
  settings: Record<string, unknown>;
  prompt: string | null;
  outputPath: string | null;
  outputText: string | null;
  hash: string;
  createdAt: string;
}

export interface RatingInput {
  sampleId: number;
  /** 'thumbs' scores -1 or +1; 'stars' scores 1 to 5 whole stars. */
  kind: RatingKind;
  score: number;
  rater?: string;
  note?: string | null;
}

export interface RatingRecord {
  id: number;
  sampleId: number;
  kind: RatingKind;
  score: number;
  rater: string;
  note: string | null;
  createdAt: string;
}

export interface PreferenceInput {
  chosenId: number;
  rejectedId: number;
  rater?: string;
}

/** A preference with both samples, so a fine-tuning method needs nothing else. */
export interface PreferenceRecord {
  id: number;
  chosenId: number;
  rejectedId: number;
  rater: string;
  createdAt: string;
  modelHash: string;
  /** The prompt both samples answer (null for unconditional models). */
  prompt: string | null;
  chosen: SampleRecord;
  rejected: SampleRecord;
}

/** A sample with its ratings summarised: `score` is their mean after mapping each to [0, 1]. */
export interface RatedSample extends SampleRecord {
  score: number;
  ratingCount: number;
}

export interface FeedbackCounts {
  samples: number;
  ratings: number;
  preferences: number;
}

export interface FeedbackFilter {
  /** Only feedback for this model (sha256 hex of its model.safetensors). */
  modelHash?: string;
}

interface SampleRow {
  id: number;
  model: string;
  model_hash: string;
  family: string;
  seed: number;
  settings: string;
  prompt: string | null;
  output_path: string | null;
  output_text: string | null;
  hash: string;
  created_at: string;
}

interface RatingRow {
  id: number;
  sample_id: number;
  kind: RatingKind;
  score: number;
  rater: string;
  note: string | null;
  created_at: string;
}

interface PreferenceRow {
  id: number;
  chosen_id: number;
  rejected_id: number;
  rater: string;
  created_at: string;
}

/** A validated row, ready to insert. */
type NewSample = Omit<SampleRow, 'id'>;
type NewRating = Omit<RatingRow, 'id'>;

/**
 * sha256 hex of a model directory's model.safetensors: the identity feedback is recorded against,
 * so retraining into the same directory does not mix the feedback of two different models.
 *
 * @example
 * const hash = modelHash('runs/mnist-vae'); // '3f5a…' (64 hex digits)
 */
export function modelHash(directory: string): string {
  const file = nodePath.join(directory, 'model.safetensors');
  if (!fs.existsSync(file)) {
    throw new GenloomError('NOT_FOUND', `no model.safetensors in ${directory}; pass a model directory that genloom train wrote`);
  }
  return hashFile(file);
}

/** Reads in 1 MiB chunks: weights files can be far larger than is worth holding in memory at once. */
function hashFile(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const descriptor = fs.openSync(file, 'r');
  try {
    for (let read: number; (read = fs.readSync(descriptor, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, read));
  } finally {
    fs.closeSync(descriptor);
  }
  return hash.digest('hex');
}

/**
 * Samples, ratings and preferences in one SQLite file (see the top of this file for the guarantees).
 *
 * @example
 * const store = FeedbackStore.open('runs/mnist-vae/feedback.db');
 * const sample = store.addSample({ model: 'runs/mnist-vae', modelHash: modelHash('runs/mnist-vae'),
 *   family: 'vae', seed: 7, settings: { temperature: 1 }, outputPath: 'runs/mnist-vae/sample-7.png' });
 * store.addRating({ sampleId: sample.id, kind: 'stars', score: 4 });
 * store.ratedSamples(sample.modelHash); // [{ …sample, score: 0.75, ratingCount: 1 }]
 * store.close();
 */
export class FeedbackStore {
  readonly path: string;
  readonly #db: Database.Database;

  private constructor(db: Database.Database, path: string) {
    this.#db = db;
    this.path = path;
  }

  /**
   * Opens the store at `path`, creating the file and its folder if missing (an empty file is
   * initialised too) and migrating an older schema. Refuses a file that is not SQLite, a store
   * from a newer genloom, and a SQLite database of another program.
   *
   * @example
   * const store = FeedbackStore.open('feedback/feedback.db');
   */
  static open(path: string): FeedbackStore {
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
    return new FeedbackStore(db, file);
  }

  /**
   * Records a sample; hashes its output unless `hash` is given.
   *
   * @example
   * store.addSample({ model: dir, modelHash: modelHash(dir), family: 'transformer', seed: 1,
   *   prompt: 'Once upon', outputText: 'Once upon a time' });
   */
  addSample(input: SampleInput): SampleRecord {
    const row = validateSample(input, 'addSample', true);
    return this.#write('add a sample', () => this.#sample(this.#insertSample(row))!);
  }

  /**
   * Rates a sample: 'thumbs' with -1 or +1, or 'stars' with 1 to 5.
   *
   * @example
   * store.addRating({ sampleId: 3, kind: 'thumbs', score: 1, rater: 'ada', note: 'crisp digits' });
   */
  addRating(input: RatingInput): RatingRecord {
    const row = validateRating(input, 'addRating');
    return this.#write('add a rating', () => {
      this.#requireSample(row.sample_id);
      return toRating(this.#db.prepare('SELECT * FROM ratings WHERE id = ?').get(this.#insertRating(row)) as RatingRow);
    });
  }

  /**
   * Records that `chosenId` was preferred over `rejectedId`: two different outputs of one model
   * for one prompt.
   *
   * @example
   * store.addPreference({ chosenId: 4, rejectedId: 5, rater: 'ada' });
   */
  addPreference(input: PreferenceInput): PreferenceRecord {
    const chosenId = validateId(input.chosenId, 'addPreference: chosenId');
    const rejectedId = validateId(input.rejectedId, 'addPreference: rejectedId');
    const rater = validateRater(input.rater, 'addPreference');
    return this.#write('add a preference', () => {
      const id = this.#insertPreference(chosenId, rejectedId, rater, new Date().toISOString());
      return this.#preferences('WHERE p.id = ?', [id])[0]!;
    });
  }

  /** The sample with this id, if there is one. */
  sample(id: number): SampleRecord | undefined {
    this.#checkOpen();
    return this.#sample(id);
  }

  /**
   * Samples in the order they were added, optionally of one model only.
   *
   * @example
   * store.samples({ modelHash: modelHash('runs/mnist-vae') });
   */
  samples(filter: FeedbackFilter = {}): SampleRecord[] {
    const [where, parameters] = modelCondition(filter, 'samples', 'samples');
    return this.#all<SampleRow>(`SELECT * FROM samples ${where} ORDER BY id`, parameters).map(toSample);
  }

  /** Ratings in the order they were given, optionally for samples of one model only. */
  ratings(filter: FeedbackFilter = {}): RatingRecord[] {
    const [where, parameters] = modelCondition(filter, 's', 'ratings');
    const sql = `SELECT r.* FROM ratings r JOIN samples s ON s.id = r.sample_id ${where} ORDER BY r.id`;
    return this.#all<RatingRow>(sql, parameters).map(toRating);
  }

  /** Preferences in the order they were given, each with its prompt and both samples. */
  preferences(filter: FeedbackFilter = {}): PreferenceRecord[] {
    this.#checkOpen();
    const [where, parameters] = modelCondition(filter, 'c', 'preferences');
    // One read transaction: the preferences and the samples they name come from one snapshot.
    return this.#db.transaction(() => this.#preferences(where, parameters)).deferred();
  }

  /**
   * The rated samples of one model, each with the mean of its ratings mapped to [0, 1]
   * (thumbs: -1 → 0, +1 → 1; stars: (s - 1) / 4) and how many ratings there are.
   *
   * @example
   * const best = store.ratedSamples(hash).filter((sample) => sample.score >= 0.75);
   */
  ratedSamples(modelHashHex: string): RatedSample[] {
    check(sha256Hex.test(modelHashHex), `ratedSamples: modelHash must be 64 hex digits (see modelHash(dir)), got '${modelHashHex}'`);
    const sql = `
      SELECT s.*, COUNT(r.id) AS rating_count,
        AVG(CASE r.kind WHEN 'thumbs' THEN (r.score + 1) / 2.0 ELSE (r.score - 1) / 4.0 END) AS normalised_score
      FROM samples s JOIN ratings r ON r.sample_id = s.id
      WHERE s.model_hash = ? GROUP BY s.id ORDER BY s.id`;
    type Row = SampleRow & { rating_count: number; normalised_score: number };
    return this.#all<Row>(sql, [modelHashHex]).map((row) => ({
      ...toSample(row),
      score: row.normalised_score,
      ratingCount: row.rating_count,
    }));
  }

  /** How many samples, ratings and preferences the store holds. */
  counts(): FeedbackCounts {
    this.#checkOpen();
    const count = (table: string) => (this.#db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number);
    return this.#db.transaction(() => ({ samples: count('samples'), ratings: count('ratings'), preferences: count('preferences') })).deferred();
  }

  /**
   * Writes everything to `path` as JSON Lines, `{"type": "sample" | "rating" | "preference", …}`,
   * samples first; the file appears complete or not at all.
   *
   * @example
   * store.exportJsonl('feedback.jsonl'); // { samples: 12, ratings: 30, preferences: 4 }
   */
  exportJsonl(path: string): FeedbackCounts {
    this.#checkOpen();
    const { samples, ratings, preferences } = this.#db
      .transaction(() => ({
        samples: this.samples(),
        ratings: this.ratings(),
        preferences: this.#all<PreferenceRow>('SELECT * FROM preferences ORDER BY id', []),
      }))
      .deferred();
    const lines = [
      ...samples.map((sample) => ({ type: 'sample', ...sample })),
      ...ratings.map((rating) => ({ type: 'rating', ...rating })),
      ...preferences.map((row) => ({
        type: 'preference',
        id: row.id,
        chosenId: row.chosen_id,
        rejectedId: row.rejected_id,
        rater: row.rater,
        createdAt: row.created_at,
      })),
    ];
    writeFileAtomic(path, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    return { samples: samples.length, ratings: ratings.length, preferences: preferences.length };
  }

  /**
   * Adds everything in a JSON Lines file written by `exportJsonl`, all or nothing. Samples get new
   * ids (ratings and preferences follow them); importing a file twice adds its feedback twice.
   * Output files need not exist here: the file may come from another machine.
   *
   * @example
   * FeedbackStore.open('merged.db').importJsonl('feedback.jsonl'); // { samples: 12, ratings: 30, preferences: 4 }
   */
  importJsonl(path: string): FeedbackCounts {
    this.#checkOpen();
    const entries = parseJsonl(path);
    return this.#write(`import ${path}`, () => {
      const newIds = new Map<number, number>();
      const mapped = (id: unknown, where: string, what: string): number => {
        const newId = newIds.get(validateId(id, `${where}: ${what}`));
        if (newId === undefined) throw new GenloomError('CORRUPT_FILE', `${where}: ${what} ${String(id)} is not a sample of this file`);
        return newId;
      };
      const counts: FeedbackCounts = { samples: 0, ratings: 0, preferences: 0 };
      // Samples first, so ratings and preferences may come before the samples they name.
      for (const { line, entry } of entries.filter(({ entry }) => entry.type === 'sample')) {
        const where = `${path} line ${line}`;
        atLine(where, () => {
          const fileId = validateId(entry.id, `${where}: id`);
          if (newIds.has(fileId)) throw new GenloomError('CORRUPT_FILE', `${where}: sample id ${fileId} appears twice`);
          const row = validateSample(entry as unknown as SampleInput, where, false);
          newIds.set(fileId, this.#insertSample({ ...row, created_at: validateTime(entry.createdAt, where) }));
        });
        counts.samples++;
      }
      for (const { line, entry } of entries) {
        const where = `${path} line ${line}`;
        if (entry.type === 'rating') {
          atLine(where, () => {
            const sampleId = mapped(entry.sampleId, where, 'sampleId');
            const row = validateRating({ ...(entry as unknown as RatingInput), sampleId }, where);
            this.#insertRating({ ...row, created_at: validateTime(entry.createdAt, where) });
          });
          counts.ratings++;
        } else if (entry.type === 'preference') {
          atLine(where, () => {
            const chosenId = mapped(entry.chosenId, where, 'chosenId');
            const rejectedId = mapped(entry.rejectedId, where, 'rejectedId');
            this.#insertPreference(chosenId, rejectedId, validateRater(entry.rater, where), validateTime(entry.createdAt, where));
          });
          counts.preferences++;
        }
      }
      return counts;
    });
  }

  /** Closes the database; the store cannot be used afterwards. Closing twice is harmless. */
  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /** Runs `body` as one IMMEDIATE transaction, turning SQLite errors into one-line GenloomErrors. */
  #write<T>(what: string, body: () => T): T {
    this.#checkOpen();
    try {
      return this.#db.transaction(body).immediate();
    } catch (error) {
      throw asGenloomError(error, `cannot ${what} in ${this.path}`);
    }
  }

  #checkOpen(): void {
    if (!this.#db.open) throw new GenloomError('BAD_ARGUMENT', `the feedback store ${this.path} is closed; open it again with FeedbackStore.open`);
  }

  #all<Row>(sql: string, parameters: unknown[]): Row[] {
    this.#checkOpen();
    return this.#db.prepare(sql).all(...parameters) as Row[];
  }

  #sample(id: number): SampleRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM samples WHERE id = ?').get(id) as SampleRow | undefined;
    return row && toSample(row);
  }

  #requireSample(id: number): SampleRecord {
    const sample = this.#sample(id);
    if (!sample) throw new GenloomError('NOT_FOUND', `no sample ${id} in ${this.path}`);
    return sample;
  }

  #insertSample(row: NewSample): number {
    const sql = `INSERT INTO samples (model, model_hash, family, seed, settings, prompt, output_path, output_text, hash, created_at)
      VALUES (@model, @model_hash, @family, @seed, @settings, @prompt, @output_path, @output_text, @hash, @created_at)`;
    return Number(this.#db.prepare(sql).run(row).lastInsertRowid);
  }

  #insertRating(row: NewRating): number {
    const sql = `INSERT INTO ratings (sample_id, kind, score, rater, note, created_at)
      VALUES (@sample_id, @kind, @score, @rater, @note, @created_at)`;
    return Number(this.#db.prepare(sql).run(row).lastInsertRowid);
  }

  /** Checks the pair (inside the caller's transaction) and inserts it. */
  #insertPreference(chosenId: number, rejectedId: number, rater: string, createdAt: string): number {
    if (chosenId === rejectedId) {
      throw new GenloomError('BAD_ARGUMENT', `a preference between identical samples (sample ${chosenId} twice); choose two different samples`);
    }
    const chosen = this.#requireSample(chosenId);
    const rejected = this.#requireSample(rejectedId);
    if (chosen.modelHash !== rejected.modelHash) {
      throw new GenloomError(
        'BAD_ARGUMENT',
        `feedback for a sample of another model: sample ${chosenId} is from ${chosen.model} (${chosen.modelHash.slice(0, 12)}…), ` +
          `sample ${rejectedId} from ${rejected.model} (${rejected.modelHash.slice(0, 12)}…); compare samples of one model`,
      );
    }
    if (chosen.hash === rejected.hash) {
      throw new GenloomError(
        'BAD_ARGUMENT',
        `a preference between identical samples: samples ${chosenId} and ${rejectedId} have the same output (${chosen.hash.slice(0, 12)}…)`,
      );
    }
    // A preference says "for this prompt, this output is better": across prompts it means nothing.
    if (chosen.prompt !== rejected.prompt) {
      throw new GenloomError('BAD_ARGUMENT', `a preference compares two answers to one prompt, but samples ${chosenId} and ${rejectedId} have different prompts`);
    }
    const sql = 'INSERT INTO preferences (chosen_id, rejected_id, rater, created_at) VALUES (?, ?, ?, ?)';
    return Number(this.#db.prepare(sql).run(chosenId, rejectedId, rater, createdAt).lastInsertRowid);
  }

  #preferences(where: string, parameters: unknown[]): PreferenceRecord[] {
    const sql = `SELECT p.*, c.model_hash, c.prompt FROM preferences p JOIN samples c ON c.id = p.chosen_id ${where} ORDER BY p.id`;
    const rows = this.#db.prepare(sql).all(...parameters) as (PreferenceRow & { model_hash: string; prompt: string | null })[];
    return rows.map((row) => ({
      id: row.id,
      chosenId: row.chosen_id,
      rejectedId: row.rejected_id,
      rater: row.rater,
      createdAt: row.created_at,
      modelHash: row.model_hash,
      prompt: row.prompt,
      chosen: this.#sample(row.chosen_id)!,
      rejected: this.#sample(row.rejected_id)!,
    }));
  }
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

function asGenloomError(error: unknown, context: string): GenloomError {
  if (error instanceof GenloomError) return error;
  const code = error instanceof Database.SqliteError ? error.code : '';
  const kind: GenloomErrorCode = code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' ? 'CORRUPT_FILE' : 'BAD_ARGUMENT';
  const detail = code.startsWith('SQLITE_BUSY')
    ? `another process held the database for over ${busyTimeoutMs / 1000} s (${reason(error)})`
    : reason(error);
  return new GenloomError(kind, `${context}: ${detail}`, { cause: error });
}

function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
}

function modelCondition(filter: FeedbackFilter, alias: string, caller: string): [string, unknown[]] {
  if (filter.modelHash === undefined) return ['', []];
  check(sha256Hex.test(filter.modelHash), `${caller}: modelHash must be 64 hex digits (see modelHash(dir)), got '${filter.modelHash}'`);
  return [`WHERE ${alias}.model_hash = ?`, [filter.modelHash]];
}

function toSample(row: SampleRow): SampleRecord {
  return {
    id: row.id,
    model: row.model,
    modelHash: row.model_hash,
    family: row.family,
    seed: row.seed,
    settings: JSON.parse(row.settings) as Record<string, unknown>,
    prompt: row.prompt,
    outputPath: row.output_path,
    outputText: row.output_text,
    hash: row.hash,
    createdAt: row.created_at,
  };
}

function toRating(row: RatingRow): RatingRecord {
  return {
    id: row.id,
    sampleId: row.sample_id,
    kind: row.kind,
    score: row.score,
    rater: row.rater,
    note: row.note,
    createdAt: row.created_at,
  };
}

const isText = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;
const isOptionalString = (value: unknown): value is string | null | undefined => value == null || typeof value === 'string';

/** `context` starts every message: the API method's name, or a file and line when importing. */
function validateSample(input: SampleInput, context: string, fromThisMachine: boolean): NewSample {
  check(input !== null && typeof input === 'object', `${context}: pass a sample object`);
  check(isText(input.model), `${context}: model is required (the model directory)`);
  check(typeof input.modelHash === 'string' && sha256Hex.test(input.modelHash), `${context}: modelHash must be 64 hex digits (the sha256 from modelHash(dir)), got '${String(input.modelHash)}'`);
  check(isText(input.family), `${context}: family is required (e.g. 'vae')`);
  check(Number.isSafeInteger(input.seed), `${context}: seed must be an integer, got ${String(input.seed)}`);
  const settings = input.settings ?? {};
  check(typeof settings === 'object' && settings !== null && !Array.isArray(settings), `${context}: settings must be an object of named values`);
  check(isOptionalString(input.prompt), `${context}: prompt must be a string`);
  check(input.outputPath == null || isText(input.outputPath), `${context}: outputPath must be a file path`);
  check(isOptionalString(input.outputText), `${context}: outputText must be a string`);
  check(input.outputPath != null || input.outputText != null, `${context}: give outputPath (the file written) or outputText (the generated text)`);
  check(input.hash === undefined || (typeof input.hash === 'string' && sha256Hex.test(input.hash)), `${context}: hash must be 64 hex digits (sha256 of the output)`);
  let settingsJson: string;
  try {
    settingsJson = JSON.stringify(settings);
  } catch (error) {
    throw new GenloomError('BAD_ARGUMENT', `${context}: settings must be plain JSON values (${reason(error)})`, { cause: error });
  }
  const outputPath = input.outputPath == null ? null : nodePath.resolve(input.outputPath);
  if (fromThisMachine && outputPath !== null && !fs.statSync(outputPath, { throwIfNoEntry: false })?.isFile()) {
    throw new GenloomError('NOT_FOUND', `${context}: output file ${outputPath} does not exist; record a sample after writing it`);
  }
  let hash = input.hash;
  if (hash === undefined) {
    check(fromThisMachine, `${context}: hash is required (sha256 of the output)`);
    hash = outputPath !== null ? hashFile(outputPath) : createHash('sha256').update(input.outputText!, 'utf8').digest('hex');
  }
  return {
    model: nodePath.resolve(input.model),
    model_hash: input.modelHash,
    family: input.family,
    seed: input.seed,
    settings: settingsJson,
    prompt: input.prompt ?? null,
    output_path: outputPath,
    output_text: input.outputText ?? null,
    hash,
    created_at: new Date().toISOString(),
  };
}

function validateRating(input: RatingInput, context: string): NewRating {
  check(input !== null && typeof input === 'object', `${context}: pass a rating object`);
  const sampleId = validateId(input.sampleId, `${context}: sampleId`);
  const { kind, score } = input;
  if (kind === 'thumbs') {
    check(score === 1 || score === -1, `${context}: a thumbs rating scores -1 (down) or +1 (up), got ${String(score)}`);
  } else if (kind === 'stars') {
    check(Number.isInteger(score) && score >= 1 && score <= 5, `${context}: a stars rating scores 1 to 5 whole stars, got ${String(score)}`);
  } else {
    throw new GenloomError('BAD_ARGUMENT', `${context}: kind must be 'thumbs' or 'stars', got '${String(kind)}'`);
  }
  check(isOptionalString(input.note), `${context}: note must be a string`);
  return { sample_id: sampleId, kind, score, rater: validateRater(input.rater, context), note: input.note ?? null, created_at: new Date().toISOString() };
}

function validateId(id: unknown, what: string): number {
  check(Number.isSafeInteger(id) && (id as number) > 0, `${what} must be a sample id (a positive integer), got ${String(id)}`);
  return id as number;
}

function validateRater(rater: unknown, context: string): string {
  if (rater === undefined) return defaultRater;
  check(isText(rater), `${context}: rater must be a non-empty name`);
  return rater.trim();
}

function validateTime(value: unknown, context: string): string {
  check(typeof value === 'string' && !Number.isNaN(Date.parse(value)), `${context}: createdAt must be an ISO date`);
  return value;
}

/** Re-throws any error of `body` as a CORRUPT_FILE error naming the line, since the file is at fault. */
function atLine(where: string, body: () => void): void {
  try {
    body();
  } catch (error) {
    const message = error instanceof GenloomError && error.message.startsWith(where) ? error.message : `${where}: ${reason(error)}`;
    throw new GenloomError('CORRUPT_FILE', `${message}; nothing was imported`, { cause: error });
  }
}

type Entry = Record<string, unknown> & { type: 'sample' | 'rating' | 'preference' };

/** Every non-blank line, parsed and typed, before anything touches the database. */
function parseJsonl(path: string): { line: number; entry: Entry }[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new GenloomError('NOT_FOUND', `cannot read ${path}: ${reason(error)}`, { cause: error });
  }
  const entries: { line: number; entry: Entry }[] = [];
  text.split('\n').forEach((content, index) => {
    if (content.trim() === '') return;
    let entry: unknown;
    try {
      entry = JSON.parse(content);
    } catch (error) {
      throw new GenloomError('CORRUPT_FILE', `${path} line ${index + 1} is not JSON (${reason(error)}); nothing was imported`, { cause: error });
    }
    const type = (entry as { type?: unknown } | null)?.type;
    if (typeof entry !== 'object' || Array.isArray(entry) || (type !== 'sample' && type !== 'rating' && type !== 'preference')) {
      throw new GenloomError('CORRUPT_FILE', `${path} line ${index + 1}: expected an object with "type" "sample", "rating" or "preference"; nothing was imported`);
    }
    entries.push({ line: index + 1, entry: entry as Entry });
  });
  return entries;
}
