/**
 * A request/response worker thread for a service's O(entries) work (the aggregator's release
 * thread; the party's statistics thread follows the same pattern): one thread, started at once,
 * requests answered in order, the thread kept alive only while a request is in flight. A thread
 * that dies fails its pending requests with the reason and is restarted on the next request. An
 * error raised in the thread comes back with its name (a QueryError stays user-facing, see
 * errors.ts), never with its stack.
 *
 * The thread's side: `serveRequests(answer, transferOf)` in the worker's entry file.
 */
import { parentPort, Worker, type Transferable } from 'node:worker_threads';

/** An error raised in a worker thread, with the name it had there. */
export class ThreadError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

type Reply = { id: number; ok: unknown } | { id: number; error: string; errorName: string };

export class RequestThread<Req extends object> {
  readonly #url: URL;
  readonly #data: unknown;
  readonly #what: string;
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  #closed = false;

  /** `what` names the thread in errors ("the release thread"). */
  constructor(url: URL, workerData: unknown, what: string) {
    this.#url = url;
    this.#data = workerData;
    this.#what = what;
    this.#start();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(this.#url, { workerData: this.#data });
    worker.unref();
    worker.on('message', (res: Reply) => {
      const p = this.#pending.get(res.id);
      if (!p) return;
      this.#pending.delete(res.id);
      if ('error' in res) p.reject(new ThreadError(res.errorName, res.error));
      else p.resolve(res.ok);
    });
    const fail = (why: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(new Error(`${this.#what} stopped: ${why}`));
      this.#pending.clear();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  /** Sends one request (its `transfer` buffers are moved, not copied) and waits for the answer. */
  call<T>(req: Req, transfer: Transferable[] = []): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this.#what} is closed`));
    const worker = this.#start();
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      worker.ref(); // a request in flight keeps the process alive
      worker.postMessage({ id, req }, transfer);
    }).finally(() => {
      if (this.#pending.size === 0) this.#worker?.unref();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error(`${this.#what} is closed`));
    this.#pending.clear();
    if (w) await w.terminate();
  }
}

/**
 * The worker's side: answers each request with `answer`, in order, moving the buffers
 * `transferOf` picks from the answer instead of copying them.
 */
export function serveRequests<Req, Res>(answer: (req: Req) => Res, transferOf: (res: Res) => ArrayBuffer[] = () => []): void {
  const port = parentPort;
  if (!port) throw new Error('serveRequests runs in a worker thread');
  port.on('message', ({ id, req }: { id: number; req: Req }) => {
    let reply: Reply;
    let transfer: ArrayBuffer[] = [];
    try {
      const ok = answer(req);
      reply = { id, ok };
      transfer = transferOf(ok);
    } catch (e) {
      reply = { id, error: e instanceof Error ? e.message : String(e), errorName: e instanceof Error ? e.name : 'Error' };
    }
    port.postMessage(reply, transfer);
  });
}
