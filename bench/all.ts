/**
 * `npm run bench -- all [--json] [--quick]`: every training-step bench (transformer, vae, gan,
 * diffusion, txt2img, music, pixelcnn) and gemm in one run, and one table of what they measured
 * side by side — each genloom backend, PyTorch's best setting (named), and the ratio PyTorch ÷
 * genloom native — plus the generation speeds, which have no PyTorch twin. The benches measure; this file
 * only picks the rows they mark (BenchRow's kind, subject, runner) and lines them up.
 */
import { benchDiffusion } from './diffusion.ts';
import { benchGan } from './gan.ts';
import { benchGemm } from './gemm.ts';
import { benchMusic } from './music.ts';
import { benchPixelCnn } from './pixelcnn.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { benchTransformer } from './transformer.ts';
import { benchTxt2img } from './txt2img.ts';
import { benchVae } from './vae.ts';

const parts: Record<string, (options: BenchOptions) => Promise<BenchRow[]>> = {
  transformer: benchTransformer,
  vae: benchVae,
  gan: benchGan,
  diffusion: benchDiffusion,
  txt2img: benchTxt2img,
  music: benchMusic,
  pixelcnn: benchPixelCnn,
  gemm: benchGemm,
};

/** Every part's rows, their names prefixed with the part's; progress on stderr, since a full run takes many minutes. */
export async function benchAll(options: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // Without --backend, run.ts compares native with wasm only where the native addon loaded.
  if (!options.backends.includes('native')) process.stderr.write(`bench all: no native backend in this run (${options.backends.join(', ')} only): it is not built, or was being rebuilt when the run started\n`);
  for (const [name, bench] of Object.entries(parts)) {
    const start = performance.now();
    process.stderr.write(`bench all: ${name}…`);
    // One part that fails (a missing model file, a native kernel error) must not cost the others' figures.
    try {
      rows.push(...(await bench(options)).map((row) => ({ ...row, name: `${name}: ${row.name}` })));
      process.stderr.write(` ${((performance.now() - start) / 1000).toFixed(0)} s\n`);
    } catch (error) {
      process.stderr.write(` failed: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  }
  return rows;
}

/** One line of the table: one subject measured by every runner. */
export interface Comparison {
  kind: NonNullable<BenchRow['kind']>;
  subject: string;
  /** 'ms' for steps (per step); the rows' own unit otherwise. */
  unit: string;
  /** Each genloom backend's value, in the order measured. */
  genloom: Record<string, number>;
  /** Each genloom backend's tfjs kernels per step (steps only). */
  kernels?: Record<string, number>;
  /** PyTorch's best value over the settings it ran in, and that setting. */
  pytorch?: { value: number; setting: string };
  /**
   * PyTorch's best time ÷ genloom's (the quotient of rates the other way up): > 1 means genloom is
   * faster. Against native, or the first backend measured where native was not.
   */
  ratio?: number;
  ratioAgainst?: string;
}

/** Lower is better for times, higher for rates. */
function isTime(unit: string): boolean {
  return unit === 'ms' || unit === 's' || unit.startsWith('s/') || unit.startsWith('ms/');
}

/** The marked rows grouped by subject, in the order the benches measured them. */
export function compareRunners(rows: readonly BenchRow[]): Comparison[] {
  const bySubject = new Map<string, Comparison>();
  for (const row of rows) {
    if (!row.kind || !row.subject || !row.runner) continue;
    const value = row.kind === 'step' ? (row.stepMs ?? NaN) : row.value;
    if (!Number.isFinite(value)) continue;
    const unit = row.kind === 'step' ? 'ms' : row.unit;
    const line = bySubject.get(row.subject) ?? { kind: row.kind, subject: row.subject, unit, genloom: {} };
    bySubject.set(row.subject, line);
    if (row.runner !== 'pytorch') {
      line.genloom[row.runner] ??= value;
      if (row.kernels !== undefined) (line.kernels ??= {})[row.runner] ??= row.kernels;
      continue;
    }
    const better = !line.pytorch || (isTime(unit) ? value < line.pytorch.value : value > line.pytorch.value);
    if (better) line.pytorch = { value, setting: row.setting ?? '' };
  }
  for (const line of bySubject.values()) {
    const against = 'native' in line.genloom ? 'native' : Object.keys(line.genloom)[0];
    if (!line.pytorch || against === undefined) continue;
    const genloom = line.genloom[against]!;
    line.ratio = isTime(line.unit) ? line.pytorch.value / genloom : genloom / line.pytorch.value;
    line.ratioAgainst = against;
  }
  return [...bySubject.values()];
}

function formatValue(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value >= 10 ? value.toFixed(1) : value.toPrecision(3);
}

const sections: [Comparison['kind'], string][] = [
  ['step', 'training step'],
  ['gemm', 'matrix product'],
  ['generation', 'generation (no PyTorch twin)'],
];

/** The comparison as one plain-text table, a section per kind. */
export function formatComparison(table: readonly Comparison[]): string {
  const backends = [...new Set(table.flatMap((line) => Object.keys(line.genloom)))];
  const against = table.find((line) => line.ratioAgainst)?.ratioAgainst ?? backends[0] ?? 'native';
  const header = ['', 'unit', ...backends, 'PyTorch best', `PyTorch ÷ ${against}`, `${against} kernels/step`, 'PyTorch setting'];
  const lines: string[][] = [];
  for (const [kind, title] of sections) {
    const members = table.filter((line) => line.kind === kind);
    if (members.length === 0) continue;
    lines.push([`${title}:`]);
    for (const line of members) {
      lines.push([
        `  ${line.subject}`,
        line.unit,
        ...backends.map((backend) => formatValue(line.genloom[backend])),
        formatValue(line.pytorch?.value),
        line.ratio === undefined ? '—' : `${line.ratio.toFixed(2)}×`,
        line.kernels?.[against] === undefined ? '' : String(line.kernels[against]),
        line.pytorch?.setting ?? '',
      ]);
    }
  }
  const widths = header.map((title, column) => Math.max(title.length, ...lines.filter((cells) => cells.length > 1).map((cells) => cells[column]!.length)));
  // The first column and the setting read left to right; the figures line up on the right.
  const render = (cells: string[]) => (cells.length === 1 ? cells[0]! : cells.map((cell, column) => (column === 0 || column === cells.length - 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd());
  return `${[render(header), ...lines.map(render)].join('\n')}\n\nPyTorch ÷ ${against}: PyTorch's best time ÷ genloom ${against}'s (for rates, ${against}'s rate ÷ PyTorch's); above 1 genloom is faster.\n`;
}
