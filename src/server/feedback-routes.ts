/**
 * Feedback from the studio: ratings and A/B preferences on samples it showed, written to the same
 * SQLite feedback store `genloom rate` writes and `genloom finetune --ratings/--preferences` reads.
 * A sample is stored (its output written beside the store) the first time it is rated.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { samplesFolder } from '../feedback/collect.ts';
import { FeedbackStore, modelHash } from '../feedback/store.ts';
import { makeDirectories } from '../io/atomic.ts';
import type { ServerContext } from './context.ts';
import { HttpError } from './http-errors.ts';
import type { SampleCache } from './samples.ts';

const sampleKey = z.string().min(1).max(64);
const rater = z.string().min(1).max(100).optional();

export function registerFeedbackRoutes(context: ServerContext, caches: SampleCache[]): void {
  const { api, options, catalog } = context;
  let store: FeedbackStore | undefined;
  const openStore = () => {
    if (!store) {
      makeDirectories(join(options.dbPath, '..'));
      store = FeedbackStore.open(options.dbPath);
    }
    return store;
  };
  context.onClose(() => store?.close());
  const hashes = new Map<string, string>();
  const lookUp = (key: string) => caches.map((cache) => cache.get(key)).find((sample) => sample !== undefined);

  /** The store id of a remembered sample, storing it (and writing its output) on first use. */
  const storedSample = (key: string): number => {
    const sample = lookUp(key);
    if (!sample) throw new HttpError(410, 'GONE', `sample "${key}" is no longer known to the server (it keeps the latest outputs, and forgets them on restart): generate again`);
    if (sample.storedId !== undefined) return sample.storedId;
    const version = catalog.get(sample.model).version;
    if (version !== sample.version) throw new HttpError(409, 'CONFLICT', `${sample.model} has changed on disk since this sample was made (retrained or replaced): generate again to rate its current weights`);
    const hashKey = `${sample.dir}:${version}`;
    let hash = hashes.get(hashKey);
    if (!hash) {
      hash = modelHash(sample.dir);
      hashes.set(hashKey, hash);
    }
    let outputPath: string | undefined;
    if (sample.file) {
      const folder = samplesFolder(options.dbPath, sample.dir, hash);
      makeDirectories(folder);
      outputPath = join(folder, `studio-${Date.now()}-${key.slice(0, 8)}.${sample.file.extension}`);
      writeFileSync(outputPath, sample.file.bytes);
    }
    const record = openStore().addSample({
      model: sample.dir,
      modelHash: hash,
      family: sample.family,
      seed: sample.seed,
      settings: { ...sample.settings, source: 'studio' },
      ...(sample.prompt !== undefined ? { prompt: sample.prompt } : {}),
      ...(outputPath ? { outputPath } : {}),
      ...(sample.text !== undefined ? { outputText: sample.text } : {}),
    });
    sample.storedId = record.id;
    return record.id;
  };

  api.route(
    {
      method: 'POST',
      url: '/api/feedback/ratings',
      summary: 'Rate a sample the studio showed: thumbs (-1 or 1) or stars (1 to 5)',
      tag: 'feedback',
      body: z.object({ sampleKey, kind: z.enum(['thumbs', 'stars']), score: z.number().int(), rater }).strict(),
    },
    ({ body }) => {
      if (body.kind === 'thumbs' && body.score !== 1 && body.score !== -1) throw new HttpError(400, 'BAD_REQUEST', `a thumbs rating scores -1 (down) or 1 (up), not ${body.score}`);
      if (body.kind === 'stars' && !(body.score >= 1 && body.score <= 5)) throw new HttpError(400, 'BAD_REQUEST', `a stars rating scores 1 to 5, not ${body.score}`);
      const sampleId = storedSample(body.sampleKey);
      const rating = openStore().addRating({ sampleId, kind: body.kind, score: body.score, rater: body.rater ?? 'studio' });
      return { sampleId, ratingId: rating.id };
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/feedback/preferences',
      summary: 'Record which of two samples (of the same model) is better',
      tag: 'feedback',
      body: z.object({ chosen: sampleKey, rejected: sampleKey, rater }).strict(),
    },
    ({ body }) => {
      if (body.chosen === body.rejected) throw new HttpError(400, 'BAD_REQUEST', 'a preference needs two different samples');
      const first = lookUp(body.chosen);
      const second = lookUp(body.rejected);
      if (first && second && first.model !== second.model) throw new HttpError(400, 'BAD_REQUEST', `a preference compares samples of one model, not ${first.model} and ${second.model}`);
      const chosenId = storedSample(body.chosen);
      const rejectedId = storedSample(body.rejected);
      const preference = openStore().addPreference({ chosenId, rejectedId, rater: body.rater ?? 'studio' });
      return { chosenId, rejectedId, preferenceId: preference.id };
    },
  );

  api.route(
    { method: 'GET', url: '/api/feedback/stats', summary: 'How many samples, ratings and preferences the store holds (for one model with ?model=NAME)', tag: 'feedback', query: z.object({ model: z.string().max(128).optional(), token: z.string().optional() }) },
    ({ query }) => {
      const feedback = openStore();
      if (!query.model) return { db: options.dbPath, ...feedback.counts() };
      const filter = { modelHash: modelHash(catalog.get(query.model).dir) };
      return { db: options.dbPath, model: query.model, samples: feedback.samples(filter).length, ratings: feedback.ratings(filter).length, preferences: feedback.preferences(filter).length };
    },
  );
}
