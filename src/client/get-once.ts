import type { Dispatcher } from 'undici';

export interface GetAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The server's reason phrase, when it sent one. */
  statusMessage: string;
  bytes: number;
}

/**
 * One GET through undici's low-level `dispatch`: the body is counted and dropped as it
 * arrives instead of going through a stream object, which is most of what a response costs
 * a load generator. Rejects with undici's error (connect refused, reset, timeout …).
 */
export function getOnce(
  dispatcher: Dispatcher,
  options: { origin: string; path: string; headers: Record<string, string>; reset: boolean },
): Promise<GetAnswer> {
  return new Promise((resolve, reject) => {
    let answer: GetAnswer | null = null;
    dispatcher.dispatch(
      { origin: options.origin, path: options.path, method: 'GET', headers: options.headers, reset: options.reset },
      {
        // undici takes a handler for its current interface only when it has this method.
        onRequestStart() {},
        onResponseStart(_controller, status, headers, statusMessage) {
          answer = { status, headers, statusMessage: statusMessage ?? '', bytes: 0 };
        },
        onResponseData(_controller, chunk) {
          if (answer) answer.bytes += chunk.length;
        },
        onResponseEnd() {
          if (answer) resolve(answer);
          else reject(new Error('response ended without a status'));
        },
        onResponseError(_controller, error) {
          reject(error);
        },
      },
    );
  });
}
