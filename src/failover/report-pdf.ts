import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ZonelabError } from '../errors.js';

/** Where Debian (and most distributions) put Chromium or Chrome. */
const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** Flags for a Chromium that talks to nothing but the page it is given. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The local Chromium, or null when none is installed. */
export function findChromium(): string | null {
  return CHROMIUM_PATHS.find((path) => existsSync(path)) ?? null;
}

/**
 * A PDF of a report page: `report.pdf` from a run or trials folder's `report.html`, or
 * `<name>.pdf` beside the page given (`matrix.html`). Printed by a local Chromium (through
 * playwright-core, loaded only here) on A4 unless `format` says Letter. Every request the
 * page would make to anywhere is refused, so the PDF shows exactly the self-contained page.
 * Resolves with the PDF's path.
 */
export async function writeReportPdf(dirOrPage: string, chromium: string | null = findChromium(), format: 'A4' | 'Letter' = 'A4'): Promise<string> {
  if (!chromium) {
    throw new ZonelabError('E_NO_CHROMIUM', 'writing a PDF needs Chromium: install it with "apt-get install -y chromium" (report.html prints from any browser too)');
  }
  const html = dirOrPage.endsWith('.html') ? dirOrPage : join(dirOrPage, 'report.html');
  const dir = dirname(html);
  if (!existsSync(html)) throw new ZonelabError('E_NO_RUN', `${html} is missing: run "zonelab report ${dir}" first`);
  const { chromium: launcher } = await import('playwright-core');
  const browser = await launcher.launch({ executablePath: chromium, args: CHROMIUM_FLAGS, headless: true });
  try {
    const page = await browser.newPage();
    await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    const pdf = join(dir, `${basename(html, '.html')}.pdf`);
    await page.pdf({ path: pdf, format, printBackground: true, margin: { top: '12mm', bottom: '12mm', left: '10mm', right: '10mm' } });
    return pdf;
  } finally {
    await browser.close();
  }
}
