import { isTransientDbError, withDbRetry } from '@medfusion/persistence';

const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });
/** How TypeORM wraps a driver error. */
const queryFailed = (driverError: Error) => Object.assign(new Error(driverError.message), { name: 'QueryFailedError', driverError });

describe('transient database errors', () => {
  it('tells a lost connection from a bad statement', () => {
    for (const err of [
      pgError('57P01', 'terminating connection due to administrator command'),
      queryFailed(pgError('57P01', 'terminating connection due to administrator command')),
      pgError('08006'),
      pgError('57P03', 'the database system is starting up'),
      pgError('ECONNRESET', 'read ECONNRESET'),
      pgError('ECONNREFUSED'),
      new Error('Connection terminated unexpectedly'),
      queryFailed(new Error('Client has encountered a connection error and is not queryable')),
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('Query runner already released. Cannot run queries anymore.'), { name: 'QueryRunnerAlreadyReleasedError' }),
      new Error('could not write', { cause: pgError('40001') }),
    ]) {
      expect([err.message, isTransientDbError(err)]).toEqual([err.message, true]);
    }
    for (const err of [pgError('23505', 'duplicate key'), queryFailed(pgError('42601', 'syntax error')), new Error('worker w1 no longer owns training job'), null, 'text']) {
      expect(isTransientDbError(err)).toBe(false);
    }
  });

  it('retries transient failures with backoff until the call succeeds', async () => {
    let calls = 0;
    const retried: number[] = [];
    const result = await withDbRetry(
      async () => {
        if (++calls < 4) throw pgError('57P01');
        return 'ok';
      },
      { maxMs: 5000, initialDelayMs: 5, onRetry: (_e, attempt) => retried.push(attempt) },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(4);
    expect(retried).toEqual([1, 2, 3]);
  });

  it('throws other errors at once, and the last transient one after maxMs', async () => {
    let calls = 0;
    await expect(withDbRetry(async () => { calls++; throw pgError('23505', 'duplicate key'); }, { maxMs: 5000 })).rejects.toThrow('duplicate key');
    expect(calls).toBe(1);
    const start = Date.now();
    await expect(withDbRetry(async () => { throw new Error('Connection terminated unexpectedly'); }, { maxMs: 200, initialDelayMs: 10, maxDelayMs: 40 })).rejects.toThrow(/Connection terminated/);
    expect(Date.now() - start).toBeLessThan(2000);
  });
});
