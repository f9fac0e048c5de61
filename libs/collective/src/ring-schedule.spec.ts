import { bucketSpans, planBroadcast, planRing, ringNeighbours, segmentSpans } from './ring-schedule.js';

describe('ring schedule', () => {
  it('cuts a buffer into N contiguous segments differing by at most one element', () => {
    expect(segmentSpans(10, 3)).toEqual([
      { offset: 0, length: 4 },
      { offset: 4, length: 3 },
      { offset: 7, length: 3 },
    ]);
    expect(segmentSpans(2, 4)).toEqual([
      { offset: 0, length: 1 },
      { offset: 1, length: 1 },
      { offset: 2, length: 0 },
      { offset: 2, length: 0 },
    ]);
  });

  it('cuts a segment into buckets, and an empty segment into one empty bucket', () => {
    expect(bucketSpans({ offset: 4, length: 7 }, 3)).toEqual([
      { offset: 4, length: 3 },
      { offset: 7, length: 3 },
      { offset: 10, length: 1 },
    ]);
    expect(bucketSpans({ offset: 5, length: 0 }, 3)).toEqual([{ offset: 5, length: 0 }]);
  });

  it('names each rank its ring neighbours', () => {
    expect(ringNeighbours(0, 4)).toEqual({ predecessor: 3, successor: 1 });
    expect(ringNeighbours(3, 4)).toEqual({ predecessor: 2, successor: 0 });
    expect(ringNeighbours(0, 1)).toEqual({ predecessor: 0, successor: 0 });
  });

  it('sends in step s what the predecessor-side receive of step s-1 filled, and ends each rank owning segment r+1', () => {
    const N = 4;
    for (let rank = 0; rank < N; rank++) {
      const plan = planRing(rank, N, 100, 8);
      expect(plan.steps).toHaveLength(2 * (N - 1));
      expect(plan.steps.map((s) => s.phase)).toEqual(['reduce-scatter', 'reduce-scatter', 'reduce-scatter', 'all-gather', 'all-gather', 'all-gather']);
      expect(plan.steps[0]!.sendSegment).toBe(rank);
      for (let s = 1; s < plan.steps.length; s++) expect(plan.steps[s]!.sendSegment).toBe(plan.steps[s - 1]!.recvSegment);
      // The last reduce-scatter receive completes the owned segment, which the all-gather sends first.
      expect(plan.steps[N - 2]!.recvSegment).toBe((rank + 1) % N);
      expect(plan.steps[N - 1]!.sendSegment).toBe(plan.ownedSegment);
      // What rank r sends in step s is what rank r+1 receives in step s.
      const next = planRing((rank + 1) % N, N, 100, 8);
      plan.steps.forEach((s, i) => expect(next.steps[i]!.recvs).toEqual(s.sends));
    }
  });

  it('receives every segment but the one it sends first in reduce-scatter, and every segment but its own in all-gather', () => {
    const N = 5;
    const plan = planRing(2, N, 12, 4);
    const rs = plan.steps.filter((s) => s.phase === 'reduce-scatter').map((s) => s.recvSegment).sort();
    const ag = plan.steps.filter((s) => s.phase === 'all-gather').map((s) => s.recvSegment).sort();
    expect(rs).toEqual([0, 1, 3, 4]);
    expect(ag).toEqual([0, 1, 2, 4]);
  });

  it('has no steps for a single rank and rejects impossible arguments', () => {
    expect(planRing(0, 1, 10, 4).steps).toEqual([]);
    expect(() => planRing(2, 2, 10, 4)).toThrow(/rank must be an integer in 0..1, got 2/);
    expect(() => planRing(0, 2, -1, 4)).toThrow(/elements/);
    expect(() => planRing(0, 2, 10, 0)).toThrow(/bucketElements/);
  });

  it('broadcasts the whole buffer: the root only sends, its predecessor only receives, the others forward each bucket once it arrived', () => {
    const plans = [0, 1, 2, 3].map((r) => planBroadcast(r, 4, 10, 4, 1));
    expect(plans[1]!.steps[0]!.recvs).toEqual([]);
    expect(plans[1]!.steps[0]!.sendAfterRecvOfStep).toBeUndefined();
    expect(plans[0]!.steps[0]!.sends).toEqual([]);
    expect(plans[2]!.steps[0]!.sends).toEqual(plans[2]!.steps[0]!.recvs);
    expect(plans[2]!.steps[0]!.sends.map((s) => s.length)).toEqual([4, 4, 2]);
    expect(plans[2]!.steps[0]!.sendAfterRecvOfStep).toBe(0);
    expect(() => planBroadcast(0, 4, 10, 4, 4)).toThrow(/root must be a rank in 0..3, got 4/);
  });
});
