import { Marked } from 'marked';

const CSS = `
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1b1f24; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 28px 0 8px; border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.92em; }
th, td { border: 1px solid #d8dee4; padding: 4px 8px; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
td[align="right"], th[align="right"] { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 0.9em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; padding: 10px 12px; overflow-x: auto; border-radius: 4px; }
blockquote { margin: 8px 0; padding: 8px 12px; border-left: 4px solid #cf222e; background: #fff1f0; }
blockquote p { margin: 0; }
figure.timeline { margin: 8px 0; }
figure.timeline svg { max-width: 100%; height: auto; }
@media print {
  /* Nothing may run past the margin of an A4 or a Letter page: the setup picture and the
     commands get a smaller font and wrap rather than be cut, tables fit the width. */
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  table, pre, figure, blockquote { break-inside: avoid; }
  pre { font-size: 7pt; white-space: pre-wrap; overflow-wrap: anywhere; overflow: visible; }
  table { max-width: 100%; }
  /* A cell may break a long token anywhere; a column's heading keeps its words whole. */
  td { overflow-wrap: anywhere; }
  th { overflow-wrap: normal; }
  code { overflow-wrap: anywhere; }
  figure.timeline svg { width: 100%; }
  a { color: inherit; text-decoration: none; }
}
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/**
 * report.html: report.md as one self-contained page: the timeline's SVG inline instead of
 * linked, the styles inline, no script and nothing fetched from anywhere, so it opens
 * offline, can be mailed or handed in as one file, and prints cleanly. Pure.
 */
export function renderReportHtml(markdown: string, timelineSvg: string, file = 'timeline.svg'): string {
  const title = /^# (.+)$/m.exec(markdown)?.[1] ?? 'zonelab report';
  const body = new Marked({ gfm: true }).parse(markdown, { async: false });
  const svg = timelineSvg.replace(/^<\?xml[^>]*>\s*/, '');
  const name = file.replace(/\./g, '\\.');
  const image = new RegExp(`<p><img src="${name}" alt="([^"]*)"[^>]*></p>|<img src="${name}" alt="([^"]*)"[^>]*>`);
  const inlined = body.replace(image, (_, a, b) => `<figure class="timeline" aria-label="${a ?? b ?? ''}">${svg}</figure>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${inlined}
</main>
</body>
</html>
`;
}
