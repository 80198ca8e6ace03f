import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { prometheusContentType } from 'prom-client';
import { withTimeout } from '../util/timeout.js';
import type { Readiness } from './readiness.js';

/** Anything that renders metrics with its content type, such as a prom-client Registry. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface HttpServerOptions {
  /** Bind address (config.http.host); containers set `0.0.0.0`. */
  host: string;
  /** Port (config.http.port); 0 picks a free one (see `HttpServer.port`). */
  port: number;
  /** What `/metrics` serves: a metrics registry. */
  metricsRegistry?: MetricsSource;
  /** Alternatively, a function producing the exposition text (served as `contentType`). */
  metricsSource?: () => Promise<string>;
  /** Content type for `metricsSource`. Default Prometheus text format 0.0.4. */
  contentType?: string;
  /** Readiness for `/readyz`. Default: always ready. */
  ready?: () => Promise<Readiness>;
  /** `/readyz` answers 503 when `ready()` takes longer than this, in ms. Default 5000. */
  readyTimeoutMs?: number;
}

export interface HttpServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  readonly host: string;
  /** `http://host:port`. */
  readonly url: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * The HTTP endpoints of every seqae process, on node:http alone:
 * - `GET /metrics`: Prometheus text format;
 * - `GET /healthz`: `200 ok` while the event loop turns (training runs in child processes, so
 *   this answers during training);
 * - `GET /readyz`: `200` when connected and ready to take work, else `503` with the reason (JSON);
 * - anything else: 404 (405 for other methods on these paths).
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { host, metricsRegistry, metricsSource } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? 5000;
  if (metricsRegistry && metricsSource)
    throw new Error('give either metricsRegistry or metricsSource, not both');
  const render = metricsRegistry
    ? () => metricsRegistry.metrics()
    : (metricsSource ?? (async () => ''));
  const contentType = metricsRegistry?.contentType ?? options.contentType ?? prometheusContentType;
  const ready = options.ready ?? (async () => ({ ok: true }));

  const routes: Record<string, (res: ServerResponse) => Promise<void>> = {
    '/metrics': async (res) => {
      send(res, 200, contentType, await render());
    },
    '/healthz': async (res) => {
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    },
    '/readyz': async (res) => {
      let readiness: Readiness;
      try {
        readiness = await withTimeout(ready(), readyTimeoutMs, 'readiness check');
      } catch (error) {
        readiness = { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
      send(
        res,
        readiness.ok ? 200 : 503,
        'application/json; charset=utf-8',
        `${JSON.stringify({ status: readiness.ok ? 'ready' : 'not ready', ...readiness })}\n`,
      );
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = routes[path];
    if (!route) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    route(res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      send(res, 500, 'text/plain; charset=utf-8', `${String(error)}\n`);
    });
  });
  server.keepAliveTimeout = 65_000; // longer than Prometheus' idle timeout: no reset connections

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      // The code (EADDRINUSE, EACCES) stays on the error: a taken port is the user's to fix.
      reject(
        Object.assign(new Error(`cannot listen on ${host}:${options.port}: ${error.message}`), {
          code: error.code,
        }),
      ),
    );
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    port,
    host,
    url: `http://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
