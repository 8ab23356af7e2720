/**
 * `encode`, `latent-map` and `attribute`: look into a model's latent space.
 */
import { statSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import * as tf from '../core/tf.ts';
import { emojiAttributes } from '../data/emoji-attributes.ts';
import { loadEmoji } from '../data/emoji.ts';
import { emojiDatasetName } from '../data/index.ts';
import { imageGrid } from '../io/image.ts';
import { writeGif } from '../io/gif.ts';
import { clipFeatureNetDir, loadClipFeatureNet } from '../metrics/clip-metrics.ts';
import { checkAttribute, namedAttributeVector, namedAttributeVectorBySamples, requireNamedAttribute, strengthSweep } from '../latent/named-attributes.ts';
import type { NamedAttribute } from '../data/emoji-attributes.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { generationRandom } from '../generate/seeds.ts';
import { embed, featureNetDir, loadFeatureNet } from '../metrics/generator-eval.ts';
import { gatherImages, indicesWithLabel, resolveLabel, takeImages } from '../data/index.ts';
import { listImageFiles } from '../data/folder.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { plotScatter } from '../io/plot.ts';
import { displayScale, readImagesForModel, tensorToImages, writeImageGrid } from '../io/tensor-image.ts';
import { addScaled, attributeVector, decodeRows, encodeMeans, manifoldLatents } from '../latent/latent.ts';
import { project2d, projectionMethods, type ProjectionMethod } from '../latent/projection.ts';
import { datasetForModel, encodeDataset } from '../latent/dataset-latents.ts';
import type { LatentModel, LoadedModel } from '../models/family.ts';
import { commandLine, limits, openModel, parseChoice, parseInteger, parseNumber, printJson, recordInManifest, requireEncoder, requireImageShape, requireLatent } from './options.ts';

function roundRow(row: Float32Array): number[] {
  return Array.from(row, (value) => Number(value.toFixed(6)));
}

/** Image paths from arguments that may be files or folders. */
function expandImagePaths(inputs: string[]): string[] {
  const paths: string[] = [];
  for (const input of inputs) {
    let isDirectory = false;
    try {
      isDirectory = statSync(input).isDirectory();
    } catch {
      throw new GenloomError('NOT_FOUND', `image ${input} does not exist`);
    }
    paths.push(...(isDirectory ? listImageFiles(input) : [input]));
  }
  if (paths.length === 0) throw new GenloomError('EMPTY_DATASET', `no .png or .jpg images in ${inputs.join(', ')}`);
  if (paths.length > limits.maxImages * 10) throw new GenloomError('BAD_ARGUMENT', `${paths.length} images is too many to encode at once (at most ${limits.maxImages * 10})`);
  return paths;
}

export function encodeCommand(): Command {
  return new Command('encode')
    .description('encode images (files or folders) to latent vectors: the posterior mean')
    .argument('<model>', 'model directory')
    .argument('<images...>', 'PNG/JPEG files or folders')
    .option('--json', 'print { latents, images, logVariances } as JSON (for decode --z-file)')
    .option('--invert', 'invert the images first (dark-on-light drawings for a light-on-dark model such as MNIST)')
    .option('--out <file.json>', 'also write the JSON to a file')
    .action(async (dir: string, inputs: string[], flags: { json?: boolean; out?: string; invert?: boolean }, self: Command) => {
      const model = await openModel(dir, self);
      const latent = requireLatent(model, dir);
      const encode = requireEncoder(model, dir);
      const paths = expandImagePaths(inputs);
      const images = readImagesForModel(paths, requireImageShape(model, dir), flags.invert, dir);
      const { mean, logVariance } = encode(images);
      const dim = latent.latentDim;
      const means = mean.dataSync();
      const logVariances = logVariance?.dataSync();
      const rows = (values: Float32Array | Int32Array | Uint8Array) => paths.map((_, i) => roundRow(Float32Array.from(values.subarray(i * dim, (i + 1) * dim))));
      const result = { model: dir, latentDim: dim, images: paths, latents: rows(means), ...(logVariances ? { logVariances: rows(logVariances) } : {}) };
      images.dispose();
      mean.dispose();
      logVariance?.dispose();
      model.dispose();
      if (flags.out) writeFileAtomic(flags.out, `${JSON.stringify(result)}\n`);
      if (flags.json) printJson(result);
      else {
        for (const [i, path] of paths.entries()) process.stdout.write(`${path}: [${result.latents[i]!.map((v) => v.toFixed(3)).join(', ')}]\n`);
      }
    });
}

export function latentMapCommand(): Command {
  return new Command('latent-map')
    .description('map test images into 2-D (coloured by label); a 2-D latent also gets its decoded manifold')
    .argument('<model>', 'model directory')
    .option('--dataset <name|path>', 'images to map (default: the training dataset, test split)')
    .option('--limit <n>', 'how many images', parseInteger(10, 20_000), 2000)
    .option('--method <kind>', `projection for latents of more than 2 dimensions: ${projectionMethods.join(', ')}`, parseChoice(projectionMethods), 'pca')
    .option('--seed <n>', 'seed for UMAP', parseInteger(0), 0)
    .option('--grid <n>', 'manifold grid size for 2-D latents', parseInteger(2, 40), 20)
    .requiredOption('--out <file.png>', 'the map; the manifold goes beside it as -manifold.png')
    .action(async (dir: string, flags: { dataset?: string; limit: number; method: ProjectionMethod; seed: number; grid: number; out: string }, self: Command) => {
      const model = await openModel(dir, self);
      const latent = requireLatent(model, dir);
      requireEncoder(model, dir);
      const dataset = takeImages(datasetForModel(model, dir, flags.dataset, 'test'), flags.limit);
      const points = project2d(encodeDataset(latent, dataset), flags.method, flags.seed);
      const title = latent.latentDim <= 2 ? `latent space of ${dir}` : `${flags.method.toUpperCase()} of ${latent.latentDim}-D latents of ${dir}`;
      const png = await plotScatter(
        points.map(([x, y], i) => ({ x, y, label: dataset.labels ? dataset.labels[i]! : 0 })),
        { title, labelNames: dataset.labelNames ?? ['images'] },
      );
      writeFileAtomic(flags.out, png);
      process.stdout.write(`wrote a map of ${dataset.count} images to ${flags.out}\n`);
      if (latent.latentDim === 2) {
        const manifoldPath = flags.out.replace(/\.png$/i, '') + '-manifold.png';
        writeImageGrid(manifoldPath, decodeRows(latent, manifoldLatents(flags.grid)), flags.grid);
        process.stdout.write(`wrote the decoded ${flags.grid}×${flags.grid} manifold to ${manifoldPath}\n`);
      }
      model.dispose();
    });
}

interface AttributeFlags {
  attribute?: string;
  list?: boolean;
  sweep?: number[];
  measure?: boolean;
  clip?: string;
  json?: boolean;
  record?: boolean;
  dataset?: string;
  label?: string;
  with?: string;
  without?: string;
  strength: number;
  input?: string[];
  out?: string;
  limit: number;
  invert?: boolean;
  seed: number;
  n: number;
  classifier?: string;
}

export function attributeCommand(): Command {
  return new Command('attribute')
    .description('add an attribute to images: the mean latent of a label (or a folder) minus the mean of the rest')
    .argument('[model]', 'model directory')
    .option('--attribute <name>', 'a named attribute of the emoji data: age, smile, red hair, …, dark skin tone (see --list)')
    .option('--list', 'list the named attributes and what defines each')
    .option('--sweep <strengths>', 'with --attribute: one column per strength, e.g. -2,-1,0,1,2 (a .gif --out plays them in turn)', parseNumberList)
    .option('--measure', 'with a named attribute (or all): check over test faces that a clip model\'s similarity to its words rises with strength')
    .option('--clip <dir>', 'the clip model --measure scores with (default: models/clip-emoji)')
    .option('--json', 'print --list or --measure as JSON')
    .option('--record', 'with --measure: store the checks in the model\'s config.json (under evaluations "attributes")')
    .option('--dataset <name|path>', 'labelled images that define the attribute (with --label)')
    .option('--label <label>', 'the label (index or name) that has the attribute')
    .option('--with <folder>', 'instead: a folder of examples that have the attribute')
    .option('--without <folder>', 'and a folder of examples that do not')
    .option('--strength <s>', 'how far to move along the attribute (negative removes it)', parseNumber(-100, 100), 1)
    .option('--limit <n>', 'examples per side used to estimate the vector', parseInteger(1, 20_000), 5000)
    .option('--input <images...>', 'images to edit (models with an encoder, e.g. a VAE)')
    .option('--seed <n>', 'models without an encoder (GAN): edit the samples of this seed', parseInteger(0), 0)
    .option('--n <count>', 'models without an encoder: how many samples to edit', parseInteger(1, limits.maxImages), 8)
    .option('--classifier <dir>', 'models without an encoder: the classifier that labels the model\'s own samples (default: the shipped one)')
    .option('--invert', 'invert the input and folder images first (dark-on-light drawings for MNIST-style models)')
    .option('--out <file.png>', 'the edited image(s)')
    .action(async (dir: string | undefined, flags: AttributeFlags, self: Command) => {
      if (flags.list) return listAttributes(Boolean(flags.json));
      if (!dir) throw new GenloomError('BAD_ARGUMENT', 'give the model directory (or --list to see the named attributes)');
      const model = await openModel(dir, self);
      const latent = requireLatent(model, dir);
      const shape = requireImageShape(model, dir);
      if (flags.attribute !== undefined || flags.measure) return attributeByName(model, latent, dir, flags);
      if (!flags.out) throw new GenloomError('BAD_ARGUMENT', 'give --out <file.png> for the edited image(s)');
      if (!latent.encode) return attributeBySamples(model, latent, dir, flags);
      if (!flags.input) throw new GenloomError('BAD_ARGUMENT', 'give --input <images...> to edit');
      const inputPaths = expandImagePaths(flags.input);
      let positive: Float32Array[];
      let negative: Float32Array[];
      if (flags.with || flags.without) {
        if (!flags.with || !flags.without) throw new GenloomError('BAD_ARGUMENT', 'give both --with <folder> and --without <folder>');
        const encodeFolder = (folder: string) => {
          const images = readImagesForModel(expandImagePaths([folder]).slice(0, flags.limit), shape, flags.invert, dir);
          const rows = encodeMeans(latent, images);
          images.dispose();
          return rows;
        };
        positive = encodeFolder(flags.with);
        negative = encodeFolder(flags.without);
      } else {
        if (flags.label === undefined) throw new GenloomError('BAD_ARGUMENT', 'give --label <label> (with --dataset) or --with/--without folders');
        const dataset = datasetForModel(model, dir, flags.dataset, 'train');
        if (!dataset.labels) throw new GenloomError('BAD_ARGUMENT', `${dataset.name} has no labels; use --with/--without folders`);
        const label = resolveLabel(dataset, flags.label);
        if (label < 0) throw new GenloomError('BAD_ARGUMENT', `unknown label "${flags.label}": ${dataset.name} has ${dataset.labelNames!.join(', ')}`);
        const side = (matching: boolean) => {
          const indices = indicesWithLabel(dataset, label, matching).slice(0, flags.limit);
          const images = gatherImages(dataset, indices);
          const rows = encodeMeans(latent, images);
          images.dispose();
          return rows;
        };
        positive = side(true);
        negative = side(false);
      }
      const direction = attributeVector(positive, negative);
      const inputs = readImagesForModel(inputPaths, shape, flags.invert, dir);
      const edited = encodeMeans(latent, inputs).map((z) => addScaled(z, direction, flags.strength));
      inputs.dispose();
      writeImageGrid(flags.out!, decodeRows(latent, edited));
      model.dispose();
      process.stdout.write(`applied the attribute (strength ${flags.strength}, from ${positive.length} vs ${negative.length} examples) to ${edited.length} image(s): ${flags.out}\n`);
    });
}

/**
 * Attribute vectors for a model without an encoder (a GAN): the model's own samples, labelled by
 * the dataset's classifier, split into those with the label and the rest; the vector is the
 * difference of their mean latents, applied to the samples of --seed.
 */
function attributeBySamples(model: LoadedModel, latent: LatentModel, dir: string, flags: AttributeFlags): void {
  if ((latent.conditionDim ?? 0) > 0) {
    throw new GenloomError('BAD_ARGUMENT', `${dir} is conditional: its labels are an input, so sample with --label instead of an attribute vector`);
  }
  if (flags.label === undefined) throw new GenloomError('BAD_ARGUMENT', 'give --label <label>: the attribute is learned from the model\'s own samples that the classifier gives this label');
  const datasetSpec = flags.dataset ?? ((model.manifest.training as Record<string, unknown>)['dataset'] as string);
  const featureNet = loadFeatureNet(featureNetDir(datasetSpec, flags.classifier));
  const label = resolveLabel({ name: datasetSpec, labelNames: featureNet.labelNames }, flags.label);
  if (label < 0) {
    featureNet.dispose();
    throw new GenloomError('BAD_ARGUMENT', `unknown label "${flags.label}": the classifier knows ${(featureNet.labelNames ?? []).join(', ')}`);
  }
  const count = Math.min(flags.limit, 4000);
  const random = fromSeed('attribute-examples');
  const rows = Array.from({ length: count }, () => random.normalArray(latent.latentDim));
  const { predictions } = embed(featureNet.classifier, count, (start, size) => decodeRows(latent, rows.slice(start, start + size)));
  featureNet.dispose();
  const positive = rows.filter((_, i) => predictions[i] === label);
  const negative = rows.filter((_, i) => predictions[i] !== label);
  if (positive.length < 10) throw new GenloomError('BAD_ARGUMENT', `only ${positive.length} of ${count} samples were classified as "${flags.label}": too few to estimate an attribute`);
  const direction = attributeVector(positive, negative);
  const seedRandom = generationRandom(flags.seed, 'sample');
  const originals = Array.from({ length: flags.n }, () => seedRandom.normalArray(latent.latentDim));
  const edited = originals.map((z) => addScaled(z, direction, flags.strength));
  // Two rows: the samples as drawn, then with the attribute added.
  writeImageGrid(flags.out!, decodeRows(latent, [...originals, ...edited]), flags.n);
  model.dispose();
  process.stdout.write(`applied the attribute "${flags.label}" (strength ${flags.strength}, from ${positive.length} vs ${negative.length} of the model's samples) to ${flags.n} samples of seed ${flags.seed}: ${flags.out} (top: before, bottom: after)\n`);
}

function parseNumberList(value: string): number[] {
  const numbers = value.split(',').map((part) => Number(part.trim()));
  if (numbers.length < 2 || numbers.length > 32 || numbers.some((number) => !Number.isFinite(number) || Math.abs(number) > 100)) {
    throw new InvalidArgumentError('give 2 to 32 numbers from -100 to 100 separated by commas, e.g. -2,-1,0,1,2.');
  }
  return numbers;
}

function listAttributes(json: boolean): void {
  if (json) return printJson(emojiAttributes.map(({ name, group, description, words }) => ({ name, group, description, words })));
  for (const attribute of emojiAttributes) process.stdout.write(`${attribute.name.padEnd(24)} ${attribute.group.padEnd(10)} ${attribute.description}\n`);
}

/** The named attributes are defined on the emoji data: a model of other data is refused. */
function requireEmojiModel(model: LoadedModel, dir: string): void {
  const trainedOn = String(model.manifest.training['dataset'] ?? '');
  if (trainedOn !== emojiDatasetName) throw new GenloomError('BAD_ARGUMENT', `the named attributes are defined on the emoji data, but ${dir} was trained on ${trainedOn}: use --label or --with/--without folders`);
}

/** Test faces (people of the test and compositional splits) at the model's size, at most `limit`. */
function testFaces(size: number, limit: number): tf.Tensor4D {
  const faces = [loadEmoji('test', size), loadEmoji('compositional', size)];
  const picked: tf.Tensor4D[] = faces.map((data) => {
    const indices = data.attributes.map((attributes, i) => (attributes.age ? i : -1)).filter((i) => i >= 0);
    return gatherImages(data, indices);
  });
  const all = tf.concat(picked, 0);
  tf.dispose(picked);
  const count = Math.min(limit, all.shape[0]);
  const kept = tf.slice(all, [0, 0, 0, 0], [count, -1, -1, -1]);
  all.dispose();
  return kept;
}

/** `--attribute NAME` (edit, or sweep) and `--measure` for the named attributes of the emoji data. */
async function attributeByName(model: LoadedModel, latent: LatentModel, dir: string, flags: AttributeFlags): Promise<void> {
  try {
    const chosen = flags.attribute !== undefined ? [requireNamedAttribute(flags.attribute)] : [...emojiAttributes];
    requireEmojiModel(model, dir);
    if (!latent.encode) return attributeOfSamplesByName(latent, dir, chosen[0]!, flags);
    const shape = requireImageShape(model, dir);
    // The named attributes are defined on the training split; a GAN (above) does without it.
    const data = loadEmoji('train', shape[0]);
    if (flags.measure) {
      const clipNet = loadClipFeatureNet(clipFeatureNetDir(flags.clip));
      const faces = testFaces(shape[0], flags.limit);
      // Up to the full mean difference between the two sides: beyond it the decoder leaves the data.
      const strengths = flags.sweep ?? [0, 0.25, 0.5, 0.75, 1];
      try {
        const checks = chosen.map((attribute) => checkAttribute(latent, clipNet.contrastive, faces, attribute, namedAttributeVector(latent, data, attribute).direction, strengths));
        const result = { model: dir, clip: flags.clip ?? 'models/clip-emoji', checks, date: new Date().toISOString().slice(0, 10) };
        if (flags.record) recordInManifest(dir, (manifest) => {
          manifest.evaluations = { ...manifest.evaluations, attributes: { ...result, command: commandLine() } };
        });
        if (flags.json) printJson(result);
        else for (const check of checks) process.stdout.write(`${check.attribute.padEnd(24)} rises in ${(check.risingShare * 100).toFixed(1)}% of ${check.faces} faces (every step: ${(check.monotoneShare * 100).toFixed(1)}%); similarity to "${check.words}" ${check.meanSimilarity.map((value) => value.toFixed(3)).join(' → ')}\n`);
      } finally {
        faces.dispose();
        clipNet.dispose();
      }
      return;
    }
    const attribute = chosen[0]!;
    if (!flags.out) throw new GenloomError('BAD_ARGUMENT', 'give --out <file.png or .gif> for the edited image(s)');
    const { direction, positives, negatives } = namedAttributeVector(latent, data, attribute);
    const inputs = flags.input ? readImagesForModel(expandImagePaths(flags.input), shape, flags.invert, dir) : testFaces(shape[0], flags.n);
    const latents = encodeMeans(latent, inputs);
    inputs.dispose();
    const strengths = flags.sweep ?? [flags.strength];
    const sweep = strengthSweep(latents, direction, strengths);
    writeSweep(latent, sweep, strengths, flags.out);
    process.stdout.write(`applied "${attribute.name}" (from ${positives} vs ${negatives} training images) at strength ${strengths.join(', ')} to ${latents.length} image(s): ${flags.out}\n`);
  } finally {
    model.dispose();
  }
}

/**
 * A named attribute for a model with no encoder (a GAN): its direction comes from the model's own
 * samples as a clip model scores them (named-attributes.ts); it is applied to the samples of --seed.
 */
function attributeOfSamplesByName(latent: LatentModel, dir: string, attribute: NamedAttribute, flags: AttributeFlags): void {
  if (flags.measure) throw new GenloomError('UNSUPPORTED', `--measure needs test faces to encode, and ${dir} has no encoder: measure a VAE`);
  if (!flags.out) throw new GenloomError('BAD_ARGUMENT', 'give --out <file.png or .gif> for the edited samples');
  if ((latent.conditionDim ?? 0) > 0) throw new GenloomError('BAD_ARGUMENT', `${dir} is conditional: its labels are an input, so sample with --label instead of an attribute vector`);
  const clipNet = loadClipFeatureNet(clipFeatureNetDir(flags.clip));
  try {
    const { direction, positives, negatives } = namedAttributeVectorBySamples(latent, clipNet.contrastive, attribute, Math.min(flags.limit, 4000), fromSeed('attribute-examples'));
    const seedRandom = generationRandom(flags.seed, 'sample');
    const originals = Array.from({ length: flags.n }, () => seedRandom.normalArray(latent.latentDim));
    const strengths = flags.sweep ?? [0, flags.strength];
    writeSweep(latent, strengthSweep(originals, direction, strengths), strengths, flags.out);
    process.stdout.write(`applied "${attribute.name}" (the best-scoring ${positives} of ${positives + negatives} samples by clip similarity to "${attribute.words}") at strength ${strengths.join(', ')} to ${flags.n} samples of seed ${flags.seed}: ${flags.out}\n`);
  } finally {
    clipNet.dispose();
  }
}

/** A strength sweep as a PNG grid (one column per strength) or, for a .gif, one frame per strength played back and forth. */
function writeSweep(latent: LatentModel, sweep: Float32Array[][], strengths: number[], out: string): void {
  if (/\.gif$/i.test(out)) {
    const frames = strengths.map((_, s) => {
      const decoded = decodeRows(latent, sweep.map((row) => row[s]!));
      const images = tensorToImages(decoded);
      decoded.dispose();
      return imageGrid(images, { columns: images.length });
    });
    writeGif(out, [...frames, ...frames.slice(1, -1).reverse()], { delayMs: 250, scale: displayScale(frames[0]!) * 2 });
  } else {
    writeImageGrid(out, decodeRows(latent, sweep.flat()), strengths.length);
  }
}
