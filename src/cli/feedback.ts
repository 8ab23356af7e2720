/**
 * `genloom feedback …`: what was learned from feedback, and the store it lives in.
 *   report CHILD          parent against child on the same seeds (reward, quality, pictures)
 *   stats DB              what the store holds
 *   export DB --out F     the store as JSON lines
 *   import DB F           JSON lines into a store (all or nothing)
 */
import { Command } from 'commander';
import { initEngine } from '../core/engine.ts';
import { FeedbackStore } from '../feedback/store.ts';
import { feedbackReport } from '../feedback/report.ts';
import { globalOptions, parseInteger, printJson } from './options.ts';

export function feedbackCommand(): Command {
  const command = new Command('feedback').description('compare a fine-tuned model with its parent, and manage feedback stores');
  command
    .command('report')
    .description('compare a fine-tuned model with its parent on the same seeds: reward, target share, quality metric, sample grids/texts (written to DIR/report/)')
    .argument('<model>', 'a model made by genloom finetune')
    .option('--samples <n>', 'samples per model (default 1000 images, 64 texts, 16 pieces)', parseInteger(2, 100_000))
    .option('--seed <n>', 'random seed of the samples (the same for both models)', parseInteger(0), 1000)
    .option('--reward <spec>', 'judge by this reward or rater instead of the one the model was trained with')
    .option('--json', 'print the report as one JSON object')
    .action(async (dir: string, flags: { samples?: number; seed: number; reward?: string; json?: boolean }, self: Command) => {
      await initEngine({ backend: globalOptions(self).backend });
      const report = await feedbackReport(dir, { samples: flags.samples, seed: flags.seed, reward: flags.reward, quiet: Boolean(globalOptions(self).quiet) });
      if (flags.json) return printJson(report);
      process.stdout.write(`${formatReport(report)}\n`);
    });
  command
    .command('stats')
    .description('count the samples, ratings and preferences in a feedback store')
    .argument('<db>', 'the feedback store (SQLite)')
    .action((db: string) => {
      const store = FeedbackStore.open(db);
      try {
        printJson(store.counts());
      } finally {
        store.close();
      }
    });
  command
    .command('export')
    .description('write a feedback store as JSON lines (samples, ratings, preferences)')
    .argument('<db>', 'the feedback store (SQLite)')
    .requiredOption('--out <file.jsonl>', 'the JSONL file to write')
    .action((db: string, flags: { out: string }) => {
      const store = FeedbackStore.open(db);
      try {
        store.exportJsonl(flags.out);
        process.stdout.write(`wrote ${flags.out}\n`);
      } finally {
        store.close();
      }
    });
  command
    .command('import')
    .description('add the records of a JSONL export to a feedback store, in one transaction')
    .argument('<db>', 'the feedback store (SQLite; created if missing)')
    .argument('<file>', 'a JSONL file from genloom feedback export')
    .action((db: string, file: string) => {
      const store = FeedbackStore.open(db);
      try {
        printJson(store.importJsonl(file));
      } finally {
        store.close();
      }
    });
  return command;
}

/** The report as a small table: one row per figure, parent and child side by side. */
function formatReport(report: Record<string, unknown>): string {
  const parent = report['parent'] as Record<string, unknown>;
  const child = report['child'] as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(parent), ...Object.keys(child)])].filter((key) => key !== 'model' && (typeof parent[key] === 'number' || typeof child[key] === 'number'));
  const rows = keys.map((key) => [key, String(parent[key] ?? '—'), String(child[key] ?? '—')]);
  if (typeof report['win_rate'] === 'number') rows.push(['win_rate (child vs parent)', '', `${report['win_rate']} (${report['wins']} wins, ${report['losses']} losses, ${report['ties']} ties)`]);
  const widths = [0, 1, 2].map((column) => Math.max(...[['', 'parent', 'child'], ...rows].map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  return [
    `${report['model']} (${report['method']}${report['reward'] ? `, ${report['reward']}` : ''}) against its parent ${report['parentModel']}, ${report['samples']} samples each, seed ${report['seed']}`,
    line(['', 'parent', 'child']),
    ...rows.map(line),
    `pictures: ${(report['files'] as string[]).join(', ')}`,
  ].join('\n');
}
