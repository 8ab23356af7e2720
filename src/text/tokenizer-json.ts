/**
 * A tokenizer from tokenizer.json's contents, of either kind, with no Node API: what the studio's
 * in-browser builders read a model's tokenizer with (tokenizer.ts reads and writes the file).
 */
import { GenloomError } from '../core/errors.ts';
import { BpeTokenizer } from './bpe-tokenizer.ts';
import { CharTokenizer } from './char-tokenizer.ts';
import type { Tokenizer } from './tokenizer.ts';

/** A tokenizer from parsed tokenizer.json; `source` names the file in messages. */
export function tokenizerFromJson(json: unknown, source: string): Tokenizer {
  const kind = (json as { kind?: unknown } | null)?.kind;
  if (kind === 'char') return CharTokenizer.fromJson(json, source);
  if (kind === 'bpe') return BpeTokenizer.fromJson(json, source);
  throw new GenloomError('CORRUPT_FILE', `${source} is not a genloom tokenizer (its "kind" is ${JSON.stringify(kind)}; expected "char" or "bpe")`);
}

/** A tokenizer from tokenizer.json's text (as fetched by the page). */
export function tokenizerFromText(text: string, source: string): Tokenizer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GenloomError('CORRUPT_FILE', `${source} is not valid JSON`);
  }
  return tokenizerFromJson(json, source);
}
