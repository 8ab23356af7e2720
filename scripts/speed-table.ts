/**
 * The README's speed table, as Markdown, from the JSON `npm run bench -- all --json` prints:
 *   npm run bench -- all --json > all.json && npx tsx scripts/speed-table.ts all.json
 */
import { readFileSync } from 'node:fs';
import type { Comparison } from '../bench/all.ts';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: npx tsx scripts/speed-table.ts ALL.json (the output of npm run bench -- all --json)\n');
  process.exit(2);
}
const lines = readFileSync(path, 'utf8').trim().split('\n');
const report = JSON.parse(lines[lines.length - 1]!) as { date: string; machine: { cpu: string; cores: number; node: string; nativeIsa?: string }; table: Comparison[] };
const figure = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '—' : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toPrecision(3));
const { machine } = report;
const out: string[] = [
  `${report.date.slice(0, 10)}, ${machine.cores}× ${machine.cpu} (native GEMM: ${machine.nativeIsa ?? 'not built'}), Node ${machine.node}:`,
  '',
  '| | unit | genloom native | wasm | PyTorch, best setting | PyTorch ÷ native | native kernels per step |',
  '|---|---|---|---|---|---|---|',
];
for (const line of report.table) {
  const pytorch = line.pytorch ? `${figure(line.pytorch.value)} (${line.pytorch.setting})` : '—';
  const ratio = line.ratio === undefined ? '—' : `**${line.ratio.toFixed(2)}×**`;
  out.push(`| ${line.subject} | ${line.unit} | ${figure(line.genloom['native'])} | ${figure(line.genloom['wasm'])} | ${pytorch} | ${ratio} | ${line.kernels?.['native'] ?? ''} |`);
}
process.stdout.write(`${out.join('\n')}\n`);
