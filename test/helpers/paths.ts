import { fileURLToPath } from 'node:url';

/** The compiled CLI, as users run it (`zonelab` is this file). */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
