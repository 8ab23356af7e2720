/**
 * The families that build without Node APIs, and building a model from its files' bytes: what the
 * studio's in-browser mode runs. The registry (Node) lists the same builder objects on its family
 * definitions (FamilyDefinition.build), so Node and the browser load a model the same way; a test
 * keeps this list and the families with the 'in-browser' capability the same.
 */
import { GenloomError } from '../core/errors.ts';
import { parameterLimit, withParameterLimit } from '../core/params.ts';
import { checkWeightsStep, parseManifest } from '../io/checkpoint-format.ts';
import { decodeSafetensors } from '../io/safetensors-format.ts';
import { companionFiles, type CompanionTexts, type ModelBuilder } from './builder.ts';
import type { LoadedModel } from './family.ts';
import { diffusionBuilder } from './diffusion/build.ts';
import { ganBuilder } from './gan/build.ts';
import { transformerBuilder } from './transformer/build.ts';
import { vaeBuilder } from './vae/build.ts';

/** The builders, by family name. */
export const modelBuilders: Readonly<Record<string, ModelBuilder>> = {
  vae: vaeBuilder,
  gan: ganBuilder,
  diffusion: diffusionBuilder,
  transformer: transformerBuilder,
};

/** The bytes of a model folder's files: config.json, model.safetensors and any companion files (companionFiles). */
export type ModelFileBytes = { config: ArrayBuffer | Uint8Array; weights: ArrayBuffer | Uint8Array } & { -readonly [key in keyof typeof companionFiles]?: ArrayBuffer | Uint8Array };

const utf8 = new TextDecoder();

function bytesOf(data: ArrayBuffer | Uint8Array): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

/** The builder of `family`; a family without one is UNSUPPORTED, naming those that have one. */
export function builderFor(family: string, name = 'this model'): ModelBuilder {
  const builder = Object.hasOwn(modelBuilders, family) ? modelBuilders[family] : undefined;
  if (!builder) throw new GenloomError('UNSUPPORTED', `${name} is a ${family} model; in-browser mode runs ${Object.keys(modelBuilders).join(', ')} models (use the server's Generate tab)`);
  return builder;
}

/**
 * Builds a model from its files' bytes, checking them as `loadModel` checks a model folder; `name`
 * (the folder's) names the files in messages.
 *
 * @example
 * const model = buildModelFromBytes({ config: await fetchBytes('config.json'), weights: await fetchBytes('model.safetensors') }, 'vae-mnist');
 * const images = model.sampleImages!(16, fromSeed(1).fork('sample'));
 */
export function buildModelFromBytes(files: ModelFileBytes, name = 'model'): LoadedModel {
  const manifest = parseManifest(utf8.decode(bytesOf(files.config)), `${name}/config.json`);
  const weightsPath = `${name}/model.safetensors`;
  const weights = decodeSafetensors(bytesOf(files.weights), weightsPath);
  checkWeightsStep(manifest, weights.metadata, weightsPath);
  const builder = builderFor(manifest.family, name);
  const texts: CompanionTexts = {};
  for (const key of Object.keys(companionFiles) as (keyof typeof companionFiles)[]) {
    const bytes = files[key];
    if (bytes) texts[key] = utf8.decode(bytesOf(bytes));
    else if (builder.requires.includes(key)) throw new GenloomError('NOT_FOUND', `${name} is a ${manifest.family} model: its ${companionFiles[key]} is needed too`);
  }
  // As loadModel does: the network is built before its weights are assigned, so bound it by them.
  const stored = [...weights.tensors.values()].reduce((sum, tensor) => sum + tensor.data.length, 0);
  const limit = parameterLimit(stored, `${name}/config.json and ${weightsPath}`);
  return withParameterLimit(limit, () => builder.build(manifest, weights.tensors, weightsPath, texts).model);
}
