/**
 * The outputs the studio has recently shown, keyed by the `sampleKey` sent with each one, so a
 * rating names what was generated instead of uploading it back (and cannot rate something the
 * model never made). Kept in memory, newest last, up to `capacity` samples and `maxBytes` of
 * outputs, the oldest forgotten first; a key that has dropped out is answered with 410 Gone.
 *
 * Both bounds matter: a count alone lets a client that asks for large outputs (64-image grids,
 * long texts, long latent vectors in the explorer's settings) grow the server without limit.
 */
import { randomBytes } from 'node:crypto';

export interface RememberedSample {
  model: string;
  dir: string;
  family: string;
  /** The model's files' version when the sample was made (the catalog's), so a rating after a retrain is not filed under the new weights. */
  version: string;
  seed: number;
  settings: Record<string, unknown>;
  prompt?: string;
  /** The output: PNG or MIDI bytes, or text. */
  file?: { bytes: Buffer; extension: 'png' | 'mid' };
  text?: string;
  /** The store's id once rated (a sample is stored once however often it is rated). */
  storedId?: number;
}

/**
 * What a sample holds, roughly: its output's bytes, its text and prompt (a character each), and
 * its settings as JSON. Exact enough for a budget: the output is what dominates.
 */
export function sampleBytes(sample: RememberedSample): number {
  return (sample.file?.bytes.length ?? 0) + (sample.text?.length ?? 0) + (sample.prompt?.length ?? 0) + JSON.stringify(sample.settings).length;
}

/**
 * @example
 * const samples = new SampleCache(2000, 64 * 2 ** 20);
 * const key = samples.remember({ model: 'vae-mnist', dir, family: 'vae', version, seed: 1, settings: {}, file: { bytes: png, extension: 'png' } });
 * samples.get(key); // the sample, until 2000 newer ones or 64 MiB of newer outputs push it out
 */
export class SampleCache {
  private readonly samples = new Map<string, { sample: RememberedSample; bytes: number }>();
  private held = 0;

  /** `capacity` samples and `maxBytes` of outputs at most; the newest sample is kept even when it alone is over `maxBytes`. */
  constructor(private readonly capacity = 2000, private readonly maxBytes = 64 * 2 ** 20) {}

  remember(sample: RememberedSample): string {
    const key = randomBytes(12).toString('base64url');
    const bytes = sampleBytes(sample);
    this.samples.set(key, { sample, bytes });
    this.held += bytes;
    // Oldest first (a Map iterates in insertion order); never the one just added, which the
    // client is about to be shown and may rate.
    while (this.samples.size > 1 && (this.samples.size > this.capacity || this.held > this.maxBytes)) {
      const [oldest, entry] = this.samples.entries().next().value!;
      this.samples.delete(oldest);
      this.held -= entry.bytes;
    }
    return key;
  }

  get(key: string): RememberedSample | undefined {
    return this.samples.get(key)?.sample;
  }

  get size(): number {
    return this.samples.size;
  }

  /** The bytes the samples held now count for (see sampleBytes). */
  get bytes(): number {
    return this.held;
  }
}
