/**
 * ONNX Runtime sessions on a thread of their own. onnxruntime-node's `session.run` returns a promise
 * but runs the graph synchronously on the calling thread (it only defers the call with
 * setImmediate), so on the main thread a model call stops the process's Kafka and Redis clients for
 * its whole length: acknowledgements and fetches wait, and the scoring rounds cannot overlap the
 * sends. Here one thread per process hosts every session (a worker keeps many models), takes each
 * call's input by transfer and hands back its outputs by transfer.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';

/** The thread's code, plain CommonJS (an `eval` worker: no loader hooks, nothing to build). */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const sessions = new Map();
parentPort.on('message', async (m) => {
  try {
    if (m.op === 'create') {
      sessions.set(m.id, await ort.InferenceSession.create(m.bytes, m.options));
      parentPort.postMessage({ call: m.call });
    } else if (m.op === 'run') {
      const session = sessions.get(m.id);
      if (!session) throw new Error('onnx thread: no session ' + m.id);
      const x = new ort.Tensor('float32', m.input, m.dims);
      const out = await session.run({ [m.inputName]: x });
      const outputs = m.names.map((name) => {
        const d = out[name].data;
        // A view of the tensor's own memory: copied out whole, its buffer then handed over.
        return d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? d : d.slice();
      });
      parentPort.postMessage({ call: m.call, outputs }, outputs.map((o) => o.buffer));
    } else if (m.op === 'release') {
      const session = sessions.get(m.id);
      sessions.delete(m.id);
      if (session) await session.release();
    }
  } catch (err) {
    parentPort.postMessage({ call: m.call, error: String((err && err.stack) || err) });
  }
});
`;

/** What ONNX Runtime's `InferenceSession.create` takes, as plain data (it crosses threads). */
export type SessionOptions = InferenceSession.SessionOptions;

interface Reply {
  call: number;
  outputs?: Float32Array[];
  error?: string;
}

/** One session on the shared thread. */
export interface ThreadSession {
  run(
    input: Float32Array,
    dims: number[],
    inputName: string,
    names: string[],
  ): Promise<Float32Array[]>;
  release(): void;
}

/**
 * The process's ONNX thread: started with its first session and kept, unreferenced while no call is
 * under way so that it never keeps a finished process alive.
 */
export class OnnxThread {
  private static shared?: OnnxThread;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(r: Reply): void; reject(e: Error): void }>();
  private calls = 0;
  private sessions = 0;
  private failed?: Error;

  private constructor() {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    this.worker = new Worker(THREAD, { eval: true, workerData: { ortPath } });
    this.worker.unref();
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.call);
      if (!p) return;
      this.pending.delete(r.call);
      if (this.pending.size === 0) this.worker.unref();
      if (r.error !== undefined) p.reject(new Error(r.error));
      else p.resolve(r);
    });
    const fail = (err: Error) => {
      this.failed = err;
      if (OnnxThread.shared === this) OnnxThread.shared = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`onnx thread: exited (${code})`)));
  }

  /** A session of `bytes` (an ONNX model) with `options`, on the shared thread. */
  static async session(bytes: Uint8Array, options: SessionOptions): Promise<ThreadSession> {
    const thread = (OnnxThread.shared ??= new OnnxThread());
    const id = ++thread.sessions;
    await thread.call({ op: 'create', id, bytes, options });
    let released = false;
    return {
      run: async (input, dims, inputName, names) =>
        (
          await thread.call({ op: 'run', id, input, dims, inputName, names }, [
            input.buffer as ArrayBuffer,
          ])
        ).outputs!,
      release: () => {
        if (released) return;
        released = true;
        thread.worker.postMessage({ op: 'release', id, call: 0 });
      },
    };
  }

  private call(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failed) return Promise.reject(this.failed);
    const call = ++this.calls;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(call, { resolve, reject });
      this.worker.ref(); // a call under way keeps the process alive until it is answered
      this.worker.postMessage({ ...message, call }, transfer);
    });
  }
}
