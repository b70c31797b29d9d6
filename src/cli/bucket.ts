import type { Command } from 'commander';
import { generateBucket } from '../content/index.js';
import { uploadFolder } from '../storage/index.js';
import { existingFolder, folderName, gcsUrlOption, integerIn } from './option-parsers.js';
import { createStatusLine } from '../status-line.js';
import { examples } from './examples.js';
import { INTERRUPTED_EXIT_CODE, interruptible } from './signals.js';

interface GenerateFlags {
  out: string;
  webdir: string;
  count: number;
  seed: number;
  maxLinks: number;
  force: boolean;
  ifMissing: boolean;
}

export function registerBucket(program: Command): void {
  const bucket = program.command('bucket').description('make the bucket of pages the servers serve');
  bucket
    .command('generate')
    .summary('write the pages of a bucket (deterministic for a seed)')
    .description(
      'write assignment-2 style pages (<out>/<webdir>/0.html …) with random links to each other; ' +
        'the same seed always gives the same pages',
    )
    .option('--out <dir>', 'bucket folder; its name is the bucket name in URLs', './data/bucket')
    .option('--webdir <name>', 'folder inside the bucket for the pages ("none": directly in the bucket)', folderName, 'webdir')
    .option('--count <n>', 'number of pages', integerIn(1, 10_000_000), 10_000)
    .option('--seed <n>', 'random seed', integerIn(-(2 ** 31), 2 ** 31 - 1), 1)
    .option('--max-links <n>', 'most links on one page (each page gets 0…n)', integerIn(0, 100_000), 250)
    .option('--force', 'replace a non-empty --out folder (only after the new pages are complete)', false)
    .option('--if-missing', 'do nothing when --out already holds files (instead of failing)', false)
    .addHelpText(
      'after',
      examples([
        ['the assignment\'s 10,000 pages in ./data/bucket/webdir', 'zonelab bucket generate'],
        ['100 small pages somewhere else', 'zonelab bucket generate --out /tmp/bucket --count 100 --max-links 5'],
      ]),
    )
    .action(async (flags: GenerateFlags) => {
      const status = createStatusLine();
      const stop = interruptible();
      const started = performance.now();
      try {
        const result = await generateBucket({
          ...flags,
          signal: stop.signal,
          onProgress: (written, total) => status.update(`generating pages: ${written}/${total}`),
        });
        if (result.skipped) {
          status.line(`${flags.out} already holds a bucket; kept as it is`);
          return;
        }
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        const megabytes = (result.bytes / 1e6).toFixed(1);
        const where = flags.webdir === 'none' ? flags.out : `${flags.out}/${flags.webdir}`;
        status.line(`generated ${result.pages} pages (${megabytes} MB) in ${where} in ${seconds} s`);
      } catch (error) {
        if (stop.signal.aborted) {
          status.line('interrupted: nothing was written');
          process.exitCode = stop.exitCode ?? INTERRUPTED_EXIT_CODE;
          return;
        }
        throw error;
      } finally {
        stop.release();
      }
    });

  bucket
    .command('upload')
    .summary('copy a bucket folder to Cloud Storage')
    .description(
      'upload every file under --from to --to, keeping relative paths as object names (so <from>/webdir/7.html ' +
        'becomes gs://<bucket>/webdir/7.html). Uses Application Default Credentials ' +
        '("gcloud auth application-default login"); honours STORAGE_EMULATOR_HOST.',
    )
    .requiredOption('--from <dir>', 'local bucket folder (e.g. made by "zonelab bucket generate")', existingFolder)
    .requiredOption('--to <gs://bucket[/prefix]>', 'Cloud Storage destination', gcsUrlOption)
    .option('--if-empty', 'upload nothing when the destination already holds an object', false)
    .option('--concurrency <n>', 'uploads in flight at once', integerIn(1, 256), 16)
    .addHelpText('after', examples([['the generated pages to a Cloud Storage bucket', 'zonelab bucket upload --from ./data/bucket --to gs://my-course-bucket']]))
    .action(async (flags: { from: string; to: string; ifEmpty: boolean; concurrency: number }) => {
      const status = createStatusLine();
      const stop = interruptible();
      const started = performance.now();
      try {
        const result = await uploadFolder({
          ...flags,
          signal: stop.signal,
          onProgress: (uploaded, total) => status.update(`uploading: ${uploaded}/${total}`),
        });
        if (result.skipped) {
          status.line(`${flags.to} already holds objects; nothing uploaded`);
          return;
        }
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        status.line(`uploaded ${result.uploaded} files (${(result.bytes / 1e6).toFixed(1)} MB) to ${flags.to} in ${seconds} s`);
      } finally {
        stop.release();
      }
    });
}
