import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { envSchema, loadEnv } from '@medfusion/config';
import { startHealthServer } from '@medfusion/runtime';
import { APP_PORT_VAR, type App } from './app-ports.js';

/*
 * No Docker engine runs here, so the images cannot be built: these checks read the Dockerfiles,
 * docker-compose files and .env.example and hold them against the repository and the code.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const APPS = readdirSync(join(ROOT, 'apps')).sort() as App[];
const SCHEMA_KEYS = new Set(Object.keys(envSchema.shape));
const SCHEMA_DEFAULTS = loadEnv({});

interface Instruction {
  op: string;
  args: string;
  stage: string;
  line: number;
}

/** Instructions with continuation lines joined and comments dropped, each tagged with its stage. */
function parseDockerfile(text: string): { instructions: Instruction[]; args: Record<string, string> } {
  const instructions: Instruction[] = [];
  const args: Record<string, string> = {};
  let stage = '';
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) start = i + 1;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) return;
    const [op, ...rest] = pending.split(/\s+/);
    const ins = { op: op!.toUpperCase(), args: rest.join(' '), stage, line: start };
    if (ins.op === 'FROM') stage = ins.args.split(/\s+AS\s+/i)[1] ?? ins.args;
    ins.stage = stage;
    if (ins.op === 'ARG' && !stage) {
      const [name, value] = ins.args.split('=');
      args[name!] = value ?? '';
    }
    instructions.push(ins);
    pending = '';
  });
  return { instructions, args };
}

/** .dockerignore as Docker reads it: globs from the context root, `**` any depth, `!` re-includes. */
function dockerIgnored(path: string): boolean {
  const rules = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let ignored = false;
  const parts = path.split('/');
  for (const rule of rules) {
    const negate = rule.startsWith('!');
    const glob = negate ? rule.slice(1) : rule;
    const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(.*/)?').replace(/\*\*/g, '.*').replace(/(?<!\.)\*/g, '[^/]*')}$`);
    // A rule on a folder covers everything under it.
    if (parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')))) ignored = !negate;
  }
  return ignored;
}

const DOCKERFILES = { slim: 'deploy/docker/Dockerfile', gpu: 'deploy/docker/gpu-worker.Dockerfile' } as const;
const parsed = { slim: parseDockerfile(read(DOCKERFILES.slim)), gpu: parseDockerfile(read(DOCKERFILES.gpu)) };
const lastStage = (p: { instructions: Instruction[] }) => p.instructions.filter((i) => i.stage === p.instructions.at(-1)!.stage);
const execArgs = (args: string) => JSON.parse(args.replace(/^CMD\s+/, '')) as string[];

describe.each(Object.entries(DOCKERFILES))('%s image (%s)', (kind) => {
  const p = parsed[kind as keyof typeof parsed];

  it('copies only files that exist in the repository and are in the build context', () => {
    const copies = p.instructions.filter((i) => (i.op === 'COPY' || i.op === 'ADD') && !/--from=/.test(i.args));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const words = c.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const source of words.slice(0, -1)) {
        expect({ line: c.line, source, exists: existsSync(join(ROOT, source)) }).toEqual({ line: c.line, source, exists: true });
        expect({ line: c.line, source, ignored: dockerIgnored(source) }).toEqual({ line: c.line, source, ignored: false });
      }
    }
    // Everything `npm run build` compiles is in the context (tsconfig.build.json's references).
    const refs = (JSON.parse(read('tsconfig.build.json')) as { references: { path: string }[] }).references.map((r) => r.path);
    const copied = copies.flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    for (const ref of refs) expect({ ref, copied: copied.some((s) => ref === s || ref.startsWith(`${s.replace(/\/$/, '')}/`)) }).toEqual({ ref, copied: true });
  });

  it('installs from the lock file and builds with the root build script', () => {
    const runs = p.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    const ci = runs.findIndex((r) => r.includes('npm ci'));
    const build = runs.findIndex((r) => r.includes('npm run build'));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(build).toBeGreaterThanOrEqual(ci);
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.build).toBeDefined();
  });

  it('runs as a non-root user created in the final stage', () => {
    const final = lastStage(p);
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(final.some((i) => i.op === 'RUN' && new RegExp(`useradd .*\\b${user}$|useradd .*\\b${user}\\s`).test(i.args))).toBe(true);
  });

  it('starts the entry point that `npm run build` produces for each app it serves', () => {
    const final = lastStage(p);
    const cmd = execArgs(final.filter((i) => i.op === 'CMD').at(-1)!.args).join(' ');
    const served: App[] = kind === 'gpu' ? ['gpu-worker'] : APPS;
    for (const app of served) {
      // MEDFUSION_APP is the APP build argument (ENV MEDFUSION_APP=${APP}) in the slim image.
      const env = final.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
      const name = /MEDFUSION_APP=(\S+)/.exec(env)![1]!.replace('${APP}', app);
      const entry = /node (\S+main\.js)/.exec(cmd)![1]!.replace('${MEDFUSION_APP}', name);
      expect(entry).toBe(`apps/${app}/dist/main.js`);
      // The app's compiler settings put src/main.ts at dist/main.js.
      const tsconfig = JSON.parse(read(`apps/${app}/tsconfig.json`)) as { compilerOptions: { rootDir: string; outDir: string } };
      expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
      expect(existsSync(join(ROOT, `apps/${app}/src/main.ts`))).toBe(true);
      const built = join(ROOT, entry);
      if (existsSync(join(ROOT, `apps/${app}/dist`))) expect(statSync(built).isFile()).toBe(true);
    }
  });

  it('checks health with the script the repository tests, on a Node that satisfies engines', () => {
    const final = lastStage(p);
    expect(execArgs(final.find((i) => i.op === 'HEALTHCHECK')!.args.replace(/^.*?CMD\s+/, ''))).toEqual(['node', 'deploy/docker/healthcheck.mjs']);
    expect(final.some((i) => i.op === 'COPY' && i.args.startsWith('deploy/docker/healthcheck.mjs '))).toBe(true);
    const [, major, minor] = /^node:(\d+)\.(\d+)/.exec(p.args.NODE_IMAGE!)!;
    const [, wantMajor, wantMinor] = /(\d+)\.(\d+)/.exec((JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node)!;
    expect(Number(major)).toBe(Number(wantMajor));
    expect(Number(minor)).toBeGreaterThanOrEqual(Number(wantMinor));
  });
});

describe('gpu-worker image', () => {
  it('runs on the CUDA 11.8 + cuDNN 8 runtime that tfjs-node-gpu 4.22 (libtensorflow 2.9, CUDA 11.x) loads', () => {
    const pkg = JSON.parse(read('package.json')) as { optionalDependencies: Record<string, string> };
    expect(pkg.optionalDependencies['@tensorflow/tfjs-node-gpu']).toBe('4.22.0');
    expect(parsed.gpu.args.CUDA_IMAGE).toBe('nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04');
    const froms = parsed.gpu.instructions.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms.at(-1)).toBe('${CUDA_IMAGE}');
    const text = read(DOCKERFILES.gpu);
    expect(text).toMatch(/tfjs-node-gpu 4\.22/);
    expect(text).toMatch(/CUDA 11\.8 \+ cuDNN 8/);
    // The build fails if npm silently dropped the GPU binding (an optional dependency).
    expect(parsed.gpu.instructions.some((i) => i.op === 'RUN' && i.args.includes('npm ci') && i.args.includes('tfjs-node-gpu'))).toBe(true);
  });
});

/** Runs deploy/docker/healthcheck.mjs as the images do; resolves with its exit code and output. */
function runHealthcheck(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'deploy/docker/healthcheck.mjs')], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('deploy/docker/healthcheck.mjs (needs `npm run build`: it loads the built libs)', () => {
  it.each(Object.keys(APP_PORT_VAR) as App[])('reports %s healthy on its own port and readiness path, and unhealthy when not ready', async (app) => {
    let ready = true;
    const server = await startHealthServer('127.0.0.1', 0, {
      deps: async () => {
        if (!ready) throw new Error('postgres down');
      },
    });
    try {
      const env = { MEDFUSION_APP: app, [APP_PORT_VAR[app]]: String(server.port) };
      const ok = await runHealthcheck(env);
      expect(ok).toEqual({ code: 0, output: '' });
      ready = false;
      const down = await runHealthcheck(env);
      expect(down.code).toBe(1);
      expect(down.output).toContain('503');
    } finally {
      await server.close();
    }
  });

  it('refuses an unknown app and an invalid environment with exit code 2', async () => {
    expect(await runHealthcheck({ MEDFUSION_APP: 'nope' })).toMatchObject({ code: 2 });
    const bad = await runHealthcheck({ MEDFUSION_APP: 'scheduler', SCHEDULER_HEALTH_PORT: 'abc' });
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('SCHEDULER_HEALTH_PORT');
  });
});

/* ------------------------------------------------------------------ compose and .env.example */

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  env_file?: string[];
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  container_name?: string;
  deploy?: { resources?: { reservations?: { devices?: { driver: string; capabilities: string[] }[] } } };
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
const composeGpu = parse(read('docker-compose.gpu.yml'), { merge: true }) as { services: Record<string, ComposeService> };

/** .env.example: name -> value for set lines, name -> undefined for commented `# NAME=` lines. */
function envExample(): Map<string, string | undefined> {
  const listed = new Map<string, string | undefined>();
  for (const line of read('.env.example').split('\n')) {
    const set = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    const commented = /^#\s*([A-Z][A-Z0-9_]*)=/.exec(line);
    if (set) listed.set(set[1]!, set[2]!);
    else if (commented && !listed.has(commented[1]!)) listed.set(commented[1]!, undefined);
  }
  return listed;
}
const COMPOSE_TEXT = read('docker-compose.yml') + read('docker-compose.gpu.yml');
const COMPOSE_VARIABLES = new Set([...COMPOSE_TEXT.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));

/** Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against the given variables (nested defaults too). */
function interpolate(text: string, vars: Map<string, string | undefined>): string {
  let out = text;
  for (let guard = 0; guard < 10 && out.includes('${'); guard++) {
    out = out.replace(/\$\{([A-Z][A-Z0-9_]*)(?::([-?])((?:[^{}]|\{[^{}]*\})*))?\}/g, (_, name: string, op?: string, rest?: string) => {
      const value = vars.get(name);
      if (value) return value;
      if (op === '-') return rest ?? '';
      if (op === '?') throw new Error(`compose needs ${name}: ${rest}`);
      return '';
    });
  }
  return out;
}
const parseDuration = (d: string) => {
  const m = /^(\d+)(s|m)$/.exec(d);
  if (!m) throw new Error(`unexpected duration ${d}`);
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : 1000);
};

describe('docker-compose.yml', () => {
  it('runs postgres, redis and every app, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['postgres', 'redis', ...APPS].sort());
    for (const [name, s] of Object.entries(compose.services)) expect({ name, healthcheck: Array.isArray(s.healthcheck?.test) }).toEqual({ name, healthcheck: true });
  });

  it('builds each app from its Dockerfile, checks it with the tested healthcheck script and starts it after healthy dependencies', () => {
    for (const app of APPS) {
      const s = compose.services[app]!;
      expect(existsSync(join(ROOT, s.build!.dockerfile))).toBe(true);
      expect(s.build!.args?.APP).toBe(app);
      expect(s.healthcheck!.test).toEqual(['CMD', 'node', 'deploy/docker/healthcheck.mjs']);
      expect(s.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
      expect(s.env_file).toEqual(['.env']);
    }
  });

  it('sets only variables the apps read, and gives each app an environment it accepts from .env.example', () => {
    const dotenv = envExample();
    for (const app of APPS) {
      const s = compose.services[app]!;
      expect({ app, unknown: Object.keys(s.environment ?? {}).filter((k) => !SCHEMA_KEYS.has(k)) }).toEqual({ app, unknown: [] });
      const fromFile = Object.fromEntries([...dotenv].filter(([k, v]) => SCHEMA_KEYS.has(k) && v !== undefined)) as Record<string, string>;
      const fromCompose = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), dotenv)]));
      const env = loadEnv({ ...fromFile, ...fromCompose, MEDFUSION_APP: app });
      expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      // The shared volume holds the artifacts.
      const mounts = (s.volumes ?? []).map((v) => v.split(':')[1]!);
      expect({ app, mounted: mounts.some((m) => env.ARTIFACTS_DIR.startsWith(`${m}/`)) }).toEqual({ app, mounted: true });
      // Compose waits longer than the app drains before it kills the container.
      expect({ app, enough: parseDuration(s.stop_grace_period!) >= env.SHUTDOWN_TIMEOUT_MS + 10_000 }).toEqual({ app, enough: true });
    }
  });

  it('publishes only the gateway, on the port it listens on, and lets gpu-worker scale', () => {
    for (const [name, s] of Object.entries(compose.services)) if (name !== 'api-gateway') expect({ name, ports: s.ports }).toEqual({ name, ports: undefined });
    const [published, container] = compose.services['api-gateway']!.ports![0]!.split(/:(?=\$)/);
    expect(published).toMatch(/GATEWAY_PUBLISHED_PORT/);
    expect(Number(interpolate(container!, new Map()))).toBe(SCHEMA_DEFAULTS.GATEWAY_PORT);
    expect(container).toMatch(/^\$\{GATEWAY_PORT:-/);
    expect(compose.services['gpu-worker']!.container_name).toBeUndefined();
  });

  it('gives the GPU override NVIDIA devices and a compute backend the worker accepts', () => {
    const gpu = composeGpu.services['gpu-worker']!;
    expect(Object.keys(composeGpu.services)).toEqual(['gpu-worker']);
    expect(gpu.build!.dockerfile).toBe(DOCKERFILES.gpu);
    expect(gpu.deploy!.resources!.reservations!.devices![0]).toMatchObject({ driver: 'nvidia', capabilities: ['gpu'] });
    expect(loadEnv(gpu.environment).COMPUTE_BACKEND).toBe('tensorflow-gpu');
  });
});

describe('.env.example', () => {
  it('lists every variable of the env schema', () => {
    const listed = envExample();
    expect([...SCHEMA_KEYS].filter((k) => !listed.has(k))).toEqual([]);
  });

  it('lists nothing else than schema variables and the ones docker-compose reads, and its values are valid', () => {
    const listed = envExample();
    expect([...listed.keys()].filter((k) => !SCHEMA_KEYS.has(k) && !COMPOSE_VARIABLES.has(k))).toEqual([]);
    const set = Object.fromEntries([...listed].filter(([k, v]) => SCHEMA_KEYS.has(k) && v !== undefined)) as Record<string, string>;
    expect(() => loadEnv(set)).not.toThrow();
    // Every variable compose interpolates is either documented there or an app setting.
    expect([...COMPOSE_VARIABLES].filter((k) => !listed.has(k))).toEqual([]);
  });
});
