import { CollectiveError, joinFromEnv, parseCollectiveEnv, type CollectiveGroup } from '@medfusion/collective';
import { freePort } from './free-port.js';

/** Ranks that find each other through the master (MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK), in this process. */
const baseEnv = (masterPort: number, worldSize: number) => ({
  WORLD_SIZE: String(worldSize),
  MASTER_ADDR: '127.0.0.1',
  MASTER_PORT: String(masterPort),
  COLLECTIVE_JOB_ID: 'rdv-job',
  COLLECTIVE_TOKEN: 'rendezvous-token-0123456789',
  COLLECTIVE_BIND_HOST: '127.0.0.1',
  COLLECTIVE_JOIN_TIMEOUT_MS: '5000',
});

describe('rendezvous through the master', () => {
  it('three ranks started in any order learn each other\'s ephemeral ports and all-reduce', async () => {
    const port = await freePort();
    // Workers first: they retry until the master listens.
    const joins = [2, 1, 0].map((rank) => joinFromEnv({ ...baseEnv(port, 3), RANK: String(rank) }));
    const groups = (await Promise.all(joins)).reverse() as CollectiveGroup[];
    try {
      expect(groups.map((g) => g.rank)).toEqual([0, 1, 2]);
      expect(groups[0]!.port).toBe(port);
      const out = await Promise.all(groups.map((g, r) => g.allReduceMean(Float32Array.from([r, 10 * r]))));
      for (const b of out) expect(Array.from(b)).toEqual([1, 10]);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  it('two processes claiming one rank are refused with CONFIG_MISMATCH', async () => {
    const port = await freePort();
    const env = { ...baseEnv(port, 3), COLLECTIVE_JOIN_TIMEOUT_MS: '1500' };
    const results = await Promise.allSettled([joinFromEnv({ ...env, RANK: '0' }), joinFromEnv({ ...env, RANK: '1' }), joinFromEnv({ ...env, RANK: '1' })]);
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as CollectiveError] : []));
    expect(errors.some((e) => e.code === 'CONFIG_MISMATCH' && /two processes with RANK=1/.test(e.message))).toBe(true);
    // Rank 2 never came, so rank 0 names it.
    expect(errors.some((e) => e.rank === 0 && /rank\(s\) 2 did not register at the master within 1500 ms/.test(e.message))).toBe(true);
  });

  it('names the environment variable that is wrong or missing', () => {
    expect(() => parseCollectiveEnv({ RANK: '3', WORLD_SIZE: '2', COLLECTIVE_JOB_ID: 'j', COLLECTIVE_TOKEN: 'x'.repeat(16), MASTER_ADDR: 'h', MASTER_PORT: '1' })).toThrow(
      /environment variable RANK: must be below WORLD_SIZE \(2\)/,
    );
    expect(() => parseCollectiveEnv({ RANK: '0', WORLD_SIZE: '2', COLLECTIVE_JOB_ID: 'j', COLLECTIVE_TOKEN: 'x'.repeat(16) })).toThrow(/MASTER_ADDR: set MASTER_ADDR and MASTER_PORT/);
    expect(() => parseCollectiveEnv({ RANK: '0', WORLD_SIZE: '2', COLLECTIVE_JOB_ID: 'j', COLLECTIVE_TOKEN: 'short', COLLECTIVE_PEERS: 'a:1,b:2' })).toThrow(/COLLECTIVE_TOKEN: must have at least 16/);
    expect(() => parseCollectiveEnv({ RANK: '0', WORLD_SIZE: '2', COLLECTIVE_JOB_ID: 'j', COLLECTIVE_TOKEN: 'x'.repeat(16), COLLECTIVE_PEERS: 'a:1,b' })).toThrow(/COLLECTIVE_PEERS: entry 1 "b" is not host:port/);
    expect(parseCollectiveEnv({ RANK: '1', WORLD_SIZE: '2', COLLECTIVE_JOB_ID: 'j', COLLECTIVE_TOKEN: 'x'.repeat(16), COLLECTIVE_PEERS: '10.0.0.1:7000,[::1]:7001' }).COLLECTIVE_PEERS).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '::1', port: 7001 },
    ]);
  });
});
