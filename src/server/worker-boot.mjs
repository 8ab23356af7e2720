// Worker threads start here: register tsx's loader (as bin/genloom.js does), then load the
// TypeScript entry named in workerData.entry.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
