/**
 * The genloom command line: parse, validate, call the library, print. Errors a user can act on
 * print as one line; --debug adds the stack.
 */
import { Command, CommanderError } from 'commander';
import { asFlag, GenloomError } from '../core/errors.ts';
import { genloomVersion } from '../version.ts';
import { completeCommand } from './complete.ts';
import { dataCommand } from './data.ts';
import { embedCommand, searchCommand } from './embed.ts';
import { img2imgCommand, inpaintCommand } from './diffusion.ts';
import { decodeCommand, interpolateCommand, sampleCommand } from './generate.ts';
import { evalCommand, infoCommand } from './inspect.ts';
import { feedbackCommand } from './feedback.ts';
import { finetuneCommand } from './finetune.ts';
import { rateCommand } from './rate.ts';
import { serveCommand } from './serve.ts';
import { attributeCommand, encodeCommand, latentMapCommand } from './latent.ts';
import { attentionCommand, generateCommand } from './text.ts';
import { importCommand } from './import.ts';
import { tokenizerCommand } from './tokenizer.ts';
import { trainCommand } from './train.ts';

export function buildProgram(): Command {
  const program = new Command('genloom')
    .description('train, generate with, explore, evaluate and fine-tune generative models')
    .version(genloomVersion)
    .option('--backend <name>', 'tensor backend: auto, native, wasm or cpu (also GENLOOM_BACKEND)')
    .option('--quiet', 'no progress output')
    .option('--debug', 'show stack traces on errors')
    .showSuggestionAfterError(true)
    .exitOverride();
  for (const command of [trainCommand(), sampleCommand(), encodeCommand(), decodeCommand(), interpolateCommand(), inpaintCommand(), img2imgCommand(), completeCommand(), generateCommand(), attentionCommand(), tokenizerCommand(), importCommand(), latentMapCommand(), attributeCommand(), evalCommand(), infoCommand(), finetuneCommand(), rateCommand(), feedbackCommand(), dataCommand(), embedCommand(), searchCommand(), serveCommand()]) {
    program.addCommand(command);
  }
  const exitOverride = (command: Command) => {
    command.exitOverride();
    command.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

/**
 * The wasm heap is 32-bit: a request too big for it fails inside the wasm module as an abort from
 * malloc or an out-of-bounds access, not as a JS error with a useful message.
 */
function isWasmOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.name === 'RuntimeError' && /^Aborted\(|memory access out of bounds|out of memory/i.test(error.message);
}

let stdoutGuarded = false;

/**
 * A reader that stops early (`genloom info m | head -c 20`) closes the pipe, and the next write to
 * stdout fails with EPIPE, which Node reports as an 'error' event: unhandled, a crash with a stack.
 * Unix tools die of SIGPIPE there, quietly; Node ignores SIGPIPE, so we exit with status 0 instead.
 * Every file genloom writes is written atomically, so stopping at any write leaves none half-done.
 */
function exitQuietlyWhenStdoutCloses(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    process.stderr.write(`genloom: cannot write to standard output (${error.code ?? error.message})\n`);
    process.exit(1);
  });
}

/** Runs the CLI with `argv` (user arguments only) and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  exitQuietlyWhenStdoutCloses();
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help / version).
      return error.exitCode;
    }
    const debug = argv.includes('--debug');
    if (error instanceof GenloomError) {
      process.stderr.write(`genloom: ${error.render(asFlag)}\n`);
      if (debug) process.stderr.write(`${error.stack}\n`);
      return error.code === 'BAD_ARGUMENT' ? 2 : 1;
    }
    if (isWasmOutOfMemory(error)) {
      process.stderr.write('genloom: the wasm backend ran out of memory (its heap is limited to a few GB): use a smaller --batch-size (with --accumulate to keep the effective batch), a smaller model, or fewer samples at once; saved checkpoints are intact\n');
      if (debug) process.stderr.write(`${(error as Error)?.stack}\n`);
      return 1;
    }
    process.stderr.write(`genloom: unexpected error: ${(error as Error)?.message ?? String(error)}${debug ? '' : ' (run with --debug for the stack)'}\n`);
    if (debug) process.stderr.write(`${(error as Error)?.stack}\n`);
    return 1;
  }
}
