import { existsSync } from 'node:fs';
import { connect } from 'node:net';

export interface ServiceUrls {
  /** A Postgres URL whose user may create databases; its database part is replaced per test file. */
  postgresUrl: string;
  redisUrl: string;
}

let resolved: Promise<ServiceUrls> | undefined;

/**
 * Where the tests' Postgres and Redis are: DATABASE_URL / REDIS_URL when set, else the local
 * services on 127.0.0.1 when they answer, else containers started with testcontainers when a
 * Docker engine is there, else an error that says what to start.
 */
export function resolveServices(): Promise<ServiceUrls> {
  resolved ??= resolve();
  return resolved;
}

async function resolve(): Promise<ServiceUrls> {
  let postgresUrl = process.env['DATABASE_URL'];
  let redisUrl = process.env['REDIS_URL'];
  if (!postgresUrl && (await reachable('127.0.0.1', 5432))) postgresUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
  if (!redisUrl && (await reachable('127.0.0.1', 6379))) redisUrl = 'redis://127.0.0.1:6379';
  if (postgresUrl && redisUrl) return { postgresUrl, redisUrl };
  if (!hasDocker()) {
    throw new Error(
      'tests need Postgres and Redis: set DATABASE_URL and REDIS_URL, or start them on 127.0.0.1:5432 ' +
        '(user postgres, trust auth) and 127.0.0.1:6379, or run a Docker engine for testcontainers',
    );
  }
  const tc = await import('testcontainers');
  if (!postgresUrl) {
    const pg = await new tc.GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    postgresUrl = `postgres://postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/postgres`;
  }
  if (!redisUrl) {
    const redis = await new tc.GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
  }
  return { postgresUrl, redisUrl };
}

function hasDocker(): boolean {
  return Boolean(process.env['DOCKER_HOST']) || existsSync('/var/run/docker.sock');
}

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
