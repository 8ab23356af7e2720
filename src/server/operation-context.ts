/**
 * What an operation in the generation worker reports through, and the library callbacks made from
 * it: progress goes out as the server's events, and a client that has gone stops the work.
 */
import type { GenerationOptions } from '../generate/index.ts';

export interface OperationContext {
  /** The model's name in the studio, for messages. */
  name: string;
  emit(event: string, data: unknown): void;
  /** Throws when the client has gone; called between steps. */
  checkCancelled(): void;
}

/** The library's callbacks, reporting through the server's event stream and stopping when the client has gone. */
export function reporting(context: OperationContext): GenerationOptions {
  return {
    name: context.name,
    onProgress: (done, total) => {
      context.checkCancelled();
      context.emit('progress', { done, total });
    },
  };
}
