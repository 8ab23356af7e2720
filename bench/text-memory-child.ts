/**
 * Child process of bench/text-memory.ts: reads and tokenizes one corpus as `train transformer`
 * does, then prints its peak resident memory as JSON (a fresh process, so the peak is this work's).
 */
import { loadTextCorpus, tokenizeCorpus } from '../src/data/text-dataset.ts';
import { BpeTokenizer } from '../src/text/bpe-tokenizer.ts';
import { CharTokenizer } from '../src/text/char-tokenizer.ts';

const [path, kind] = process.argv.slice(2) as [string, string];
const started = performance.now();
const corpus = loadTextCorpus(path);
const tokenizer = kind === 'bpe' ? BpeTokenizer.train(corpus.train.slice(0, 5_000_000), 2048) : CharTokenizer.fromText(corpus.train + corpus.validation);
const tokens = tokenizeCorpus(corpus, tokenizer);
process.stdout.write(`${JSON.stringify({ tokens: tokens.train.length + tokens.validation.length, peakMb: process.resourceUsage().maxRSS / 1024, seconds: (performance.now() - started) / 1000 })}\n`);
