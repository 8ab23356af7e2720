/**
 * genloom's Node API: `import { … } from 'genloom'`. One flat list, grouped by stage: set up the
 * engine, train, explore the latent space, generate, evaluate, collect feedback, keep checkpoints.
 * The browser-safe subset is `genloom/browser` (src/browser.ts).
 *
 * @example
 * import { generateImages, initEngine, loadModel, writeImagesGrid } from 'genloom';
 *
 * await initEngine();
 * const model = loadModel('models/vae-mnist');
 * writeImagesGrid('digits.png', generateImages(model, { seed: 3, n: 16 }).images); // = genloom sample --n 16 --seed 3
 * model.dispose();
 */

// Engine, randomness, errors: what every stage uses.
export { initEngine, currentBackend, backendNames, type BackendName } from './core/engine.ts';
export { fromSeed, Random } from './core/random.ts';
export { GenloomError, type GenloomErrorCode } from './core/errors.ts';
export * as tf from './core/tf.ts';

// Train: the model families and the contract they share (getFamily('vae').train(buildTrainRequest(…))).
export { families, getFamily, capabilitiesOf, describeFamily } from './models/registry.ts';
export { buildTrainRequest, trainCommandLine, trainSettingRanges, type TrainSettings } from './train/train-settings.ts';
export type { Capability, Modality, SamplingDeclaration, PreferencePair, PreferenceFinetuneRequest } from './models/family.ts';
export type { FamilyDefinition, FamilyOption, TrainRequest, TrainSummary } from './models/family.ts';
export type { LoadedModel, SampleOptions, EvaluateOptions, LatentModel, ImageEditing, ImageCompletion, ImageClassifier } from './models/family.ts';
export type { TextModel, MusicModel, VideoModel, Clip, ShapeModel, VoxelGrid } from './models/family.ts';

// Latent space: paths between latents, attribute directions, maps.
export { lerp, slerp, interpolate, encodeMeans, decodeRows, meanRow, attributeVector, addScaled, normalQuantile, manifoldLatents, type InterpolationMethod } from './latent/latent.ts';
export { project2d, projectionMethods, type ProjectionMethod } from './latent/projection.ts';
export { latentMap, labelAttributeVectors, type LatentMap } from './latent/latent-map.ts';

// Generate: load any model directory; one request type per modality (the CLI and the server call
// the same functions), checked against the model, seeded, with progress and cancellation.
export { loadModel } from './models/registry.ts';
export {
  generate, generateImages, completeImages, generateText, composeMusic, generateClips, generateShapes,
  musicFiles, clipFiles, checkGenerationFields, generationFieldsOf, modalityFields, requestDefaults, generationRandom, latentsForSeed,
  resolveCondition, resolveModelLabel, resolveStyle, clipDigits, shapeLabels, imageLabels,
} from './generate/index.ts';
export type {
  GenerationRequest, GenerationResult, GenerationOptions, ImageRequest, GeneratedImages, CompletionRequest, CompletedImages, TextRequest, GeneratedText,
  MusicRequest, ComposedMusic, ClipRequest, GeneratedClips, ShapeRequest, GeneratedShapes, Condition, GenerationStream,
} from './generate/index.ts';
export { asFlag, asJsonField } from './core/errors.ts';
export { encodeObj, encodePly, readMesh, writeMeshFiles, type Mesh } from './shapes/mesh.ts';
export { encodeMidi, readMidi, type Note } from './music/midi.ts';
export { tensorToImages, imagesToTensor, writeImageGrid, writeImagesGrid } from './io/tensor-image.ts';
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
