import type { ReadinessCheck } from './health-server.js';

/** The prototypes every object, array, function and string of the process inherits from. */
const SHARED_PROTOTYPES: ReadonlyArray<readonly [string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
];

function keysOf(proto: object): Set<string | symbol> {
  return new Set(Reflect.ownKeys(proto));
}

/**
 * A readiness check that fails once a shared prototype has gained or lost a property since the
 * check was created (call it after start-up, when libraries have finished patching).
 *
 * Why readiness: a prototype-pollution bug (issue #17) left a gateway answering every
 * authenticated request with 500 while its Postgres and Redis checks passed, so nothing replaced
 * it. A polluted process cannot be repaired in place; failing readiness takes it out of the load
 * balancer and lets the orchestrator restart it.
 */
export function prototypeIntegrityCheck(): ReadinessCheck {
  const baseline = SHARED_PROTOTYPES.map(([name, proto]) => [name, proto, keysOf(proto)] as const);
  return async () => {
    const changes: string[] = [];
    for (const [name, proto, before] of baseline) {
      const now = keysOf(proto);
      const added = [...now].filter((k) => !before.has(k)).map(String);
      const removed = [...before].filter((k) => !now.has(k)).map(String);
      if (added.length) changes.push(`${name} gained ${added.join(', ')}`);
      if (removed.length) changes.push(`${name} lost ${removed.join(', ')}`);
    }
    if (changes.length) throw new Error(`shared prototypes changed after start (${changes.join('; ')}): restart this process`);
  };
}
