/**
 * Commands for text models: `generate` (streaming, or an interactive story loop) and `attention`.
 * stdout carries only the text, so the same seed gives byte-identical output; statistics go to
 * stderr.
 */
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { generationRandom } from '../generate/seeds.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { plotAttention } from '../io/plot.ts';
import type { LoadedModel, TextModel } from '../models/family.ts';
import { maxGenerationTokens, type TextGenerationOptions } from '../models/transformer/generate.ts';
import { validateTokenSampling } from '../sampling/token-sampling.ts';
import { globalOptions, openModel, parseInteger, parseNumber } from './options.ts';

interface GenerateFlags {
  prompt?: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  stop: string[];
  seed: number;
  cache: boolean;
  interactive?: boolean;
  out?: string;
}

export function requireText(model: LoadedModel, dir: string): TextModel {
  if (!model.text) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model, which does not make text: use genloom sample`);
  return model.text;
}

export function generateCommand(): Command {
  return new Command('generate')
    .description('continue a prompt with a text model; the text streams to stdout as it is made')
    .argument('<model>', 'model directory')
    .option('--prompt <text>', 'text to continue (default: start from a newline)', '')
    .option('--max-tokens <n>', 'tokens to generate', parseInteger(1, maxGenerationTokens), 200)
    .option('--temperature <t>', 'divide the logits by t; 0 = greedy (always the most likely token)', parseNumber(0, 100), 1)
    .option('--top-k <k>', 'sample only from the k most likely tokens (0 = all)', parseInteger(0), 0)
    .option('--top-p <p>', 'sample only from the most likely tokens that together reach p, in (0, 1]', parseNumber(), 1)
    .option('--repetition-penalty <r>', 'penalise tokens already in the text (≥ 1; 1 = none)', parseNumber(), 1)
    .option('--stop <text>', 'end before this text (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--seed <n>', 'random seed: the same seed gives the same text', parseInteger(0), 0)
    .option('--no-cache', 're-run the whole context for every token instead of using the KV cache (slower; for comparison)')
    .option('--interactive', 'a story loop: type a line, the model continues it; an empty line continues again, Ctrl-D ends')
    .option('--out <file>', 'also write the text (prompt and continuation) to this file')
    .action(async (dir: string, flags: GenerateFlags, self: Command) => {
      if (flags.out && flags.interactive) throw new GenloomError('BAD_ARGUMENT', '--out writes one generation; it does not go with --interactive');
      const settings = {
        maxTokens: flags.maxTokens,
        temperature: flags.temperature,
        topK: flags.topK,
        topP: flags.topP,
        repetitionPenalty: flags.repetitionPenalty,
        stop: flags.stop,
        useCache: flags.cache,
      };
      validateTokenSampling(settings); // before the model loads
      const model = await openModel(dir, self);
      try {
        const text = requireText(model, dir);
        const quiet = Boolean(globalOptions(self).quiet);
        if (flags.interactive) await storyLoop(text, settings, flags.seed, flags.prompt ?? '');
        else {
          const written = generateOnce(text, flags.prompt ?? '', { ...settings, random: generationRandom(flags.seed, 'text') }, quiet);
          if (flags.out) writeFileAtomic(flags.out, `${written}\n`);
        }
      } finally {
        model.dispose();
      }
    });
}

/** Streams the prompt and its continuation to stdout; returns them. */
function generateOnce(text: TextModel, prompt: string, options: TextGenerationOptions, quiet: boolean): string {
  text.tokenizer.encode(prompt); // a prompt the model cannot read fails before anything is written
  process.stdout.write(prompt);
  const result = text.generate(prompt, { ...options, onText: (chunk) => process.stdout.write(chunk) });
  process.stdout.write('\n');
  if (result.droppedPromptTokens > 0) process.stderr.write(`genloom: the prompt is longer than the model's ${text.context}-token context; it saw the last ${text.context} tokens\n`);
  if (!quiet) {
    const perSecond = result.tokens.length / Math.max(result.seconds, 1e-9);
    process.stderr.write(`genloom: ${result.tokens.length} tokens in ${result.seconds.toFixed(2)} s (${perSecond.toFixed(1)} tokens/s${options.useCache === false ? ', no KV cache' : ''}); stopped by ${result.stoppedBy}\n`);
  }
  return prompt + result.text;
}

/** Each line typed is appended to the story and the model continues it; the story is the context. */
async function storyLoop(text: TextModel, settings: Omit<TextGenerationOptions, 'random'>, seed: number, opening: string): Promise<void> {
  const lines = createInterface({ input: process.stdin, terminal: false });
  let story = opening;
  let turn = 0;
  process.stderr.write(`genloom: type a line and press Enter; the model continues the story (${text.context}-token context). An empty line lets it go on; Ctrl-D ends.\n`);
  if (opening) process.stdout.write(opening);
  const continueStory = () => {
    const result = text.generate(story, { ...settings, random: generationRandom(seed, 'text').fork('turn', turn++), onText: (chunk) => process.stdout.write(chunk) });
    story += result.text;
    process.stdout.write('\n');
  };
  if (opening) continueStory();
  for await (const line of lines) {
    const before = story;
    if (line.length > 0) story += `${story.length > 0 && !story.endsWith('\n') ? '\n' : ''}${line}\n`;
    try {
      continueStory();
    } catch (error) {
      if (!(error instanceof GenloomError)) throw error;
      // A character outside the vocabulary loses that line, not the story.
      process.stderr.write(`genloom: ${error.message}\n`);
      story = before;
    }
  }
}

export function attentionCommand(): Command {
  return new Command('attention')
    .description('draw what each attention head looks at for a prompt: one heatmap per layer and head, as PNG')
    .argument('<model>', 'model directory')
    .requiredOption('--prompt <text>', 'the text to look at (cut to the model\'s context)')
    .requiredOption('--out <file.png>', 'where to write the PNG')
    .option('--json', 'also print the attention weights as JSON')
    .action(async (dir: string, flags: { prompt: string; out: string; json?: boolean }, self: Command) => {
      if (!flags.out.toLowerCase().endsWith('.png')) throw new GenloomError('BAD_ARGUMENT', `--out must name a .png file, got ${flags.out}`);
      const model = await openModel(dir, self);
      try {
        const { tokens, layers } = requireText(model, dir).attention(flags.prompt);
        writeFileAtomic(flags.out, await plotAttention(tokens, layers, { title: `attention of ${dir} (row: token, column: what it attends to)` }));
        if (flags.json) process.stdout.write(`${JSON.stringify({ tokens, layers: layers.map((heads) => heads.map((map) => Array.from(map, (value) => Number(value.toFixed(4))))) })}\n`);
        else process.stdout.write(`wrote ${flags.out} (${layers.length} layers × ${layers[0]!.length} heads, ${tokens.length} tokens)\n`);
      } finally {
        model.dispose();
      }
    });
}
