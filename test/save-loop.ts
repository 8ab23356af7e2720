// Saves checkpoints in a loop until killed: the weights of step s are all equal to s, so a reader
// can tell whether a checkpoint is consistent. Used by the crash-during-save test.
import { saveCheckpoint } from '../src/io/checkpoint.ts';

const dir = process.argv[2]!;
const size = 1 << 21; // 8 MB per tensor, so a save takes long enough to be interrupted
for (let step = 1; ; step++) {
  const value = new Float32Array(size).fill(step);
  saveCheckpoint(dir, {
    manifest: { format: 'genloom-checkpoint', formatVersion: 1, family: 'test', genloomVersion: '0', config: {}, training: { step } },
    weights: { a: { dtype: 'F32', shape: [size], data: value }, b: { dtype: 'F32', shape: [size], data: value } },
    optimizer: { m: { dtype: 'F32', shape: [size], data: value } },
  });
  process.stdout.write(`${step}\n`);
}
