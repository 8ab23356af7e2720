/**
 * genloom's Node API: `import { … } from 'genloom'`. One flat list, grouped by stage: set up the
 * engine, train, explore the latent space, generate, evaluate, collect feedback, keep checkpoints.
 * The browser-safe subset is `genloom/browser` (src/browser.ts).
 *
 * @example
 * import { fromSeed, initEngine, loadModel, writeImageGrid } from 'genloom';
 *
 * await initEngine();
 * const model = loadModel('models/vae-mnist');
 * writeImageGrid('digits.png', model.sampleImages!(16, fromSeed(3).fork('sample')));
 * model.dispose();
 */

// Engine, randomness, errors: what every stage uses.
export { initEngine, currentBackend, backendNames, type BackendName } from './core/engine.ts';
export { fromSeed, Random } from './core/random.ts';
export { GenloomError, type GenloomErrorCode } from './core/errors.ts';
export * as tf from './core/tf.ts';

// Train: the model families and the contract they share (getFamily('vae').train(request)).
export { families, getFamily } from './models/registry.ts';
export type { FamilyDefinition, FamilyOption, TrainRequest, TrainSummary } from './models/family.ts';
export type { LoadedModel, SampleOptions, EvaluateOptions, LatentModel, ImageEditing, ImageCompletion, ImageClassifier } from './models/family.ts';
export type { TextModel, MusicModel, VideoModel, Clip, ShapeModel, VoxelGrid } from './models/family.ts';

// Latent space: paths between latents, attribute directions, maps.
export { lerp, slerp, interpolate, encodeMeans, decodeRows, meanRow, attributeVector, addScaled, normalQuantile, manifoldLatents, type InterpolationMethod } from './latent/latent.ts';
export { project2d, projectionMethods, type ProjectionMethod } from './latent/projection.ts';

// Generate: load any model directory, sample, write images.
export { loadModel } from './models/registry.ts';
export { tensorToImages, imagesToTensor, writeImageGrid } from './io/tensor-image.ts';
export { encodePng, writePng, readImage, imageGrid, scaleUp, type ImageData01, type GridOptions } from './io/image.ts';

// Evaluate: model.evaluate(options) per family; the image metrics on a classifier's features.
export { evaluateGenerator, loadFeatureNet, type GeneratorToJudge, type GeneratorEvalOptions } from './metrics/generator-eval.ts';
export { fitGaussian, frechetDistance, precisionRecall, conditionalAccuracy, classCoverageEntropy, type FeatureSet, type GaussianFit } from './metrics/image-metrics.ts';

// Feedback: samples, ratings and preferences in a SQLite store, read back by fine-tuning.
export { FeedbackStore, modelHash, feedbackSchemaVersion } from './feedback/store.ts';
export type { SampleInput, SampleRecord, RatingInput, RatingKind, RatingRecord, PreferenceInput, PreferenceRecord, RatedSample, FeedbackFilter, FeedbackCounts } from './feedback/store.ts';

// Checkpoints: config.json (the manifest) and safetensors weights, saved atomically.
export { readManifest, newManifest, parseManifest, saveCheckpoint, loadCheckpoint, hasCheckpoint, checkpointFormat, checkpointFormatVersion } from './io/checkpoint.ts';
export type { CheckpointManifest, Checkpoint } from './io/checkpoint.ts';
