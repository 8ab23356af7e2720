/**
 * Learning-rate schedules: pure functions of the step, so a resumed run uses exactly the rates an
 * uninterrupted one would.
 */
import { GenloomError } from '../core/errors.ts';

export type ScheduleName = 'constant' | 'cosine';
export const scheduleNames: readonly ScheduleName[] = ['constant', 'cosine'];

export interface ScheduleOptions {
  name: ScheduleName;
  peak: number;
  totalSteps: number;
  /** Linear warmup from 0 over this many steps. */
  warmupSteps: number;
  /** Cosine decays to peak × minFactor. */
  minFactor: number;
}

export function learningRateAt(step: number, options: ScheduleOptions): number {
  const { name, peak, totalSteps, warmupSteps, minFactor } = options;
  if (warmupSteps > 0 && step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  if (name === 'constant') return peak;
  if (name === 'cosine') {
    const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return peak * (minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
  }
  throw new GenloomError('BAD_ARGUMENT', `unknown learning-rate schedule "${name as string}": choose ${scheduleNames.join(' or ')}`);
}
