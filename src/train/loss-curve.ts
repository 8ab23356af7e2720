/**
 * The loss-curve PNG a run keeps beside its checkpoints, drawn from metrics.jsonl.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.ts';
import { plotLines } from '../io/plot.ts';

/** Keys of a metrics line that are not losses. */
const notLosses = new Set(['step', 'epoch', 'learningRate', 'unitsPerSecond']);

export async function writeLossCurve(metricsPath: string, pngPath: string): Promise<void> {
  if (!existsSync(metricsPath)) return;
  const lines = readFileSync(metricsPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, number>);
  if (lines.length === 0) return;
  // Keys from every line: validation losses are logged on lines of their own.
  const logged = [...new Set(lines.flatMap((line) => Object.keys(line)))].filter((key) => !notLosses.has(key));
  // Accuracies and other rates have their own scale: the curve shows the losses when there are any.
  const losses = logged.filter((key) => /loss|elbo|reconstruction|kl/i.test(key));
  const names = losses.length > 0 ? losses : logged;
  const series = names.map((name) => ({ name, points: lines.filter((line) => line[name] !== undefined).map((line) => ({ x: line['step']!, y: line[name]! })) }));
  const png = await plotLines(series, { title: 'training loss', xLabel: 'step', yLabel: 'loss' });
  writeFileAtomic(pngPath, png);
}
