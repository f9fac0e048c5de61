import type { DataSource } from 'typeorm';
import { GangRepository, openDatabase, WorkerSlotRepository } from '@medfusion/persistence';
import { isolatedResources, type IsolatedResources } from '@medfusion/testing';

/** Gang scheduling's rows: the slot registry, all-or-nothing admission, the rendezvous record, broken gangs. */
describe('gang scheduling in Postgres', () => {
  let r: IsolatedResources;
  let ds: DataSource;
  let gangs: GangRepository;
  let slots: WorkerSlotRepository;
  const TTL = 60_000;

  beforeAll(async () => {
    r = await isolatedResources();
    ds = await openDatabase({ url: r.databaseUrl, migrate: true, poolSize: 4 });
    gangs = new GangRepository(ds);
    slots = new WorkerSlotRepository(ds);
  });
  afterAll(async () => {
    await ds.destroy();
    await r.cleanup();
  });
  beforeEach(async () => {
    await ds.query(`DELETE FROM worker_slots`);
    await ds.query(`DELETE FROM training_jobs`);
  });

  async function newJob(workers: number, status = 'queued'): Promise<string> {
    const [{ id }] = await ds.query(
      `INSERT INTO training_jobs (name, model_config, data_config, training_config, status, total_epochs, owner)
       VALUES ('j', '{}', '{}', $1, $2, 5, 'alice') RETURNING id`,
      [JSON.stringify({ epochs: 5, resources: { workers } }), status],
    );
    return id;
  }
  const job = async (id: string) => (await ds.query(`SELECT * FROM training_jobs WHERE id = $1`, [id]))[0];
  const slotRow = async (w: string, s = 0) => (await ds.query(`SELECT * FROM worker_slots WHERE worker_id = $1 AND slot = $2`, [w, s]))[0];

  it('lists only queued multi-worker jobs as waiting gangs, oldest first, and starts their wait clock', async () => {
    const a = await newJob(2);
    await newJob(1);
    const b = await newJob(3);
    await newJob(2, 'paused');
    const waiting = await gangs.waitingGangs();
    expect(waiting.map((g) => [g.jobId, g.workers])).toEqual([[a, 2], [b, 3]]);
    expect(waiting.every((g) => g.waitingSince instanceof Date)).toBe(true);
  });

  it('admits a gang on its slots in one transaction: job running under rank 0, one rank row each, a shared token', async () => {
    await slots.register('w1', '10.0.0.1', 1);
    await slots.register('w2', '10.0.0.2', 2);
    const id = await newJob(3);
    const outcome = await gangs.admit(id, [{ workerId: 'w1', slot: 0 }, { workerId: 'w2', slot: 0 }, { workerId: 'w2', slot: 1 }], TTL);
    expect(outcome).toEqual({ admitted: true, attempt: 1 });
    expect(await job(id)).toMatchObject({ status: 'running', worker_id: 'w1', attempts: 1 });
    const ranks = await gangs.ranksOf(id);
    expect(ranks.map((x) => [x.rank, x.workerId, x.slot, x.host, x.status])).toEqual([
      [0, 'w1', 0, '10.0.0.1', 'assigned'],
      [1, 'w2', 0, '10.0.0.2', 'assigned'],
      [2, 'w2', 1, '10.0.0.2', 'assigned'],
    ]);
    expect(ranks[0]).not.toHaveProperty('token'); // never selected for REST
    const a0 = await gangs.assignment(id, 0, 1);
    const a2 = await gangs.assignment(id, 2, 1);
    expect(a0!.token).toMatch(/^[0-9a-f]{64}$/);
    expect(a2!.token).toBe(a0!.token);
    expect((await slots.heartbeat('w2', '10.0.0.2', 2)).map((s) => [s.slot, s.state, s.jobId, s.rank, s.attempt])).toEqual([
      [0, 'gang', id, 1, 1],
      [1, 'gang', id, 2, 1],
    ]);
  });

  it('admits nothing when one slot was taken meanwhile (all or nothing)', async () => {
    await slots.register('w1', 'h1', 1);
    await slots.register('w2', 'h2', 1);
    const single = await newJob(1);
    expect(await slots.takeForSingle('w2', single)).toBe(0);
    const id = await newJob(2);
    expect(await gangs.admit(id, [{ workerId: 'w1', slot: 0 }, { workerId: 'w2', slot: 0 }], TTL)).toEqual({ admitted: false, reason: 'slots-taken' });
    expect(await job(id)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(await slotRow('w1')).toMatchObject({ state: 'idle', job_id: null });
    expect(await gangs.ranksOf(id)).toEqual([]);
  });

  it('never gives one slot to a single job and a gang racing for it', async () => {
    for (let round = 0; round < 10; round++) {
      await ds.query(`DELETE FROM worker_slots`);
      await slots.register('w1', 'h1', 1);
      await slots.register('w2', 'h2', 1);
      const single = await newJob(1);
      const id = await newJob(2);
      const [took, admitted] = await Promise.all([slots.takeForSingle('w1', single), gangs.admit(id, [{ workerId: 'w1', slot: 0 }, { workerId: 'w2', slot: 0 }], TTL)]);
      expect(took === null).toBe(admitted.admitted);
      const row = await slotRow('w1');
      expect(row.job_id).toBe(admitted.admitted ? id : single);
    }
  });

  it('reserves idle slots for a gang, keeps single jobs off them, and releases them', async () => {
    await slots.register('w1', 'h1', 2);
    const id = await newJob(3);
    expect(await gangs.reserve(id, [{ workerId: 'w1', slot: 0 }, { workerId: 'w1', slot: 1 }])).toBe(2);
    expect(await slots.takeForSingle('w1', await newJob(1))).toBeNull();
    expect((await gangs.waitingGangs()).find((g) => g.jobId === id)?.reservingSince).toBeInstanceOf(Date);
    await gangs.release(id, true);
    expect(await slotRow('w1', 1)).toMatchObject({ state: 'idle' });
    expect(await job(id)).toMatchObject({ gang_reserving_since: null });
    expect((await job(id)).gang_waiting_since).not.toBeNull();
    expect(await slots.takeForSingle('w1', await newJob(1))).toBe(0);
  });

  it('while a gang reserves, a slot that frees up is not taken by a single job (even with nothing held yet)', async () => {
    await slots.register('w1', 'h1', 1);
    const single = await newJob(1);
    expect(await slots.takeForSingle('w1', single)).toBe(0);
    const id = await newJob(2);
    expect(await gangs.reserve(id, [])).toBe(0);
    await slots.free('w1', 0, single);
    expect(await slots.takeForSingle('w1', await newJob(1))).toBeNull();
    // A paused gang stops reserving: single jobs flow again.
    await ds.query(`UPDATE training_jobs SET status = 'paused' WHERE id = $1`, [id]);
    await gangs.waitingGangs();
    expect(await job(id)).toMatchObject({ gang_reserving_since: null, gang_waiting_since: null });
    expect(await slots.takeForSingle('w1', await newJob(1))).toBe(0);
  });

  it('runs the rendezvous: peers appear once every rank listens, and a replaced gang learns it', async () => {
    await slots.register('w1', 'h1', 1);
    await slots.register('w2', 'h2', 1);
    const id = await newJob(2);
    await gangs.admit(id, [{ workerId: 'w1', slot: 0 }, { workerId: 'w2', slot: 0 }], TTL);
    await gangs.setListening(id, 1, 1, 7001);
    expect(await gangs.peers(id, 1)).toBeNull();
    await gangs.setListening(id, 0, 1, 7000);
    expect(await gangs.peers(id, 1)).toEqual([{ host: 'h1', port: 7000 }, { host: 'h2', port: 7001 }]);
    await gangs.setThroughput(id, 1, [12.5, 11]);
    expect((await gangs.ranksOf(id)).map((x) => x.samplesPerSecond)).toEqual([12.5, 11]);
    expect(await gangs.endBrokenGang(id, 1, 'rank 1 left', 3)).toBe('queued');
    expect(await gangs.peers(id, 1)).toBe('replaced');
  });

  it('finds a gang whose rank lost its slot, requeues it up to maxRestarts times, then fails it', async () => {
    await slots.register('w1', 'h1', 1);
    await slots.register('w2', 'h2', 1);
    const id = await newJob(2);
    let attempt = 0;
    for (let restart = 0; restart <= 2; restart++) {
      const admitted = await gangs.admit(id, [{ workerId: 'w1', slot: 0 }, { workerId: 'w2', slot: 0 }], TTL);
      if (!admitted.admitted) throw new Error(admitted.reason);
      attempt = admitted.attempt;
      expect(await gangs.brokenGangs()).toEqual([]);
      // w2 stops heartbeating: its slot expires and the gang is broken.
      await ds.query(`UPDATE worker_slots SET heartbeat_at = now() - interval '1 hour' WHERE worker_id = 'w2'`);
      expect((await gangs.expireSlots(TTL)).map((s) => [s.workerId, s.state])).toEqual([['w2', 'gang']]);
      expect(await gangs.brokenGangs()).toEqual([{ jobId: id, attempt, rank: 1, workerId: 'w2', rankStatus: 'assigned', rankError: null }]);
      const outcome = await gangs.endBrokenGang(id, attempt, 'rank 1 (worker w2) stopped heartbeating', 2);
      expect(await gangs.endBrokenGang(id, attempt, 'again', 2)).toBe('not-running'); // idempotent
      await slots.free('w1', 0, id);
      await slots.register('w2', 'h2', 1);
      if (restart < 2) {
        expect(outcome).toBe('queued');
        expect(await job(id)).toMatchObject({ status: 'queued', restarts: restart + 1, worker_id: null, scheduling_note: 'gang restarted after: rank 1 (worker w2) stopped heartbeating' });
      } else {
        expect(outcome).toBe('failed');
        expect((await job(id)).error).toBe('rank 1 (worker w2) stopped heartbeating (gang restarted 2 times; giving up)');
      }
    }
    expect(attempt).toBe(3);
  });

  it('honours a pause the user asked for when the gang breaks', async () => {
    await slots.register('w1', 'h1', 2);
    const id = await newJob(2);
    await gangs.admit(id, [{ workerId: 'w1', slot: 0 }, { workerId: 'w1', slot: 1 }], TTL);
    await ds.query(`UPDATE training_jobs SET desired_state = 'pause' WHERE id = $1`, [id]);
    expect(await gangs.endBrokenGang(id, 1, 'rank 1 left', 3)).toBe('paused');
    expect(await job(id)).toMatchObject({ status: 'paused', desired_state: null, restarts: 0 });
  });
});
