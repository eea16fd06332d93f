// Writes config.schema.json from the config schema: `npm run schema` after changing a key.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { configJsonSchema } from '../src/config/json-schema.js';

const file = join(import.meta.dirname, '..', 'config.schema.json');
writeFileSync(file, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file}`);
