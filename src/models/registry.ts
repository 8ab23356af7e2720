/**
 * The one explicit map from family name to its definition. Adding a family is one line here.
 */
import { GenloomError } from '../core/errors.ts';
import { readManifest } from '../io/checkpoint.ts';
import type { CheckpointManifest } from '../io/checkpoint.ts';
import type { Capability, FamilyDefinition, LoadedModel } from './family.ts';
import { classifierFamily } from './classifier/index.ts';
import { diffusionFamily } from './diffusion/index.ts';
import { ganFamily } from './gan/index.ts';
import { musicFamily } from './music/index.ts';
import { pixelCnnFamily } from './pixelcnn/index.ts';
import { transformerFamily } from './transformer/index.ts';
import { shapeFamily } from './shape/index.ts';
import { vaeFamily } from './vae/index.ts';
import { videoFamily } from './video/index.ts';

/**
 * Every family this genloom knows, by name.
 *
 * @example
 * Object.keys(families); // ['vae', 'gan', 'diffusion', …]
 */
export const families: Record<string, FamilyDefinition> = {
  vae: vaeFamily,
  gan: ganFamily,
  diffusion: diffusionFamily,
  classifier: classifierFamily,
  transformer: transformerFamily,
  pixelcnn: pixelCnnFamily,
  music: musicFamily,
  shape: shapeFamily,
  video: videoFamily,
};

/**
 * The family called `name`; an unknown name throws BAD_ARGUMENT listing the known ones.
 *
 * @example
 * const summary = await getFamily('vae').train({ dataset: 'mnist', outDir: 'runs/vae', seed: 1, epochs: 1,
 *   resume: false, config: { latentDim: 16 }, command: 'my-script', quiet: true, backend: 'auto' });
 */
export function getFamily(name: string): FamilyDefinition {
  const family = families[name];
  if (!family) throw new GenloomError('BAD_ARGUMENT', `unknown model family "${name}": available are ${Object.keys(families).join(', ')}`);
  return family;
}

/**
 * Loads any genloom model directory through its family.
 *
 * @example
 * await initEngine();
 * const model = loadModel('models/vae-mnist'); // model.family === 'vae'
 * writeImageGrid('grid.png', model.sampleImages!(16, fromSeed(1).fork('sample')));
 * model.dispose();
 */
export function loadModel(dir: string): LoadedModel {
  const manifest = readManifest(dir);
  const family = families[manifest.family];
  if (!family) {
    throw new GenloomError('UNSUPPORTED', `${dir} holds a "${manifest.family}" model, which this genloom does not know (it knows ${Object.keys(families).join(', ')})`);
  }
  return family.load(dir, manifest);
}

/** What a model of this manifest can do: its family's capabilities and those its training adds. */
export function capabilitiesOf(manifest: CheckpointManifest): Capability[] {
  const family = families[manifest.family];
  if (!family) return [];
  return [...family.capabilities, ...(family.capabilitiesOf?.(manifest) ?? [])];
}

/** A family as the HTTP API and the studio describe it: its declaration, without the functions. */
export function describeFamily(family: FamilyDefinition) {
  return {
    name: family.name,
    summary: family.summary,
    datasets: family.datasets ?? 'mnist, fashion-mnist, or a folder of images (subfolders = labels)',
    builtinDatasets: [...family.builtinDatasets],
    ...(family.generates ? { generates: family.generates } : {}),
    generationFields: [...(family.generationFields ?? [])],
    capabilities: [...family.capabilities],
    slowGeneration: Boolean(family.slowGeneration),
    ...(family.sampling ? { sampling: family.sampling } : {}),
    presets: [...family.presets],
    options: family.options.map((option) => ({ flags: option.flags, description: option.description, configKey: option.configKey })),
  };
}
