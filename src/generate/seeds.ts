/**
 * The random stream each kind of generation draws from its seed. Fixed names, kept in one place, so
 * a seed gives the same bytes from the CLI, the HTTP API, the studio and a library caller.
 */
import { fromSeed, type Random } from '../core/random.ts';

/**
 * - sample: images, latents, clips and shapes (a VAE's or GAN's latents are its first draws);
 * - compose: music; complete: PixelCNN completions; label: the label a seed picks for a conditional
 *   latent walk; text: the token draws (the seed's root stream, as `genloom generate` always had);
 *   inpaint, img2img: the noise of an edit.
 */
export type GenerationStream = 'sample' | 'compose' | 'complete' | 'label' | 'text' | 'inpaint' | 'img2img';

export function generationRandom(seed: number, stream: GenerationStream): Random {
  return stream === 'text' ? fromSeed(seed) : fromSeed(seed).fork(stream);
}

/** The latent vectors a seed's `sample` stream starts with ([n × latentDim], row-major): what a VAE or GAN decodes for that seed. */
export function latentsForSeed(seed: number, count: number, latentDim: number, truncation?: number): Float32Array[] {
  const z = generationRandom(seed, 'sample').normalArray(count * latentDim, ...(truncation !== undefined ? [truncation] : []));
  return Array.from({ length: count }, (_, i) => z.slice(i * latentDim, (i + 1) * latentDim));
}
