import { Inject, Injectable } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { SOCKET_EVENTS } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import type { Logger } from '@medfusion/runtime';
import { ApiKeyService } from '../auth/api-key.service.js';
import { LOGGER } from '../infrastructure/infrastructure.module.js';

/** A socket that passed the handshake: its key's principal as of the last check. */
export interface LiveSocket extends Socket {
  data: { principal: Principal };
}

/** What the live gateway does when a connected key's role or owner changed: leave what it may no longer read. */
export type PrincipalChanged = (socket: LiveSocket) => Promise<void>;

// Keys re-read per query in the periodic re-check, so one IN list stays small.
const RECHECK_BATCH = 500;

function samePrincipal(a: Principal, b: Principal): boolean {
  return a.keyId === b.keyId && a.owner === b.owner && a.role === b.role;
}

/**
 * The Socket.IO connections of this gateway, by API key: authenticates every handshake, and ends or
 * downgrades a key's live connections when the key is revoked or changed (signalled over Redis by
 * the replica that made the change, and re-checked periodically in case a signal was missed).
 */
@Injectable()
export class LiveConnections {
  private readonly byKey = new Map<string, Set<LiveSocket>>();
  private onPrincipalChanged: PrincipalChanged = async () => undefined;

  constructor(
    private readonly keys: ApiKeyService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Socket.IO middleware: the key comes as `auth.token` or an `Authorization: Bearer` header. */
  readonly authenticate = (socket: Socket, next: (err?: Error) => void): void => {
    const raw = (socket.handshake.auth as { token?: unknown } | undefined)?.token ?? socket.handshake.headers.authorization?.replace(/^Bearer\s+/i, '');
    if (typeof raw !== 'string' || !raw) return next(new Error('unauthorized: pass the API key as auth.token'));
    this.keys.authenticate(raw).then(
      (principal) => {
        if (!principal) return next(new Error('unauthorized: unknown or revoked API key'));
        (socket as LiveSocket).data.principal = principal;
        next();
      },
      (err: Error) => {
        this.logger.error({ err, socketId: socket.id }, 'socket handshake: could not check the API key');
        next(new Error('internal error: could not check the API key'));
      },
    );
  };

  /** Called by the gateway once: how to re-check a socket's rooms after its principal changed. */
  onChange(handler: PrincipalChanged): void {
    this.onPrincipalChanged = handler;
  }

  /** How many keys and sockets are live (for logs). */
  size(): { keys: number; sockets: number } {
    let sockets = 0;
    for (const set of this.byKey.values()) sockets += set.size;
    return { keys: this.byKey.size, sockets };
  }

  /**
   * The socket's principal as the database has it now, for decisions that must not use a stale
   * key (every subscribe). Null when the key was revoked: the key's sockets are then ended right
   * after the caller has answered (an acknowledgement sent after the disconnect would be lost).
   */
  async current(socket: LiveSocket): Promise<Principal | null> {
    const keyId = socket.data.principal.keyId;
    const principal = (await this.keys.principalsByIds([keyId])).get(keyId);
    if (!principal) {
      setImmediate(() => void this.apply(keyId, undefined).catch((err: Error) => this.logger.error({ err, keyId }, 'could not end the sockets of a revoked key')));
      return null;
    }
    // Every socket of a key gets a change at once, so this socket stands for all of them: no pass
    // over the key's (possibly thousands of) sockets on every subscribe.
    if (!samePrincipal(principal, socket.data.principal)) await this.apply(keyId, principal);
    return socket.connected ? socket.data.principal : null;
  }

  /** Applies the current state of these keys to their live sockets (a signal from Redis, the periodic pass). */
  async recheck(keyIds: readonly string[]): Promise<void> {
    const live = keyIds.filter((id) => this.byKey.has(id));
    if (!live.length) return;
    const current = await this.keys.principalsByIds(live);
    for (const keyId of live) await this.apply(keyId, current.get(keyId));
  }

  /** Ends the key's sockets if it is gone, else gives them its current principal (re-checking their rooms if it changed). */
  private async apply(keyId: string, principal: Principal | undefined): Promise<void> {
    for (const socket of [...(this.byKey.get(keyId) ?? [])]) {
      if (!principal) {
        this.end(socket, 'api key revoked');
        continue;
      }
      if (samePrincipal(principal, socket.data.principal)) continue;
      socket.data.principal = principal;
      await this.onPrincipalChanged(socket);
    }
  }

  /** The periodic fallback: every connected key, in batches. */
  async recheckAll(): Promise<void> {
    const keyIds = [...this.byKey.keys()];
    for (let i = 0; i < keyIds.length; i += RECHECK_BATCH) await this.recheck(keyIds.slice(i, i + RECHECK_BATCH));
  }

  /** Registers a connected socket (on `connection`, not in the middleware: a handshake may still fail after it). */
  track(socket: LiveSocket): void {
    const keyId = socket.data.principal.keyId;
    let set = this.byKey.get(keyId);
    if (!set) this.byKey.set(keyId, (set = new Set()));
    set.add(socket);
    socket.once('disconnect', () => {
      const current = this.byKey.get(keyId);
      current?.delete(socket);
      if (current?.size === 0) this.byKey.delete(keyId);
    });
  }

  /** Tells the client why, then disconnects it (which also leaves every room at once). */
  private end(socket: LiveSocket, reason: string): void {
    this.logger.info({ keyId: socket.data.principal.keyId, socketId: socket.id, reason }, 'ending a live connection');
    socket.emit(SOCKET_EVENTS.sessionEnded, { reason });
    socket.disconnect(true);
  }
}
