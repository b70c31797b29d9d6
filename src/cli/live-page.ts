import type { ExperimentWatcher } from '../failover/index.js';
import { createFailoverFeed, exposureWarning, type LiveServer, startLiveServer } from '../web/index.js';
import { type WebFlag, webAddress } from './option-parsers.js';

/**
 * The live page of one failover run, started before the run (a busy port stops nothing)
 * and finished after it: the page shows the result and the report, and the command ends
 * once every attached page has received them.
 */
export async function openLivePage(
  flag: Exclude<WebFlag, undefined>,
  options: Parameters<typeof createFailoverFeed>[0],
): Promise<{ watcher: ExperimentWatcher; finish: (done: { lines: string[]; reportHtml: string | null }) => Promise<void> }> {
  const { feed, watcher } = createFailoverFeed(options);
  const address = webAddress(flag);
  let server: LiveServer;
  try {
    server = await startLiveServer({ feed, ...address });
  } catch (error) {
    feed.close();
    throw error;
  }
  const warning = exposureWarning(address.host);
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  console.log(`live page: ${server.url}`);
  return {
    watcher,
    async finish(done) {
      if (!feed.finished) feed.done(done);
      await server.drain();
      await server.close();
      feed.close();
    },
  };
}
