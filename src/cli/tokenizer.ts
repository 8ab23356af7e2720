/**
 * `genloom tokenizer train`: learns a tokenizer from a corpus and writes <out>/tokenizer.json, so a
 * text model can be trained with a vocabulary made once. Progress goes to stderr; stdout gets one
 * summary line.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { characterCount, characterTokenizer, encodeText, loadTextCorpus } from '../data/text-dataset.ts';
import { makeDirectories } from '../io/atomic.ts';
import { BpeTokenizer } from '../text/bpe-tokenizer.ts';
import { tokenizerFile, writeTokenizer, type Tokenizer } from '../text/tokenizer.ts';
import { globalOptions, parseChoice, parseInteger } from './options.ts';

const tokenizerKinds = ['bpe', 'char'] as const;
const defaultBpeVocabulary = 2048;

interface TrainTokenizerFlags {
  dataset: string;
  kind: string;
  vocab?: string;
  out: string;
}

export function tokenizerCommand(): Command {
  const command = new Command('tokenizer').description('make the tokenizer a text model reads and writes text with');
  command
    .command('train')
    .description('learn a tokenizer from a corpus\'s training split and write <out>/tokenizer.json')
    .requiredOption('--dataset <kjv|file|folder>', 'kjv, a UTF-8 text file, or a folder of .txt/.md files')
    .requiredOption('--kind <bpe|char>', 'bpe: byte-level BPE as in GPT-2 (any text encodes); char: one token per character of the corpus')
    .option('--vocab <n>', `BPE vocabulary size, the 256 byte tokens included (default ${defaultBpeVocabulary})`)
    .requiredOption('--out <dir>', `directory to write ${tokenizerFile} into`)
    .action((flags: TrainTokenizerFlags, self: Command) => {
      // Flags are checked here rather than by commander, so a bad value is a BAD_ARGUMENT GenloomError like the rest of the CLI's validation.
      const kind = checkFlag('--kind', flags.kind, parseChoice(tokenizerKinds));
      if (kind === 'char' && flags.vocab !== undefined) throw new GenloomError('BAD_ARGUMENT', '--vocab applies to --kind bpe only: a character vocabulary is the corpus\'s characters');
      const vocabularySize = flags.vocab === undefined ? defaultBpeVocabulary : checkFlag('--vocab', flags.vocab, parseInteger(257, 1_000_000));
      const quiet = Boolean(globalOptions(self).quiet);

      const corpus = loadTextCorpus(flags.dataset);
      const started = performance.now();
      const tokenizer: Tokenizer = kind === 'char' ? characterTokenizer(corpus) : BpeTokenizer.train(corpus.train, vocabularySize, quiet ? undefined : bpeProgress());
      if (!quiet) process.stderr.write(`genloom: learned the ${kind} tokenizer of ${corpus.name} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

      try {
        makeDirectories(flags.out);
      } catch (error) {
        throw new GenloomError('BAD_ARGUMENT', `cannot create ${flags.out}: ${(error as Error).message}`, { cause: error });
      }
      writeTokenizer(flags.out, tokenizer);
      const validationTokens = encodeText(tokenizer, corpus.validation).length;
      const tokensPerCharacter = validationTokens / Math.max(1, characterCount(corpus.validation));
      process.stdout.write(`${kind} tokenizer: ${tokenizer.vocabularySize} tokens, ${tokensPerCharacter.toFixed(3)} tokens per character on the validation split; wrote ${join(flags.out, tokenizerFile)}\n`);
    });
  return command;
}

/** Applies one of options.ts's parsers, turning its complaint into a BAD_ARGUMENT error naming the flag. */
function checkFlag<T>(flag: string, value: string, parse: (value: string) => T): T {
  try {
    return parse(value);
  } catch (error) {
    throw new GenloomError('BAD_ARGUMENT', `${flag} ${JSON.stringify(value)}: ${(error as Error).message}`);
  }
}

/** Reports merges on stderr every 10% of the way. */
function bpeProgress(): (merges: number, total: number) => void {
  let nextTenth = 1;
  return (merges, total) => {
    if (merges * 10 < nextTenth * total) return;
    nextTenth = Math.floor((merges * 10) / total) + 1;
    process.stderr.write(`genloom: BPE merges ${merges}/${total} (${Math.floor((merges * 100) / total)}%)\n`);
  };
}
