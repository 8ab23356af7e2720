/**
 * The feedback store's records and their checks: the types the store takes and returns, the SQLite
 * rows behind them and the conversion between the two, the validation of every input (from the
 * API and from an imported file alike) and the parsing of JSON Lines files for import.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import nodePath from 'node:path';
import { check, GenloomError } from '../core/errors.ts';
import { defaultRater, reason } from './store-schema.ts';

export const sha256Hex = /^[0-9a-f]{64}$/;

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

export interface SampleRow {
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

export interface RatingRow {
  id: number;
  sample_id: number;
  kind: RatingKind;
  score: number;
  rater: string;
  note: string | null;
  created_at: string;
}

export interface PreferenceRow {
  id: number;
  chosen_id: number;
  rejected_id: number;
  rater: string;
  created_at: string;
}

/** A validated row, ready to insert. */
export type NewSample = Omit<SampleRow, 'id'>;
export type NewRating = Omit<RatingRow, 'id'>;

/** Reads in 1 MiB chunks: weights files can be far larger than is worth holding in memory at once. */
export function hashFile(file: string): string {
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

export function modelCondition(filter: FeedbackFilter, alias: string, caller: string): [string, unknown[]] {
  if (filter.modelHash === undefined) return ['', []];
  check(sha256Hex.test(filter.modelHash), `${caller}: modelHash must be 64 hex digits (see modelHash(dir)), got '${filter.modelHash}'`);
  return [`WHERE ${alias}.model_hash = ?`, [filter.modelHash]];
}

export function toSample(row: SampleRow): SampleRecord {
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

export function toRating(row: RatingRow): RatingRecord {
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
export function validateSample(input: SampleInput, context: string, fromThisMachine: boolean): NewSample {
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

export function validateRating(input: RatingInput, context: string): NewRating {
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

export function validateId(id: unknown, what: string): number {
  check(Number.isSafeInteger(id) && (id as number) > 0, `${what} must be a sample id (a positive integer), got ${String(id)}`);
  return id as number;
}

export function validateRater(rater: unknown, context: string): string {
  if (rater === undefined) return defaultRater;
  check(isText(rater), `${context}: rater must be a non-empty name`);
  return rater.trim();
}

export function validateTime(value: unknown, context: string): string {
  check(typeof value === 'string' && !Number.isNaN(Date.parse(value)), `${context}: createdAt must be an ISO date`);
  return value;
}

/** Re-throws any error of `body` as a CORRUPT_FILE error naming the line, since the file is at fault. */
export function atLine(where: string, body: () => void): void {
  try {
    body();
  } catch (error) {
    const message = error instanceof GenloomError && error.message.startsWith(where) ? error.message : `${where}: ${reason(error)}`;
    throw new GenloomError('CORRUPT_FILE', `${message}; nothing was imported`, { cause: error });
  }
}

type Entry = Record<string, unknown> & { type: 'sample' | 'rating' | 'preference' };

/** Every non-blank line, parsed and typed, before anything touches the database. */
export function parseJsonl(path: string): { line: number; entry: Entry }[] {
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
