import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathScrubber } from './display-paths.ts';

test('the server folders are said as models, runs and ., only where they stand as whole paths', () => {
  const scrub = pathScrubber({ modelsDir: '/srv/app/models', runsDir: '/srv/app/runs', dbPath: '/srv/app/runs/feedback.db' });
  assert.equal(scrub('cannot read /srv/app/models/vae/model.safetensors (EIO)'), 'cannot read models/vae/model.safetensors (EIO)');
  assert.equal(scrub('{"db":"/srv/app/runs/feedback.db","command":"genloom train --out /srv/app/runs/x"}'), '{"db":"runs/feedback.db","command":"genloom train --out runs/x"}');
  assert.equal(scrub(`"${join(process.cwd(), 'data', 'a.png')}"`), '"./data/a.png"');
  // Not inside a longer name, and not inside base64, whose alphabet can spell a path by chance.
  assert.equal(scrub('/srv/app/runs2/x'), '/srv/app/runs2/x');
  assert.equal(scrub('"iVBORw0/srv/app/runsQ=="'), '"iVBORw0/srv/app/runsQ=="');
  assert.equal(scrub('"iVBORw0K/srv/app/runs/aGVsbG8="'), '"iVBORw0K/srv/app/runs/aGVsbG8="');
});
