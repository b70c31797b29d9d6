import { fileURLToPath } from 'node:url';

/** The compiled CLI, as users run it (`zonelab` is this file). */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The folder holding the stand-in `gcloud` (a test fixture, not Google's CLI). */
export const GCLOUD_STAND_IN_DIR = fileURLToPath(new URL('../../../test/fixtures/gcloud-stand-in/', import.meta.url));
