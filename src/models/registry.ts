/**
 * The one explicit map from family name to its definition. Adding a family is one line here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { parameterLimit, withParameterLimit } from '../core/params.ts';
import { readManifest, requireRegularFiles } from '../io/checkpoint.ts';
import { shown } from '../io/checkpoint-format.ts';
import { readSafetensorsLayout, storedValues } from '../io/safetensors.ts';
import { companionFiles } from './builder.ts';
import type { CheckpointManifest } from '../io/checkpoint.ts';
import type { Capability, FamilyDefinition, LoadedModel } from './family.ts';
import { autoencoderFamily } from './autoencoder/index.ts';
import { classifierFamily } from './classifier/index.ts';
import { clipFamily } from './clip/index.ts';
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
  autoencoder: autoencoderFamily,
  classifier: classifierFamily,
  clip: clipFamily,
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
  const family = familyNamed(name);
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
  const configPath = join(dir, 'config.json');
  const family = familyNamed(manifest.family);
  if (!family) {
    throw new GenloomError('UNSUPPORTED', `${dir} holds a ${shown(manifest.family)} model, which this genloom does not know (it knows ${Object.keys(families).join(', ')}): see "family" in ${configPath}`);
  }
  // Companion files are opened by the family's own readers: refuse a FIFO among them here too.
  requireRegularFiles(dir, Object.values(companionFiles));
  // The network is built from config.json before its weights are assigned: bound what it may build
  // by what the weights hold (read from their header alone), so an absurd config fails at once.
  const weightsPath = join(dir, 'model.safetensors');
  const load = () => family.load(dir, manifest);
  try {
    if (!existsSync(weightsPath)) return load();
    return withParameterLimit(parameterLimit(storedValues(readSafetensorsLayout(weightsPath)), `${configPath} and ${weightsPath}`), load);
  } catch (error) {
    // The family's config came from the file, not from the user: say which file holds the bad value.
    if (error instanceof GenloomError && error.code === 'BAD_ARGUMENT' && /^invalid .* config: /.test(error.message)) {
      throw new GenloomError('CORRUPT_FILE', `${configPath}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** The family called `name`, looked up as an own property (so "constructor" or "__proto__" is no family); undefined when unknown. */
export function familyNamed(name: string): FamilyDefinition | undefined {
  return Object.hasOwn(families, name) ? families[name] : undefined;
}

/** What a model of this manifest can do: its family's capabilities and those its training adds. */
export function capabilitiesOf(manifest: CheckpointManifest): Capability[] {
  const family = familyNamed(manifest.family);
  if (!family) return [];
  return [...family.capabilities, ...(family.capabilitiesOf?.(manifest) ?? [])];
}

/** A family as the HTTP API and the studio describe it: its declaration, without the functions. */
export function describeFamily(family: FamilyDefinition) {
  return {
    name: family.name,
    summary: family.summary,
    datasets: family.datasets ?? 'mnist, fashion-mnist, emoji (colour, 32 or 64 px), or a folder of images (subfolders = labels)',
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
