/**
 * The outputs the studio has recently shown, keyed by the `sampleKey` sent with each one, so a
 * rating names what was generated instead of uploading it back (and cannot rate something the
 * model never made). Kept in memory, newest last, up to `capacity`; a key that has dropped out is
 * answered with 410 Gone.
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

export class SampleCache {
  private readonly samples = new Map<string, RememberedSample>();
  constructor(private readonly capacity = 2000) {}

  remember(sample: RememberedSample): string {
    const key = randomBytes(12).toString('base64url');
    this.samples.set(key, sample);
    while (this.samples.size > this.capacity) this.samples.delete(this.samples.keys().next().value!);
    return key;
  }

  get(key: string): RememberedSample | undefined {
    return this.samples.get(key);
  }

  get size(): number {
    return this.samples.size;
  }
}
