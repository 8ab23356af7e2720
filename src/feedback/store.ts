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
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import nodePath from 'node:path';
import { check, GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import {
  atLine,
  hashFile,
  modelCondition,
  parseJsonl,
  sha256Hex,
  toRating,
  toSample,
  validateId,
  validateRater,
  validateRating,
  validateSample,
  validateTime,
  type FeedbackCounts,
  type FeedbackFilter,
  type NewRating,
  type NewSample,
  type PreferenceInput,
  type PreferenceRecord,
  type PreferenceRow,
  type RatedSample,
  type RatingInput,
  type RatingRecord,
  type RatingRow,
  type SampleInput,
  type SampleRecord,
  type SampleRow,
} from './store-records.ts';
import { asGenloomError, openDatabase } from './store-schema.ts';

// The schema version and the record types belong to the store's API: import them from here.
export { feedbackSchemaVersion } from './store-schema.ts';
export type {
  FeedbackCounts,
  FeedbackFilter,
  PreferenceInput,
  PreferenceRecord,
  RatedSample,
  RatingInput,
  RatingKind,
  RatingRecord,
  SampleInput,
  SampleRecord,
} from './store-records.ts';

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
    const { db, file } = openDatabase(path);
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
