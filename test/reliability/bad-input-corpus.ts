/**
 * Requests a hostile or broken client sends, as raw bytes, each with what the server must
 * answer: one of `statuses`, or (when `closeAllowed`) closing the connection without an
 * answer. Every request without a body asks for `Connection: close`, so an answered case
 * ends when the server closes.
 */
export interface BadInputCase {
  name: string;
  bytes: string | Buffer;
  /** Statuses of the first response that are right. */
  statuses: number[];
  /** Closing without any response is also right (bytes no HTTP server could answer). */
  closeAllowed?: boolean;
  /** Further checks on the raw response. */
  check?: (raw: string) => string | null;
}

const CLOSE = 'Connection: close';

/** A request line with a Host header and Connection: close. */
export function request(line: string, headers: string[] = []): string {
  return `${line}\r\n${['Host: t', ...headers, CLOSE].join('\r\n')}\r\n\r\n`;
}

const get = (target: string, headers: string[] = []) => request(`GET ${target} HTTP/1.1`, headers);

/** The server refused without serving: no page body, no secret. */
const NOT_SERVED = [400, 404];

function noHeader(name: string): (raw: string) => string | null {
  return (raw) => (new RegExp(`\\r\\n${name}:`, 'i').test(raw.split('\r\n\r\n')[0] ?? '') ? `the response carries an injected ${name} header` : null);
}

function countResponses(expected: number, status: number): (raw: string) => string | null {
  return (raw) => {
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    return statuses.length === expected && statuses.every((s) => s === status) ? null : `expected ${expected}× ${status}, got ${statuses.join(', ') || 'none'}`;
  };
}

export const BAD_INPUT_CASES: BadInputCase[] = [
  // Path traversal, spelled every way a client might.
  { name: 'traversal ../', bytes: get('/bucket/../secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal from a subfolder', bytes: get('/bucket/webdir/../../secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal %2e%2e', bytes: get('/bucket/%2e%2e/secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal %2E%2E', bytes: get('/bucket/%2E%2E/secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal .%2e', bytes: get('/bucket/.%2e/secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal ..%2f', bytes: get('/bucket/..%2fsecret.txt'), statuses: NOT_SERVED },
  { name: 'traversal ..%2F', bytes: get('/bucket/..%2Fsecret.txt'), statuses: NOT_SERVED },
  { name: 'traversal %2e%2e%2f', bytes: get('/bucket/%2e%2e%2fsecret.txt'), statuses: NOT_SERVED },
  { name: 'traversal ..%5c (backslash)', bytes: get('/bucket/..%5csecret.txt'), statuses: NOT_SERVED },
  { name: 'traversal ..\\ raw backslash', bytes: get('/bucket/..\\secret.txt'), statuses: NOT_SERVED, closeAllowed: true },
  { name: 'traversal double-encoded %252e%252e', bytes: get('/bucket/%252e%252e/secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal overlong UTF-8 %c0%ae', bytes: get('/bucket/%c0%ae%c0%ae/secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal ./../', bytes: get('/bucket/./../secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal //../', bytes: get('/bucket//../secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal above the root', bytes: get('/../secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal ..;/', bytes: get('/bucket/webdir/..;/..;/secret.txt'), statuses: NOT_SERVED },
  { name: 'traversal ....//', bytes: get('/bucket/webdir/....//secret.txt'), statuses: NOT_SERVED },
  { name: 'absolute file path', bytes: get('/etc/passwd'), statuses: NOT_SERVED },
  { name: 'double slash absolute path', bytes: get('//etc/passwd'), statuses: NOT_SERVED },
  { name: 'bucket-relative /etc/passwd', bytes: get('/bucket/%2fetc%2fpasswd'), statuses: NOT_SERVED },
  { name: 'NUL byte encoded', bytes: get('/bucket/webdir/0.html%00.txt'), statuses: NOT_SERVED },
  { name: 'traversal in the query', bytes: get('/bucket/webdir/0.html?f=../../secret.txt'), statuses: [200] },
  // Percent-encoding that does not decode.
  { name: 'bad escape %zz', bytes: get('/bucket/webdir/%zz.html'), statuses: [400] },
  { name: 'lone %', bytes: get('/bucket/webdir/%.html'), statuses: [400] },
  { name: 'short escape %4', bytes: get('/bucket/webdir/%4.html'), statuses: [400] },
  { name: 'trailing %', bytes: get('/bucket/webdir/0.html%'), statuses: [400] },
  { name: 'invalid UTF-8 %ff', bytes: get('/bucket/webdir/%ff.html'), statuses: NOT_SERVED },
  // Too long.
  { name: 'target over 8 KiB', bytes: get(`/bucket/webdir/${'a'.repeat(9000)}.html`), statuses: [414] },
  { name: 'target of 100 KiB', bytes: get(`/bucket/${'a'.repeat(100_000)}`), statuses: [414, 431], closeAllowed: true },
  { name: 'header value of 20 KiB', bytes: get('/bucket/webdir/0.html', [`X-Big: ${'b'.repeat(20_000)}`]), statuses: [431], closeAllowed: true },
  { name: '300 headers', bytes: get('/bucket/webdir/0.html', Array.from({ length: 300 }, (_, i) => `X-H${i}: ${'v'.repeat(60)}`)), statuses: [431], closeAllowed: true },
  { name: 'header name of 20 KiB', bytes: get('/bucket/webdir/0.html', [`X-${'n'.repeat(20_000)}: v`]), statuses: [431], closeAllowed: true },
  // Header injection and malformed headers.
  { name: 'CRLF injected through the path', bytes: get('/bucket/webdir/0.html%0d%0aSet-Cookie:%20x=1'), statuses: NOT_SERVED, check: noHeader('Set-Cookie') },
  { name: 'bare CR in a header value', bytes: get('/bucket/webdir/0.html', ['X-country: Iran\rX-Injected: 1']), statuses: [400], closeAllowed: true },
  { name: 'bare LF in a header value', bytes: `GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\nX-A: 1\nX-country: Iran\r\n${CLOSE}\r\n\r\n`, statuses: [200, 400], closeAllowed: true },
  { name: 'NUL in a header value', bytes: get('/bucket/webdir/0.html', ['X-country: Ir\0an']), statuses: [400], closeAllowed: true },
  { name: 'space before the colon', bytes: get('/bucket/webdir/0.html', ['X-country : Iran']), statuses: [400], closeAllowed: true },
  { name: 'obsolete line folding', bytes: get('/bucket/webdir/0.html', ['X-A: 1', ' folded']), statuses: [400], closeAllowed: true },
  { name: 'header without a colon', bytes: get('/bucket/webdir/0.html', ['NoColonHere']), statuses: [400], closeAllowed: true },
  { name: 'Content-Length and Transfer-Encoding together', bytes: `GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n${CLOSE}\r\n\r\n0\r\n\r\n`, statuses: [400], closeAllowed: true },
  { name: 'two different Content-Lengths', bytes: `GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n${CLOSE}\r\n\r\nab`, statuses: [400], closeAllowed: true },
  { name: 'negative Content-Length', bytes: get('/bucket/webdir/0.html', ['Content-Length: -1']), statuses: [400], closeAllowed: true },
  { name: 'unknown Transfer-Encoding', bytes: get('/bucket/webdir/0.html', ['Transfer-Encoding: gzip']), statuses: [400, 501], closeAllowed: true },
  { name: 'HTTP/1.1 without Host', bytes: `GET /bucket/webdir/0.html HTTP/1.1\r\n${CLOSE}\r\n\r\n`, statuses: [400] },
  { name: 'forbidden country hidden in a list', bytes: get('/bucket/webdir/0.html', ['X-country: France, iran']), statuses: [400], check: (raw) => (/x-event-id: /i.test(raw) ? null : 'no X-Event-Id on a refusal') },
  { name: 'forbidden country in a second header', bytes: get('/bucket/webdir/0.html', ['X-country: France', 'X-country: Iran']), statuses: [400] },
  // Methods.
  { name: 'lower-case get', bytes: request('get /bucket/webdir/0.html HTTP/1.1'), statuses: [400, 501], closeAllowed: true },
  { name: 'mixed-case Get', bytes: request('Get /bucket/webdir/0.html HTTP/1.1'), statuses: [400, 501], closeAllowed: true },
  { name: 'unknown method FOO', bytes: request('FOO /bucket/webdir/0.html HTTP/1.1'), statuses: [400, 501], closeAllowed: true },
  { name: 'POST with a body', bytes: `POST /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n${CLOSE}\r\n\r\nhello`, statuses: [501] },
  { name: 'PUT', bytes: request('PUT /bucket/webdir/0.html HTTP/1.1', ['Content-Length: 0']), statuses: [501] },
  { name: 'DELETE', bytes: request('DELETE /bucket/webdir/0.html HTTP/1.1'), statuses: [501] },
  { name: 'OPTIONS *', bytes: request('OPTIONS * HTTP/1.1'), statuses: [501] },
  { name: 'TRACE', bytes: request('TRACE /bucket/webdir/0.html HTTP/1.1'), statuses: [501] },
  { name: 'CONNECT', bytes: request('CONNECT example.com:443 HTTP/1.1'), statuses: [400, 405, 501] },
  { name: 'method with a space inside', bytes: request('GE T /bucket/webdir/0.html HTTP/1.1'), statuses: [400], closeAllowed: true },
  { name: 'HEAD (501, as the assignment says) has no body', bytes: request('HEAD /bucket/webdir/0.html HTTP/1.1'), statuses: [501], check: (raw) => (raw.split('\r\n\r\n')[1] === '' ? null : 'HEAD answered with a body') },
  // Protocol versions.
  { name: 'HTTP/1.0 without Host', bytes: 'GET /bucket/webdir/0.html HTTP/1.0\r\n\r\n', statuses: [200] },
  { name: 'HTTP/1.0 forbidden country', bytes: 'GET /bucket/webdir/0.html HTTP/1.0\r\nX-country: Iran\r\n\r\n', statuses: [400] },
  { name: 'HTTP/0.9 request line', bytes: 'GET /bucket/webdir/0.html\r\n\r\n', statuses: [400, 505], closeAllowed: true },
  { name: 'HTTP/2.0 in the request line', bytes: request('GET /bucket/webdir/0.html HTTP/2.0'), statuses: [505] },
  { name: 'HTTP/3.0 in the request line', bytes: request('GET /bucket/webdir/0.html HTTP/3.0'), statuses: [400, 505], closeAllowed: true },
  { name: 'HTTP/2 connection preface', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', statuses: [400, 505], closeAllowed: true },
  { name: 'version spelled http/1.1', bytes: request('GET /bucket/webdir/0.html http/1.1'), statuses: [400], closeAllowed: true },
  // Pipelining.
  { name: 'two pipelined GETs', bytes: `GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\n\r\n${get('/bucket/webdir/1.html')}`, statuses: [200], check: countResponses(2, 200) },
  { name: 'ten pipelined GETs', bytes: `${'GET /bucket/webdir/2.html HTTP/1.1\r\nHost: t\r\n\r\n'.repeat(9)}${get('/bucket/webdir/3.html')}`, statuses: [200], check: countResponses(10, 200) },
  { name: 'a GET pipelined before garbage', bytes: 'GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\n\r\n\x01\x02garbage\r\n\r\n', statuses: [200], check: (raw) => (/HTTP\/1\.1 400/.test(raw.slice(12)) ? null : 'the garbage after the first request was not answered 400') },
  { name: 'a forbidden GET pipelined after an allowed one', bytes: `GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\n\r\n${get('/bucket/webdir/1.html', ['X-country: North Korea'])}`, statuses: [200], check: (raw) => (/HTTP\/1\.1 400[\s\S]*x-event-id/i.test(raw) ? null : 'the second request was not refused with an event id') },
  // Absolute-form targets.
  { name: 'absolute-form target', bytes: get('http://t/bucket/webdir/0.html'), statuses: [200] },
  { name: 'absolute-form target with traversal', bytes: get('http://t/bucket/../secret.txt'), statuses: NOT_SERVED },
  { name: 'absolute-form file URL', bytes: get('file:///etc/passwd'), statuses: NOT_SERVED },
  // Garbage.
  { name: 'a request line of garbage', bytes: 'HELLO THERE\r\n\r\n', statuses: [400], closeAllowed: true },
  { name: 'binary bytes', bytes: Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]), statuses: [400], closeAllowed: true },
  { name: 'a TLS ClientHello', bytes: Buffer.from('160301002a0100002603035b', 'hex'), statuses: [400], closeAllowed: true },
  { name: 'a space as the target', bytes: request('GET   HTTP/1.1'), statuses: [400], closeAllowed: true },
  { name: 'spaces inside the target', bytes: request('GET /bucket/web dir/0.html HTTP/1.1'), statuses: [400], closeAllowed: true },
  { name: 'raw non-ASCII bytes in the target', bytes: Buffer.concat([Buffer.from('GET /bucket/webdir/'), Buffer.from([0xc3, 0xa9, 0xff]), Buffer.from(` HTTP/1.1\r\nHost: t\r\n${CLOSE}\r\n\r\n`)]), statuses: NOT_SERVED, closeAllowed: true },
  { name: 'empty lines before a request', bytes: `\r\n\r\n${get('/bucket/webdir/0.html')}`, statuses: [200, 400], closeAllowed: true },
  { name: 'a GET with a chunked body', bytes: `GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n${CLOSE}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, statuses: [200] },
  { name: 'a GET with Expect: 100-continue', bytes: get('/bucket/webdir/0.html', ['Expect: 100-continue']), statuses: [100, 200, 417] },
];
