/**
 * `genloom rate MODEL`: draw samples, show them, and record what a person thinks of them in the
 * feedback store — 👍/👎, 1–5 stars, or A/B preferences (--pairs). Answers are read line by line
 * from standard input, so a script can pipe them in; --rater SPEC lets an algorithmic reward answer
 * instead (a scripted stand-in for a person, recorded under its spec).
 */
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { initEngine } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { collectSamples, type CollectedSample } from '../feedback/collect.ts';
import { datasetPrompts, drawCandidates, scoreCandidates } from '../feedback/candidates.ts';
import { parseReward, rewardKindOf, type RewardScores } from '../feedback/rewards.ts';
import { canShowColour, halfBlockPreview } from '../feedback/show.ts';
import { FeedbackStore } from '../feedback/store.ts';
import { loadModel } from '../models/registry.ts';
import { globalOptions, parseChoice, parseInteger } from './options.ts';

interface RateFlags {
  n: number;
  db: string;
  pairs?: boolean;
  scale: 'thumbs' | 'stars';
  rater?: string;
  seed: number;
  prompt?: string[];
  maxTokens?: number;
  bars?: number;
}

export function rateCommand(): Command {
  return new Command('rate')
    .description('show samples and record ratings (👍/👎 or 1–5) or A/B preferences (--pairs) in a feedback store')
    .argument('<model>', 'the model directory whose samples are rated')
    .option('--n <count>', 'samples to rate (with --pairs: pairs)', parseInteger(1, 10_000), 16)
    .option('--db <file>', 'the feedback store (SQLite; created if missing)', 'feedback.db')
    .option('--pairs', 'A/B: show two samples (the same prompt for text) and record which is better')
    .option('--scale <kind>', 'thumbs (👍/👎) or stars (1–5)', parseChoice(['thumbs', 'stars'] as const), 'thumbs')
    .option('--rater <spec>', 'answer with this reward instead of a person (e.g. keyword:light): a scripted rater')
    .option('--seed <n>', 'random seed of the samples', parseInteger(0), 0)
    .option('--prompt <text...>', 'text models: prompts (default: line openings of the model\'s dataset)')
    .option('--max-tokens <n>', 'text models: tokens per sample (default 160)', parseInteger(1, 4096))
    .option('--bars <n>', 'music models: bars per piece (default 8)', parseInteger(1, 256))
    .action(async (dir: string, flags: RateFlags, self: Command) => {
      await initEngine({ backend: globalOptions(self).backend });
      const quiet = Boolean(globalOptions(self).quiet);
      const model = loadModel(dir);
      const store = FeedbackStore.open(flags.db);
      try {
        const kind = rewardKindOf(model.family);
        const count = flags.pairs ? 2 * flags.n : flags.n;
        // Pairs of texts share their prompt, so the choice is between two continuations of it.
        const prompts = kind === 'text' ? (flags.prompt?.length ? flags.prompt : datasetPrompts(model, 'train', flags.n, flags.seed)) : undefined;
        const pairedPrompts = prompts && flags.pairs ? prompts.flatMap((prompt) => [prompt, prompt]) : prompts;
        const candidates = drawCandidates(model, dir, {
          count,
          seed: flags.seed,
          prompts: pairedPrompts,
          ...(flags.maxTokens ? { text: { maxTokens: flags.maxTokens } } : {}),
          bars: flags.bars,
          quiet,
        });
        const samples = collectSamples(store, flags.db, model, dir, candidates, flags.seed, { drawnBy: 'genloom rate', ...(flags.maxTokens ? { maxTokens: flags.maxTokens } : {}), ...(flags.bars ? { bars: flags.bars } : {}) });
        let scores: RewardScores | undefined;
        if (flags.rater) {
          const rater = parseReward(flags.rater, model.manifest, dir);
          try {
            scores = scoreCandidates(rater, candidates);
          } finally {
            rater.dispose();
          }
        }
        const tally = flags.pairs ? await ratePairs(store, samples, flags, scores) : await rateOneByOne(store, samples, flags, scores);
        process.stdout.write(`${tally} in ${flags.db}\n`);
      } finally {
        store.close();
        model.dispose();
      }
    });
}

/** What a person sees of one sample. */
function show(sample: CollectedSample, label: string): void {
  const out = process.stdout;
  out.write(`\n${label}`);
  // The continuation in bold, so it stands apart from the prompt.
  if (sample.text !== undefined) out.write(`\n${sample.prompt}${canShowColour(out) ? `\x1b[1m${sample.text}\x1b[0m` : sample.text}\n`);
  if (sample.files.length > 0) out.write(`  ${sample.files.join('  ')}\n`);
  if (sample.image && canShowColour(out)) out.write(`${halfBlockPreview(sample.image)}\n`);
}

/** Reads one answer per question; null at the end of input or on q. */
function questioner(): { ask(question: string, valid: (answer: string) => boolean): Promise<string | null>; close(): void } {
  const lines = createInterface({ input: process.stdin, output: process.stdout, terminal: Boolean(process.stdin.isTTY) });
  const queue: string[] = [];
  let ended = false;
  let waiting: ((line: string | null) => void) | null = null;
  lines.on('line', (line) => (waiting ? (waiting(line), (waiting = null)) : queue.push(line)));
  lines.on('close', () => {
    ended = true;
    waiting?.(null);
  });
  const next = () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : ended ? Promise.resolve(null) : new Promise<string | null>((resolve) => (waiting = resolve)));
  return {
    async ask(question, valid) {
      for (;;) {
        process.stdout.write(question);
        const line = await next();
        if (line === null) return null;
        const answer = line.trim().toLowerCase();
        if (answer === 'q' || answer === 'quit') return null;
        if (valid(answer)) return answer;
        process.stdout.write(`"${line.trim()}" is not an answer here\n`);
      }
    },
    close: () => lines.close(),
  };
}

const thumbsAnswers: Record<string, number> = { u: 1, up: 1, y: 1, '+': 1, '👍': 1, d: -1, down: -1, n: -1, '-': -1, '👎': -1 };

async function rateOneByOne(store: FeedbackStore, samples: CollectedSample[], flags: RateFlags, scores?: RewardScores): Promise<string> {
  const rater = flags.rater ?? 'human';
  const counts = new Map<number, number>();
  const record = (sample: CollectedSample, score: number) => {
    store.addRating({ sampleId: sample.id, kind: flags.scale, score, rater });
    counts.set(score, (counts.get(score) ?? 0) + 1);
  };
  if (scores) {
    // A scripted rater: a thumbs up for a hit; stars spread the reward over 1..5.
    samples.forEach((sample, i) => record(sample, flags.scale === 'thumbs' ? (scores.hits[i] ? 1 : -1) : 1 + Math.round(4 * scores.rewards[i]!)));
  } else {
    const input = questioner();
    try {
      for (const [i, sample] of samples.entries()) {
        show(sample, `sample ${i + 1} of ${samples.length}`);
        const question = flags.scale === 'thumbs' ? '[u]p 👍 / [d]own 👎 / [s]kip / [q]uit: ' : '1–5 stars / [s]kip / [q]uit: ';
        const answer = await input.ask(question, (text) => text === 's' || text === 'skip' || (flags.scale === 'thumbs' ? text in thumbsAnswers : /^[1-5]$/.test(text)));
        if (answer === null) break;
        if (answer === 's' || answer === 'skip') continue;
        record(sample, flags.scale === 'thumbs' ? thumbsAnswers[answer]! : Number(answer));
      }
    } finally {
      input.close();
    }
  }
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const parts = flags.scale === 'thumbs' ? `${counts.get(1) ?? 0} 👍, ${counts.get(-1) ?? 0} 👎` : [1, 2, 3, 4, 5].map((stars) => `${counts.get(stars) ?? 0}×${stars}`).join(', ');
  return `recorded ${total} rating${total === 1 ? '' : 's'} (${parts})`;
}

async function ratePairs(store: FeedbackStore, samples: CollectedSample[], flags: RateFlags, scores?: RewardScores): Promise<string> {
  const rater = flags.rater ?? 'human';
  let recorded = 0;
  let skipped = 0;
  const prefer = (chosen: CollectedSample, rejected: CollectedSample) => {
    try {
      store.addPreference({ chosenId: chosen.id, rejectedId: rejected.id, rater });
      recorded += 1;
    } catch (error) {
      // Two identical samples say nothing about which is better: skip them rather than stop.
      if (!(error instanceof GenloomError)) throw error;
      skipped += 1;
    }
  };
  const input = scores ? null : questioner();
  try {
    for (let pair = 0; pair < samples.length / 2; pair++) {
      const [a, b] = [samples[2 * pair]!, samples[2 * pair + 1]!];
      if (scores) {
        const [ra, rb] = [scores.rewards[2 * pair]!, scores.rewards[2 * pair + 1]!];
        if (ra === rb) skipped += 1;
        else prefer(ra > rb ? a : b, ra > rb ? b : a);
        continue;
      }
      show(a, `pair ${pair + 1} of ${samples.length / 2}: A`);
      show(b, 'B');
      const answer = await input!.ask('which is better? [a] / [b] / [=] same / [q]uit: ', (text) => ['a', 'b', '=', 's'].includes(text));
      if (answer === null) break;
      if (answer === 'a') prefer(a, b);
      else if (answer === 'b') prefer(b, a);
      else skipped += 1;
    }
  } finally {
    input?.close();
  }
  return `recorded ${recorded} preference${recorded === 1 ? '' : 's'} (${skipped} pair${skipped === 1 ? '' : 's'} skipped as equal)`;
}
