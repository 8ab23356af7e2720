/**
 * genloom's browser-safe API: `import { … } from 'genloom/browser'`. Nothing here reaches a Node
 * API (test/browser-entry.test.ts walks the import graph and fails on any `node:` module or Node
 * builtin), so a bundler can take it into a web page. The rest of genloom reads and writes files:
 * use `genloom` in Node.
 *
 * @example
 * import { fromSeed, parseManifest, decodeSafetensors } from 'genloom/browser';
 *
 * const manifest = parseManifest(await (await fetch('/models/vae-mnist/config.json')).text(), 'config.json');
 * const weights = decodeSafetensors(new Uint8Array(await (await fetch('/models/vae-mnist/model.safetensors')).arrayBuffer()), 'model.safetensors');
 * const noise = fromSeed(3).fork('sample').normalArray(16); // the same numbers as in Node
 */

// Randomness and errors.
export { fromSeed, Random } from './core/random.ts';
export { GenloomError, type GenloomErrorCode } from './core/errors.ts';

// The family contract (types only).
export type { FamilyDefinition, FamilyOption, TrainRequest, TrainSummary } from './models/family.ts';
export type { LoadedModel, SampleOptions, EvaluateOptions, LatentModel, ImageEditing, ImageCompletion, ImageClassifier } from './models/family.ts';
export type { TextModel, MusicModel, VideoModel, Clip, ShapeModel, VoxelGrid } from './models/family.ts';

// Checkpoints as bytes: config.json and model.safetensors fetched rather than read from disk.
export { parseManifest, checkpointFormat, checkpointFormatVersion, type CheckpointManifest } from './io/checkpoint-format.ts';
export { decodeSafetensors, encodeSafetensors, type SafetensorsDtype, type SafetensorsFile, type StoredTensor } from './io/safetensors-format.ts';

// Models from their files' bytes: the same builders loadModel uses (the families with 'in-browser').
export { buildModelFromBytes, builderFor, modelBuilders, type ModelFileBytes } from './models/builders.ts';
export { companionFiles, type BuiltModel, type CompanionTexts, type ModelBuilder } from './models/builder.ts';
