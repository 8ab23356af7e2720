import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import { gradientsOf } from '../core/params.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { parseMusicConfig } from '../models/music/config.ts';
import { MusicRnn } from '../models/music/rnn.ts';
import { registerNativeBackend } from '../core/native/backend.ts';
import { fusion } from './ops.ts';

const native = registerNativeBackend();
await initEngine({ backend: native ? 'native' : undefined });

// On native, whole-sequence layers are one C++ kernel each way; elsewhere, and with fusion off, composed.
for (const fused of native ? [true, false] : [false])
test(`the whole-sequence LSTM and GRU layers (${fused ? 'native kernels' : 'composed'}) give the per-step cells' logits and gradients`, () => {
  fusion.enabled = fused;
  for (const cell of ['lstm', 'gru'] as const) {
    const config = parseMusicConfig({ cell, layers: 2, hidden: 6, embedding: 5, dropout: 0, maxShift: 4, velocityBins: 0, styles: 2 }, 'tiny');
    const model = new MusicRnn(config, fromSeed(3));
    const random = fromSeed(4);
    const [batch, steps] = [3, 7];
    const inputs = tf.tensor2d(Int32Array.from({ length: batch * steps }, () => random.integer(model.vocabularySize)), [batch, steps], 'int32');
    const styles = tf.tensor1d([0, 1, 1], 'int32');
    const weights = tf.tensor3d(random.normalArray(batch * steps * model.vocabularySize), [batch, steps, model.vocabularySize]);
    const sounding = tf.tensor3d(Float32Array.from({ length: batch * steps * 128 }, () => (random.uniform() < 0.05 ? 1 : 0)), [batch, steps, 128]);
    // A loss that weighs every logit differently, so every gradient path counts.
    const fused = gradientsOf(model.params, () => model.sequenceLogits(inputs, styles, undefined, sounding).mul(weights).sum() as tf.Scalar);
    const reference = gradientsOf(model.params, () => model.forward(inputs, styles, undefined, sounding).logits.mul(weights).sum() as tf.Scalar);
    assert.ok(Math.abs(fused.value.dataSync()[0]! - reference.value.dataSync()[0]!) < 1e-4, `${cell}: the same logits`);
    for (const name of Object.keys(model.params)) {
      const a = fused.grads[name]!.dataSync();
      const b = reference.grads[name]!.dataSync();
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1e-3 + Math.abs(b[i]!)));
      assert.ok(worst < 1e-3, `${cell}: gradient of ${name} differs by ${worst} (relative)`);
    }
    tf.dispose([fused.value, reference.value, fused.grads, reference.grads, inputs, styles, weights] as tf.TensorContainer);
    model.dispose();
  }
  fusion.enabled = true;
});
