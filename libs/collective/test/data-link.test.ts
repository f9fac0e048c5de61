import { CollectiveError } from '@medfusion/collective';
import { DataListener, InboundLink } from '../src/data-link.js';

/** The socket data plane's handshake: only the job's successor rank with the job's token gets a connection. */
describe('data connection handshake', () => {
  const TOKEN = 'data-plane-token-0123456789';
  let listener: DataListener;

  beforeEach(async () => {
    listener = await DataListener.listen({ host: '127.0.0.1', port: 0, jobId: 'job-1', rank: 0, successorRank: 1, token: TOKEN, successorAddress: '127.0.0.1:1' });
  });
  afterEach(() => listener.close());

  const connect = (o: { token?: string; rank?: number; jobId?: string }) =>
    InboundLink.connect({ host: '127.0.0.1', port: listener.port, jobId: o.jobId ?? 'job-1', rank: o.rank ?? 1, token: o.token ?? TOKEN, peerRank: 0, deadline: Date.now() + 3000 });

  it('refuses a wrong token with UNAUTHENTICATED, a wrong job or rank with CONFIG_MISMATCH, and says so on its side', async () => {
    await expect(connect({ token: 'not-the-token-at-all' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(listener.lastRefusal).toMatch(/token does not match/);
    await expect(connect({ rank: 2 })).rejects.toMatchObject({ code: 'CONFIG_MISMATCH', message: expect.stringContaining('sends to rank 1, not rank 2') });
    await expect(connect({ jobId: 'job-2' })).rejects.toMatchObject({ code: 'CONFIG_MISMATCH' });
  });

  it('accepts the successor with the token, once', async () => {
    const accepted = listener.successor(Date.now() + 3000);
    const link = await connect({});
    await expect(accepted).resolves.toBeDefined();
    await expect(connect({})).rejects.toMatchObject({ code: 'CONFIG_MISMATCH', message: expect.stringContaining('already has a data connection') });
    link.destroy();
  });

  it('keeps trying until a predecessor that starts late is listening', async () => {
    const port = listener.port;
    listener.close();
    const connecting = InboundLink.connect({ host: '127.0.0.1', port, jobId: 'job-1', rank: 1, token: TOKEN, peerRank: 0, deadline: Date.now() + 5000 });
    await new Promise((r) => setTimeout(r, 300));
    listener = await DataListener.listen({ host: '127.0.0.1', port, jobId: 'job-1', rank: 0, successorRank: 1, token: TOKEN, successorAddress: '127.0.0.1:1' });
    const accepted = listener.successor(Date.now() + 5000);
    const link = await connecting;
    await expect(accepted).resolves.toBeDefined();
    link.destroy();
  });

  it('gives up on a listener that never answers with PEER_UNREACHABLE', async () => {
    const port = listener.port;
    listener.close();
    const started = Date.now();
    const error = await InboundLink.connect({ host: '127.0.0.1', port, jobId: 'job-1', rank: 1, token: TOKEN, peerRank: 0, deadline: Date.now() + 400 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CollectiveError);
    expect(error).toMatchObject({ code: 'PEER_UNREACHABLE' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
