/**
 * `genloom finetune PARENT --out DIR …`: the fourth stage of every family. Four sources of signal,
 * one command:
 *   --dataset X                        transfer: the family's own loss on new data
 *   --reward SPEC  --method M          an algorithmic reward (rejection or reward-weighted)
 *   --ratings DB   --method M          people's ratings from the feedback store (same two methods)
 *   --preferences DB --method dpo      people's A/B choices, by DPO (transformer)
 * The child keeps a link to its parent in config.json.
 */
import { Command } from 'commander';
import { initEngine } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { hasCheckpoint, readManifest } from '../io/checkpoint.ts';
import { drawCandidates, scoreCandidates, type Candidates } from '../feedback/candidates.ts';
import { finetuneOnScores, type ScoreMethod } from '../feedback/reward-finetune.ts';
import { parseReward, rewardKindOf, type RewardScores } from '../feedback/rewards.ts';
import { ratedCandidates, storePreferencePairs } from '../feedback/from-store.ts';
import type { TrainRequest, TrainSummary } from '../models/family.ts';
import { getFamily, loadModel } from '../models/registry.ts';
import { globalOptions, parseChoice, parseInteger, parseNumber, printJson } from './options.ts';

const methods = ['transfer', 'rejection', 'reward-weighted', 'dpo'] as const;
type Method = (typeof methods)[number];

interface FinetuneFlags {
  out: string;
  dataset?: string;
  reward?: string;
  ratings?: string;
  preferences?: string;
  method?: Method;
  candidates?: number;
  keep: number;
  rewardTemperature: number;
  beta: number;
  prompt?: string[];
  maxTokens?: number;
  bars?: number;
  seed: number;
  steps?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  freeze?: string;
  resume?: boolean;
  overwrite?: boolean;
  json?: boolean;
}

/** Candidates drawn when --candidates is not given: what each kind can afford in minutes on two cores. */
const defaultCandidates = { image: 2000, text: 200, music: 64 };

export function finetuneCommand(): Command {
  return new Command('finetune')
    .description('fine-tune a model on new data (--dataset), an algorithmic reward (--reward), ratings (--ratings) or preferences (--preferences)')
    .argument('<parent>', 'the model directory to start from (e.g. models/gan-mnist)')
    .requiredOption('--out <dir>', 'the new model directory (config.json records the parent)')
    .option('--dataset <name|path>', 'transfer: train on this data with the family\'s own loss')
    .option('--reward <spec>', 'an algorithmic reward: classifier:7, keyword:light,darkness, length:200, in-key:G, range:48-72')
    .option('--ratings <db>', 'a feedback store (genloom rate): fine-tune on the samples people rated')
    .option('--preferences <db>', 'a feedback store with A/B preferences (genloom rate --pairs): DPO for text models')
    .option('--method <name>', `${methods.join(', ')} (default: transfer with --dataset, rejection with --reward/--ratings, dpo with --preferences)`, parseChoice(methods))
    .option('--candidates <n>', `samples drawn and scored (default ${defaultCandidates.image} images (GANs 5000), ${defaultCandidates.text} texts, ${defaultCandidates.music} pieces)`, parseInteger(2, 100_000))
    .option('--keep <share>', 'rejection: the best share of the candidates that is trained on', parseNumber(0.0001, 1), 0.1)
    .option('--reward-temperature <tau>', 'reward-weighted: τ in exp(reward/τ) (smaller is greedier)', parseNumber(1e-6, 1e6), 0.1)
    .option('--beta <b>', 'dpo: how far the model may move from its parent (β; smaller allows more)', parseNumber(1e-6, 1e3), 0.1)
    .option('--prompt <text...>', 'text models: prompts for the candidates (default: line openings of the model\'s dataset)')
    .option('--max-tokens <n>', 'text models: tokens per candidate (default 160)', parseInteger(1, 4096))
    .option('--bars <n>', 'music models: bars per candidate (default 8)', parseInteger(1, 256))
    .option('--seed <n>', 'random seed: the same seed gives the same candidates and the same model', parseInteger(0), 0)
    .option('--steps <n>', 'optimizer steps (default: 300 from feedback, 1 epoch from --dataset)', parseInteger(1))
    .option('--epochs <n>', 'passes over the data, instead of --steps', parseNumber(0.001, 10_000))
    .option('--batch-size <n>', 'examples per step (default: the family\'s)', parseInteger(1, 4096))
    .option('--lr <rate>', 'peak learning rate (default: a quarter of the parent\'s; from a reward or ratings, GANs twice the parent\'s)', parseNumber(1e-8, 10))
    .option('--freeze <prefixes>', 'hold these parameter groups fixed, comma-separated name prefixes (e.g. d. or encoder.,blocks.0.)')
    .option('--resume', 'continue the fine-tune in --out from its last checkpoint')
    .option('--overwrite', 'replace a model already in --out')
    .option('--json', 'print the summary as JSON')
    .action(async (parentDir: string, flags: FinetuneFlags, self: Command) => {
      const backend = await initEngine({ backend: globalOptions(self).backend });
      const quiet = Boolean(globalOptions(self).quiet);
      const parent = readManifest(parentDir);
      const sources = (['dataset', 'reward', 'ratings', 'preferences'] as const).filter((name) => flags[name] !== undefined);
      if (sources.length !== 1) {
        throw new GenloomError('BAD_ARGUMENT', sources.length === 0 ? 'say what to fine-tune on: --dataset, --reward, --ratings or --preferences' : `give one of --${sources.join(', --')}, not several`);
      }
      const method = flags.method ?? ({ dataset: 'transfer', reward: 'rejection', ratings: 'rejection', preferences: 'dpo' } as const)[sources[0]!];
      const allowed: Record<string, readonly Method[]> = { dataset: ['transfer'], reward: ['rejection', 'reward-weighted'], ratings: ['rejection', 'reward-weighted'], preferences: ['dpo'] };
      if (!allowed[sources[0]!]!.includes(method)) throw new GenloomError('BAD_ARGUMENT', `--method ${method} does not go with --${sources[0]} (use ${allowed[sources[0]!]!.join(' or ')})`);
      if (!flags.resume && !flags.overwrite && hasCheckpoint(flags.out)) {
        throw new GenloomError('BAD_ARGUMENT', `${flags.out} already holds a model: continue it with --resume, or replace it with --overwrite`);
      }
      const resuming = Boolean(flags.resume) && hasCheckpoint(flags.out);
      const parentLearningRate = parent.training['learningRate'];
      const feedbackDefaults = getFamily(parent.family).feedbackDefaults;
      // A resumed fine-tune takes its length and rate from its own checkpoint unless flags say otherwise.
      const fresh = !resuming && flags.epochs === undefined;
      const request: Omit<TrainRequest, 'dataset'> = {
        outDir: flags.out,
        seed: flags.seed,
        epochs: flags.epochs ?? (fresh && flags.steps === undefined && method === 'transfer' ? 1 : undefined),
        steps: flags.steps ?? (fresh && method !== 'transfer' ? 300 : undefined),
        batchSize: flags.batchSize,
        learningRate: flags.lr ?? (!resuming && typeof parentLearningRate === 'number' ? parentLearningRate * (method === 'transfer' ? 0.25 : (feedbackDefaults?.learningRateScale ?? 0.25)) : undefined),
        resume: Boolean(flags.resume),
        config: {},
        command: ['genloom', ...process.argv.slice(2)].join(' '),
        quiet,
        backend,
        ...(flags.freeze ? { freeze: flags.freeze.split(',').map((prefix) => prefix.trim()).filter(Boolean) } : {}),
      };
      if (!quiet) process.stderr.write(`genloom: ${resuming ? 'resuming' : 'training'} a fine-tune of ${parentDir} (${parent.family}) by ${method} with the ${backend} backend\n`);

      let summary: TrainSummary & { feedback?: Record<string, unknown> };
      if (method === 'transfer') {
        summary = await getFamily(parent.family).train({ ...request, dataset: flags.dataset!, ...(resuming ? {} : { parent: parentDir }) });
      } else if (method === 'dpo') {
        const finetunePreferences = getFamily(parent.family).finetunePreferences;
        if (!finetunePreferences) throw new GenloomError('UNSUPPORTED', `DPO fine-tunes text and diffusion models; ${parentDir} is a ${parent.family} model (use --ratings with --method rejection or reward-weighted)`);
        const { pairs, imagePairs, raters } = storePreferencePairs(flags.preferences!, parentDir);
        const imageDpo = getFamily(parent.family).generates === 'images';
        // A scripted rater (a reward spec) can judge the child too: feedback report uses it for the win rate.
        const rater = raters.length === 1 && raters[0] !== 'human' ? raters[0] : undefined;
        const recorded = (resuming ? readManifest(flags.out).training : {}) as Record<string, unknown>;
        summary = await finetunePreferences({
          parentDir,
          pairs,
          imagePairs,
          outDir: flags.out,
          // Diffusion-DPO's β multiplies squared denoising errors, not log-probabilities: its scale is in the hundreds.
          beta: self.getOptionValueSource('beta') === 'cli' ? flags.beta : ((recorded['beta'] as number | undefined) ?? (imageDpo ? 500 : flags.beta)),
          steps: flags.steps ?? (recorded['totalSteps'] as number | undefined) ?? 300,
          batchSize: flags.batchSize ?? (recorded['batchSize'] as number | undefined) ?? 8,
          learningRate: flags.lr ?? (recorded['learningRate'] as number | undefined) ?? (imageDpo ? 2e-5 : 1e-4),
          seed: flags.seed,
          command: request.command,
          backend,
          quiet,
          resume: resuming,
          record: { feedback: { method: imageDpo ? 'diffusion-dpo' : 'dpo', preferences: flags.preferences, pairs: imageDpo ? imagePairs.length : pairs.length, raters, ...(rater ? { rater } : {}) } },
        });
      } else if (resuming) {
        // The candidates were drawn and written into the run when it started.
        summary = await getFamily(parent.family).train({ ...request, dataset: '' });
      } else {
        summary = await scoredFinetune(parentDir, flags, method, request, quiet);
      }
      if (flags.json) printJson(summary);
      else {
        const losses = Object.entries(summary.last).map(([name, value]) => `${name} ${value.toFixed(3)}`).join(', ');
        const feedback = summary.feedback ? `; trained on ${summary.feedback['kept'] ?? summary.feedback['distinctDrawn']} of ${summary.feedback['candidates']} samples (reward ${summary.feedback['candidateRewardMean']} → ${summary.feedback['keptRewardMean']})` : '';
        process.stdout.write(
          `${summary.stoppedEarly ? 'stopped' : 'finished'} at step ${summary.steps}; saved to ${summary.outDir}${losses ? ` (${losses})` : ''}${feedback}\n` +
            (summary.stoppedEarly ? `continue with: genloom finetune ${parentDir} --resume --out ${summary.outDir} ${sourceFlags(flags)}\n` : `compare with its parent: genloom feedback report ${summary.outDir}\n`),
        );
      }
    });
}

function sourceFlags(flags: FinetuneFlags): string {
  if (flags.dataset) return `--dataset ${flags.dataset}`;
  if (flags.reward) return `--reward ${flags.reward}`;
  if (flags.ratings) return `--ratings ${flags.ratings}`;
  return `--preferences ${flags.preferences}`;
}

/** Rejection or reward-weighted fine-tuning from a reward's scores or from people's ratings. */
async function scoredFinetune(parentDir: string, flags: FinetuneFlags, method: ScoreMethod, request: Omit<TrainRequest, 'dataset'>, quiet: boolean) {
  const model = loadModel(parentDir);
  let candidates: Candidates;
  let scores: RewardScores;
  let source: Record<string, unknown>;
  try {
    if (flags.reward) {
      const reward = parseReward(flags.reward, model.manifest, parentDir);
      try {
        candidates = drawCandidates(model, parentDir, {
          count: flags.candidates ?? getFamily(model.family).feedbackDefaults?.candidates ?? defaultCandidates[rewardKindOf(model.family)],
          seed: request.seed,
          prompts: flags.prompt,
          ...(flags.maxTokens ? { text: { maxTokens: flags.maxTokens } } : {}),
          bars: flags.bars,
          quiet,
        });
        scores = scoreCandidates(reward, candidates);
        source = {
          reward: reward.spec,
          rewardDescription: reward.description,
          ...(reward.kind === 'image' && reward.target ? { classifier: reward.target.classifierDir } : {}),
          // How the candidates were drawn, so `feedback report` draws the same way.
          ...(flags.prompt?.length ? { prompts: flags.prompt } : {}),
          ...(flags.maxTokens ? { maxTokens: flags.maxTokens } : {}),
          ...(flags.bars ? { bars: flags.bars } : {}),
        };
      } finally {
        reward.dispose();
      }
    } else {
      ({ candidates, scores } = ratedCandidates(flags.ratings!, parentDir, model));
      source = { ratings: flags.ratings };
    }
  } finally {
    model.dispose();
  }
  return finetuneOnScores({ parentDir, candidates, scores, method, keep: flags.keep, temperature: flags.rewardTemperature, request, source });
}
