import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadedModel } from '../models/family.ts';
import { resolveCondition } from './conditions.ts';

const model = (conditional: boolean, dataset: string, labelNames: string[]) =>
  ({ family: 'diffusion', conditional, labelNames, manifest: { training: { dataset } } }) as unknown as LoadedModel;

test('--prompt reads the words against the vocabulary of the dataset the model was trained on', () => {
  assert.equal(resolveCondition(model(true, 'mnist', ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']), 'm', { prompt: 'a handwritten seven' }), 7);
  assert.equal(resolveCondition(model(true, 'fashion-mnist', ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot']), 'm', { prompt: 'jeans' }), 1);
  assert.equal(resolveCondition(model(true, 'mnist', ['0', '1']), 'm', { label: '1' }), 1);
  assert.equal(resolveCondition(model(true, 'mnist', ['0', '1']), 'm', {}), undefined);
});

test('a prompt for an unconditional model, or a prompt with a label, is a clear error', () => {
  assert.throws(() => resolveCondition(model(false, 'mnist', []), 'runs/plain', { prompt: 'seven' }), /runs\/plain was trained without labels, so it cannot follow a prompt \(train with --conditional\)/);
  assert.throws(() => resolveCondition(model(true, 'mnist', ['0']), 'm', { prompt: 'zero', label: '0' }), /give label or prompt, not both/);
});
