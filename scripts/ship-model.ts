// Copies a finished training run into models/ as a starter model: config.json (with its recorded
// metrics), the weights, and the run's pictures and logs — without optimizer state, and for
// diffusion models with only the averaged (EMA) weights that sampling uses, to keep each model a
// few MB. With --best, a run that kept a best-validation copy (`best/`, the transformer) ships that
// copy's weights instead of the last ones (the periodic validation uses a sample of windows, so
// compare both with `genloom eval` first). The shipped model cannot be --resume'd; the run can.
//   npx tsx scripts/ship-model.ts RUN_DIR models/NAME [--best]
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.ts';
import type { StoredTensor } from '../src/io/safetensors.ts';

const [run, target, option] = process.argv.slice(2);
if (!run || !target) {
  process.stderr.write('usage: npx tsx scripts/ship-model.ts RUN_DIR models/NAME [--best]\n');
  process.exit(2);
}
const best = join(run, 'best');
if (option === '--best' && !existsSync(join(best, 'config.json'))) {
  process.stderr.write(`${run} has no best/ copy\n`);
  process.exit(2);
}
const { manifest, weights } = loadCheckpoint(option === '--best' ? best : run);
const shipped: Record<string, StoredTensor> = {};
const samplingOnly = manifest.family === 'diffusion';
for (const [name, tensor] of weights) {
  // A latent or text-to-image model's frozen parts (autoencoder.*, text.*) are sampling weights too.
  if (!samplingOnly || /^(ema|autoencoder|text)\./.test(name)) shipped[name] = tensor;
}
manifest.training = { ...manifest.training, shipped: samplingOnly ? 'sampling weights only (the EMA), no optimizer state' : 'no optimizer state' };
saveCheckpoint(target, { manifest, weights: shipped });
for (const file of ['samples.png', 'samples.txt', 'samples.mid', 'tokenizer.json', 'loss.png', 'metrics.jsonl', 'monitor.jsonl']) {
  if (existsSync(join(run, file))) copyFileSync(join(run, file), join(target, file));
}
process.stdout.write(`shipped ${run} as ${target} (${Object.keys(shipped).length} of ${weights.size} tensors)\n`);
