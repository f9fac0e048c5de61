import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A named readiness check: resolves when the dependency is usable, rejects with why not. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthReport {
  status: 'ok' | 'error';
  checks: Record<string, { status: 'ok' | 'error'; error?: string }>;
}

/** Runs every check in parallel with a timeout each. */
export async function runReadinessChecks(checks: Record<string, ReadinessCheck>, timeoutMs = 2000): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), timeoutMs, `${name} check timed out after ${timeoutMs} ms`);
        return [name, { status: 'ok' as const }] as const;
      } catch (err) {
        return [name, { status: 'error' as const, error: (err as Error).message }] as const;
      }
    }),
  );
  const report = Object.fromEntries(entries);
  return { status: entries.every(([, r]) => r.status === 'ok') ? 'ok' : 'error', checks: report };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/** The probe paths every app serves (the gateway's controller answers the same two). */
export const HEALTH_PATHS = { live: '/health/live', ready: '/health/ready' } as const;

/** What an extra route sees of its request (a route that authenticates reads its headers). */
export interface HealthRouteRequest {
  headers: IncomingHttpHeaders;
}

/** An extra GET route on the health port, such as the scheduler's queue metrics; answers JSON. */
export type HealthRoute = (req: HealthRouteRequest) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;

export interface HealthServer {
  server: Server;
  port: number;
  /** Readiness turns false first when shutting down, so load balancers stop sending work. */
  setShuttingDown(): void;
  close(): Promise<void>;
}

/**
 * Liveness (`/health/live`: the process answers) and readiness (`/health/ready`: its dependencies
 * answer and it is not shutting down) for the headless apps. Same paths as the gateway's.
 */
export async function startHealthServer(
  host: string,
  port: number,
  checks: Record<string, ReadinessCheck>,
  routes: ReadonlyMap<string, HealthRoute> = new Map(),
): Promise<HealthServer> {
  let shuttingDown = false;
  const server = createServer((req, res) => {
    const send = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(code, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { statusCode: 405, message: 'only GET' });
    if (req.url === HEALTH_PATHS.live) return send(200, { status: 'ok' });
    if (req.url === HEALTH_PATHS.ready) {
      if (shuttingDown) return send(503, { status: 'error', checks: { shutdown: { status: 'error', error: 'shutting down' } } });
      runReadinessChecks(checks).then(
        (report) => send(report.status === 'ok' ? 200 : 503, report),
        (err: Error) => send(503, { status: 'error', error: err.message }),
      );
      return;
    }
    const route = routes.get(req.url ?? '');
    if (route) {
      route({ headers: req.headers }).then(
        (r) => send(r.status, r.body, r.headers),
        (err: Error) => send(500, { statusCode: 500, message: `${req.url}: ${err.message}` }),
      );
      return;
    }
    send(404, { statusCode: 404, message: `no route ${req.url}` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    setShuttingDown: () => {
      shuttingDown = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
