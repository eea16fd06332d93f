// The bench's ports: launchers started at once must not be given the same port.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { freePorts } from '../bench/processes.js';

test('a port is handed out once in a run, though nothing bound it yet', async () => {
  // As the bench asks, five ports a launcher, many times over: a thousand picks from some ten
  // thousand ports would give some port twice, were a port that is free again taken again.
  const ports: number[] = [];
  for (let launcher = 0; launcher < 200; launcher++) ports.push(...(await freePorts(5)));
  assert.equal(new Set(ports).size, ports.length);
});
