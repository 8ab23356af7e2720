/**
 * `serve`: the web studio and its HTTP API on 127.0.0.1 (a token is required to bind elsewhere).
 * Runs until Ctrl-C, then closes cleanly: running training stops at a checkpoint.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { isLoopback, resolveServerOptions, startServer } from '../server/app.ts';
import { ensureWebBuild, webDist } from '../server/web-build.ts';
import { defaultLimits } from '../server/context.ts';
import { globalOptions, parseInteger } from './options.ts';

interface ServeFlags {
  port: number;
  host: string;
  models: string;
  runs: string;
  db?: string;
  token?: string;
  web: boolean;
  requestBudget: number;
  requestTimeout: number;
  maxParameters: number;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('the web studio and HTTP API: generate, explore, rate and train in the browser (OpenAPI at /openapi.json)')
    .option('--port <n>', 'port (0 picks a free one)', parseInteger(0, 65535), 8080)
    .option('--host <address>', 'address to bind; anything but loopback needs --token', '127.0.0.1')
    .option('--models <dir>', 'the folder of models to offer', 'models')
    .option('--runs <dir>', 'where training jobs write runs and uploads land', 'runs')
    .option('--db <file>', 'the feedback store (default <runs>/feedback.db)')
    .option('--token <secret>', 'require this token on every API request (also GENLOOM_TOKEN)')
    .option('--no-web', 'serve the API only, without the studio page')
    .option('--request-budget <gmac>', `the most one generation request may cost, in giga multiply-adds (estimated before it runs; more is refused with what would fit)`, parseInteger(1, 1e9), defaultLimits.maxRequestGmac)
    .option('--request-timeout <seconds>', 'seconds one generation request may run before it is stopped', parseInteger(1, 86_400), defaultLimits.maxRequestSeconds)
    .option('--max-parameters <n>', 'the largest model a training job may build, in parameters (checked when the job is posted)', parseInteger(1000, 1e10), defaultLimits.maxJobParameters)
    .action(async (flags: ServeFlags, self: Command) => {
      const token = flags.token ?? process.env['GENLOOM_TOKEN'];
      if (!isLoopback(flags.host) && !token) throw new GenloomError('BAD_ARGUMENT', `serving on ${flags.host} (not loopback) needs a token: pass --token SECRET (or set GENLOOM_TOKEN)`);
      if (!existsSync(flags.models)) throw new GenloomError('NOT_FOUND', `the models folder ${flags.models} does not exist (give --models DIR)`);
      let webDir: string | undefined;
      if (flags.web) {
        try {
          webDir = await ensureWebBuild({ quiet: Boolean(globalOptions(self).quiet) });
        } catch (error) {
          // An installed copy without Vite serves the front end it shipped with, if any.
          if (!existsSync(webDist)) process.stderr.write(`genloom: the studio page could not be built (${(error as Error).message.split('\n')[0]}); serving the API only\n`);
          else webDir = webDist;
        }
      }
      const server = await listenOrExplain(flags, () => startServer(
        resolveServerOptions({
          modelsDir: resolve(flags.models),
          runsDir: resolve(flags.runs),
          ...(flags.db ? { dbPath: resolve(flags.db) } : {}),
          host: flags.host,
          port: flags.port,
          ...(token ? { token } : {}),
          ...(webDir ? { webDir } : {}),
          ...(globalOptions(self).backend ? { backend: globalOptions(self).backend } : {}),
          limits: { maxRequestGmac: flags.requestBudget, maxRequestSeconds: flags.requestTimeout, maxJobParameters: flags.maxParameters },
        }),
      ));
      const page = `${server.url}/${token ? `?token=${encodeURIComponent(token)}` : ''}`;
      process.stdout.write(`genloom studio: ${page}\n  API description: ${server.url}/openapi.json · models from ${resolve(flags.models)} · runs in ${resolve(flags.runs)} · Ctrl-C stops\n`);
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          process.stderr.write('\nstopping the studio…\n');
          void server.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}

/** The errors of binding a port, said as what to do about them. */
async function listenOrExplain<T>(flags: ServeFlags, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new GenloomError('BAD_ARGUMENT', `port ${flags.port} on ${flags.host} is already in use (another studio?): pick another with --port, or --port 0 for any free one`);
    if (code === 'EACCES') throw new GenloomError('BAD_ARGUMENT', `not allowed to listen on port ${flags.port} (ports below 1024 need privileges): pick another with --port`);
    if (code === 'EADDRNOTAVAIL') throw new GenloomError('BAD_ARGUMENT', `${flags.host} is not an address of this machine: give --host one of its addresses`);
    throw error;
  }
}
