// Copies a finished training run into models/ as a starter model: config.json (with its recorded
// metrics), the weights, and the run's pictures and logs — without optimizer state, and for
// diffusion models with only the averaged (EMA) weights that sampling uses, to keep each model a
// few MB. With --best, a run that kept a best-validation copy (`best/`, the transformer) ships that
// copy's weights instead of the last ones (the periodic validation uses a sample of windows, so
// compare both with `genloom eval` first). With --half the weights are stored in half precision
// (F16; genloom widens them to F32 on load): half the size, for models whose F32 file is well over
// a few MB; measure the shipped model with `genloom eval`, not the run. The shipped model cannot be
// --resume'd; the run can.
//   npx tsx scripts/ship-model.ts RUN_DIR models/NAME [--best] [--half]
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.ts';
import type { StoredTensor } from '../src/io/safetensors.ts';

const [run, target, ...options] = process.argv.slice(2);
const unknown = options.filter((option) => option !== '--best' && option !== '--half');
if (!run || !target || unknown.length > 0) {
  process.stderr.write(`${unknown.length > 0 ? `unknown option ${unknown[0]}; ` : ''}usage: npx tsx scripts/ship-model.ts RUN_DIR models/NAME [--best] [--half]\n`);
  process.exit(2);
}
const useBest = options.includes('--best');
const half = options.includes('--half');
const best = join(run, 'best');
if (useBest && !existsSync(join(best, 'config.json'))) {
  process.stderr.write(`${run} has no best/ copy\n`);
  process.exit(2);
}
const { manifest, weights } = loadCheckpoint(useBest ? best : run);
const shipped: Record<string, StoredTensor> = {};
const samplingOnly = manifest.family === 'diffusion';
for (const [name, tensor] of weights) {
  // A latent or text-to-image model's frozen parts (autoencoder.*, text.*) are sampling weights too.
  if (!samplingOnly || /^(ema|autoencoder|text)\./.test(name)) shipped[name] = tensor;
}
const kept = samplingOnly ? 'sampling weights only (the EMA), no optimizer state' : 'no optimizer state';
manifest.training = { ...manifest.training, shipped: half ? `${kept}; weights in half precision (F16)` : kept };
saveCheckpoint(target, { manifest, weights: shipped }, { halfPrecisionWeights: half });
for (const file of ['samples.png', 'samples.txt', 'samples.mid', 'tokenizer.json', 'loss.png', 'metrics.jsonl', 'monitor.jsonl']) {
  if (existsSync(join(run, file))) copyFileSync(join(run, file), join(target, file));
}
process.stdout.write(`shipped ${run} as ${target} (${Object.keys(shipped).length} of ${weights.size} tensors)\n`);
