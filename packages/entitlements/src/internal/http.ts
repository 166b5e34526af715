import { WorkerRejected, WorkerUnavailable } from "../errors.js";

/**
 * One request to the worker (with the API key when given), answering the parsed JSON body of a
 * 200, or undefined when the body is not JSON or exceeds `maxBytes`. A network error, a timeout
 * or a 5xx/408/429 is `WorkerUnavailable`; any other status is `WorkerRejected` with the problem
 * document. `what` names the request in messages.
 */
export async function requestJson(doFetch: typeof fetch, url: string, init: { apiKey?: string; timeout: number; maxBytes: number; body?: string }, what: string): Promise<unknown> {
  let res: Response;
  let text: string;
  try {
    res = await doFetch(url, {
      method: init.body === undefined ? "GET" : "POST",
      headers: {
        ...(init.apiKey !== undefined && { authorization: `Bearer ${init.apiKey}` }),
        accept: "application/json",
        ...(init.body !== undefined && { "content-type": "application/json" }),
      },
      ...(init.body !== undefined && { body: init.body }),
      signal: AbortSignal.timeout(init.timeout),
    });
    text = await res.text();
  } catch (cause) {
    throw new WorkerUnavailable(`${what} failed`, { cause });
  }
  let body: unknown;
  try {
    body = text.length <= init.maxBytes ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.status !== 200) {
    const problem = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : undefined;
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      throw new WorkerUnavailable(`${what} failed with HTTP ${res.status}`, { status: res.status });
    }
    const title = typeof problem?.title === "string" ? `: ${problem.title}` : "";
    throw new WorkerRejected(`${what} rejected with HTTP ${res.status}${title}`, res.status, problem);
  }
  return body;
}
