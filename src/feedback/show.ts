/**
 * Showing a sample in a terminal, for `genloom rate`: an image as the path of its PNG and, where the
 * terminal can show colour, a preview drawn with half-block characters (two pixel rows per text
 * row, 24-bit colour); text as it is; music as the paths of its MIDI, WAV and piano roll.
 */
import type { ImageData01 } from '../io/image.ts';
import { resizeImage, toChannels } from '../io/image.ts';

/** True when `stream` is a terminal that shows ANSI colour (and NO_COLOR is unset). */
export function canShowColour(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env['NO_COLOR'] && process.env['TERM'] !== 'dumb';
}

/**
 * The image as text: each character cell is "▀" with the upper pixel as foreground and the lower as
 * background colour. `columns` is the width in characters (the image is scaled to it).
 */
export function halfBlockPreview(image: ImageData01, columns = 28): string {
  const width = Math.min(columns, image.width * 2);
  const height = Math.max(2, Math.round((image.height * width) / image.width / 2) * 2);
  const rgb = toChannels(resizeImage(image, width, height), 3);
  const level = (x: number, y: number) => Array.from(rgb.data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3), (value) => Math.round(Math.min(1, Math.max(0, value)) * 255));
  const lines: string[] = [];
  for (let y = 0; y < height; y += 2) {
    let line = '';
    for (let x = 0; x < width; x++) {
      const [r1, g1, b1] = level(x, y);
      const [r2, g2, b2] = level(x, y + 1);
      line += `\x1b[38;2;${r1};${g1};${b1}m\x1b[48;2;${r2};${g2};${b2}m▀`;
    }
    lines.push(`${line}\x1b[0m`);
  }
  return lines.join('\n');
}
