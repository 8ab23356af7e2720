/**
 * `encode`, `latent-map` and `attribute`: look into a model's latent space.
 */
import { statSync } from 'node:fs';
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { generationRandom } from '../generate/seeds.ts';
import { embed, featureNetDir, loadFeatureNet } from '../metrics/generator-eval.ts';
import { gatherImages, indicesWithLabel, resolveLabel, takeImages } from '../data/index.ts';
import { listImageFiles } from '../data/folder.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { plotScatter } from '../io/plot.ts';
import { readImagesForModel, writeImageGrid } from '../io/tensor-image.ts';
import { addScaled, attributeVector, decodeRows, encodeMeans, manifoldLatents } from '../latent/latent.ts';
import { project2d, projectionMethods, type ProjectionMethod } from '../latent/projection.ts';
import { datasetForModel, encodeDataset } from '../latent/dataset-latents.ts';
import type { LatentModel, LoadedModel } from '../models/family.ts';
import { limits, openModel, parseChoice, parseInteger, parseNumber, printJson, requireEncoder, requireImageShape, requireLatent } from './options.ts';

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
      const images = readImagesForModel(paths, requireImageShape(model, dir), flags.invert);
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
  dataset?: string;
  label?: string;
  with?: string;
  without?: string;
  strength: number;
  input: string[];
  out: string;
  limit: number;
  invert?: boolean;
  seed: number;
  n: number;
  classifier?: string;
}

export function attributeCommand(): Command {
  return new Command('attribute')
    .description('add an attribute to images: the mean latent of a label (or a folder) minus the mean of the rest')
    .argument('<model>', 'model directory')
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
    .requiredOption('--out <file.png>', 'the edited image(s)')
    .action(async (dir: string, flags: AttributeFlags, self: Command) => {
      const model = await openModel(dir, self);
      const latent = requireLatent(model, dir);
      const shape = requireImageShape(model, dir);
      if (!latent.encode) return attributeBySamples(model, latent, dir, flags);
      if (!flags.input) throw new GenloomError('BAD_ARGUMENT', 'give --input <images...> to edit');
      const inputPaths = expandImagePaths(flags.input);
      let positive: Float32Array[];
      let negative: Float32Array[];
      if (flags.with || flags.without) {
        if (!flags.with || !flags.without) throw new GenloomError('BAD_ARGUMENT', 'give both --with <folder> and --without <folder>');
        const encodeFolder = (folder: string) => {
          const images = readImagesForModel(expandImagePaths([folder]).slice(0, flags.limit), shape, flags.invert);
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
      const inputs = readImagesForModel(inputPaths, shape, flags.invert);
      const edited = encodeMeans(latent, inputs).map((z) => addScaled(z, direction, flags.strength));
      inputs.dispose();
      writeImageGrid(flags.out, decodeRows(latent, edited));
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
  writeImageGrid(flags.out, decodeRows(latent, [...originals, ...edited]), flags.n);
  model.dispose();
  process.stdout.write(`applied the attribute "${flags.label}" (strength ${flags.strength}, from ${positive.length} vs ${negative.length} of the model's samples) to ${flags.n} samples of seed ${flags.seed}: ${flags.out} (top: before, bottom: after)\n`);
}
