/**
 * `npm start`: the genloom studio — builds the web front end when its sources changed, then serves
 * it with the shipped starter models on http://127.0.0.1:8080 (arguments after `npm start --` go to
 * `genloom serve`, e.g. `npm start -- --port 9000`). `npm run demo` shows the command line instead.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli/main.ts';
import { families } from '../src/models/registry.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const models = join(root, 'models');
process.stdout.write(`genloom — train, generate with, explore, evaluate and fine-tune generative models in TypeScript
Families: ${Object.values(families).map((family) => family.name).join(', ')}
The studio below does in the browser what the CLI does (genloom --help; npm run demo writes examples to ./out).

`);
if (!existsSync(models)) {
  process.stderr.write(`genloom: the starter models folder ${models} is missing\n`);
  process.exit(1);
}
process.exitCode = await runCli(['serve', '--models', models, '--runs', join(process.cwd(), 'runs'), ...process.argv.slice(2)]);
