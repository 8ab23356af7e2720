/**
 * Exponential moving average of weights (Polyak averaging), which GANs and diffusion models sample
 * from: the average of the last few thousand steps is smoother than any single step's weights.
 * The decay warms up as (1 + step) / (10 + step) so that early averages are not dominated by the
 * random initialisation.
 */
import * as tf from '../core/tf.ts';
import type { Params } from '../core/params.ts';

export function emaDecayAt(step: number, maxDecay: number): number {
  return Math.min(maxDecay, (1 + step) / (10 + step));
}

/** Moves each `averages[name]` toward `current[name]` by one step of the average. */
export function updateAverage(averages: Params, current: Params, step: number, maxDecay: number): void {
  const decay = emaDecayAt(step, maxDecay);
  tf.tidy(() => {
    for (const [name, variable] of Object.entries(current)) {
      const average = averages[name]!;
      average.assign(tf.add(tf.mul(average, decay), tf.mul(variable, 1 - decay)));
    }
  });
}
