import { planGangAdmission, type GangAction, type SlotView, type WaitingGang } from './gang-admission.js';

const T0 = new Date('2026-12-03T12:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const settings = { reserveAfterMs: 10_000, reservationTimeoutMs: 60_000 };
const slot = (workerId: string, n: number, state: SlotView['state'] = 'idle', jobId: string | null = null, since = T0): SlotView => ({ workerId, slot: n, state, jobId, since });
const gang = (jobId: string, workers: number, waitingSince = T0, reservingSince: Date | null = null): WaitingGang => ({ jobId, workers, waitingSince, reservingSince });
const kinds = (actions: GangAction[]) => actions.filter((a) => a.kind !== 'note');

describe('gang admission', () => {
  it('admits a gang all at once when enough slots are free, ranks laid out worker by worker', () => {
    const slots = [slot('w2', 0), slot('w1', 1), slot('w1', 0), slot('w3', 0, 'single', 'other')];
    expect(planGangAdmission(at(0), [gang('g', 3)], slots, settings)).toEqual([
      { kind: 'admit', jobId: 'g', slots: [{ workerId: 'w1', slot: 0 }, { workerId: 'w1', slot: 1 }, { workerId: 'w2', slot: 0 }] },
    ]);
  });

  it('starts nothing while too few slots are free, and says why', () => {
    const slots = [slot('w1', 0), slot('w2', 0, 'single', 's1'), slot('w3', 0, 'single', 's2')];
    const actions = planGangAdmission(at(1000), [gang('g', 2)], slots, settings);
    expect(kinds(actions)).toEqual([]);
    expect(actions).toEqual([{ kind: 'note', jobId: 'g', note: 'waiting for 2 workers: 1 of 3 free' }]);
  });

  it('says when the cluster has fewer slots than the gang needs, and holds nothing for it', () => {
    const actions = planGangAdmission(at(3_600_000), [gang('g', 4)], [slot('w1', 0), slot('w2', 0, 'reserved', 'g')], settings);
    expect(actions).toEqual([
      { kind: 'release', jobId: 'g', restartWait: false },
      { kind: 'note', jobId: 'g', note: expect.stringContaining('only 2 worker slots are running') },
    ]);
  });

  it('reserves every free slot for a gang that waited reserveAfterMs, then admits it on reserved + newly free slots', () => {
    const busy = [slot('w1', 0), slot('w2', 0, 'single', 's1'), slot('w3', 0, 'single', 's2')];
    expect(kinds(planGangAdmission(at(9_999), [gang('g', 3)], busy, settings))).toEqual([]);
    expect(kinds(planGangAdmission(at(10_000), [gang('g', 3)], busy, settings))).toEqual([{ kind: 'reserve', jobId: 'g', slots: [{ workerId: 'w1', slot: 0 }] }]);

    // s1 finished: its slot is free and is reserved too; s2 still runs.
    const later = [slot('w1', 0, 'reserved', 'g', at(10_000)), slot('w2', 0), slot('w3', 0, 'single', 's2')];
    expect(kinds(planGangAdmission(at(20_000), [gang('g', 3, T0, at(10_000))], later, settings))).toEqual([{ kind: 'reserve', jobId: 'g', slots: [{ workerId: 'w2', slot: 0 }] }]);

    const ready = [slot('w1', 0, 'reserved', 'g', at(10_000)), slot('w2', 0, 'reserved', 'g', at(20_000)), slot('w3', 0)];
    expect(planGangAdmission(at(30_000), [gang('g', 3, T0, at(10_000))], ready, settings)).toEqual([
      { kind: 'admit', jobId: 'g', slots: [{ workerId: 'w1', slot: 0 }, { workerId: 'w2', slot: 0 }, { workerId: 'w3', slot: 0 }] },
    ]);
  });

  it('starts reserving even when no slot is free yet, so the next slot to free up is held for the gang', () => {
    const allBusy = [slot('w1', 0, 'single', 's1'), slot('w2', 0, 'single', 's2')];
    expect(kinds(planGangAdmission(at(10_000), [gang('g', 2)], allBusy, settings))).toEqual([{ kind: 'reserve', jobId: 'g', slots: [] }]);
  });

  it('releases a reservation that did not complete within the timeout and restarts the wait', () => {
    const stuck = [slot('w1', 0, 'reserved', 'g', at(10_000)), slot('w2', 0, 'single', 'long')];
    expect(kinds(planGangAdmission(at(69_999), [gang('g', 2, T0, at(10_000))], stuck, settings))).toEqual([{ kind: 'reserve', jobId: 'g', slots: [] }]);
    const actions = planGangAdmission(at(70_000), [gang('g', 2, T0, at(10_000))], stuck, settings);
    expect(kinds(actions)).toEqual([{ kind: 'release', jobId: 'g', restartWait: true }]);
    expect(actions.find((a) => a.kind === 'note')).toMatchObject({ note: expect.stringContaining('released them for other jobs') });
  });

  it('lets only the oldest gang reserve, so two gangs never each hold part of what the other needs', () => {
    const slots = [slot('w1', 0), slot('w2', 0), slot('w3', 0, 'single', 's'), slot('w4', 0, 'single', 's2')];
    const actions = planGangAdmission(at(60_000), [gang('old', 3, at(0)), gang('young', 3, at(1000))], slots, settings);
    expect(kinds(actions)).toEqual([{ kind: 'reserve', jobId: 'old', slots: [{ workerId: 'w1', slot: 0 }, { workerId: 'w2', slot: 0 }] }]);
    expect(actions).toContainEqual({ kind: 'note', jobId: 'young', note: 'waiting for 3 workers: 0 of 4 free' });
  });

  it('backfills: a younger, smaller gang starts on free slots the oldest cannot use yet, before the oldest reserves', () => {
    const slots = [slot('w1', 0), slot('w2', 0), slot('w3', 0, 'single', 's'), slot('w4', 0, 'single', 's2')];
    const actions = planGangAdmission(at(1000), [gang('big', 4, at(0)), gang('small', 2, at(500))], slots, settings);
    expect(kinds(actions)).toEqual([{ kind: 'admit', jobId: 'small', slots: [{ workerId: 'w1', slot: 0 }, { workerId: 'w2', slot: 0 }] }]);
  });

  it('admits several gangs in one pass and never gives a slot twice', () => {
    const slots = [slot('a', 0), slot('a', 1), slot('b', 0), slot('b', 1), slot('c', 0)];
    const actions = planGangAdmission(at(0), [gang('g1', 2), gang('g2', 2), gang('g3', 2)], slots, settings);
    const admitted = actions.filter((a) => a.kind === 'admit');
    expect(admitted.map((a) => a.jobId)).toEqual(['g1', 'g2']);
    const used = admitted.flatMap((a) => (a.kind === 'admit' ? a.slots.map((s) => `${s.workerId}/${s.slot}`) : []));
    expect(new Set(used).size).toBe(4);
  });

  it('gives back reservations of a job that no longer waits', () => {
    const actions = planGangAdmission(at(0), [], [slot('w1', 0, 'reserved', 'paused-gang')], settings);
    expect(actions).toEqual([{ kind: 'release', jobId: 'paused-gang', restartWait: false }]);
  });
});
