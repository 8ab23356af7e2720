/**
 * Image pixels in the page: decode a base64 PNG to RGBA (for GIFs and for comparing images), and
 * encode frames as an animated GIF with gifenc.
 */
import { applyPalette, GIFEncoder, quantize } from 'gifenc';
import { pngUrl } from '../dom.ts';

export async function loadImage(base64: string): Promise<HTMLImageElement> {
  const image = new Image();
  image.src = pngUrl(base64);
  await image.decode();
  return image;
}

export async function pngPixels(base64: string): Promise<ImageData> {
  const image = await loadImage(base64);
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(image, 0, 0);
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

/** An animated GIF of PNG frames (all the same size), `delay` ms each, looping. */
export async function framesToGif(frames: string[], delay = 100): Promise<Uint8Array<ArrayBuffer>> {
  const gif = GIFEncoder();
  for (const frame of frames) {
    const { data, width, height } = await pngPixels(frame);
    const palette = quantize(data, 256);
    gif.writeFrame(applyPalette(data, palette), width, height, { palette, delay });
  }
  gif.finish();
  return gif.bytes();
}
