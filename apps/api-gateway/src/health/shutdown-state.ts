import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

/** Readiness fails as soon as shutdown begins, so load balancers drain the gateway first. */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  stopping = false;
  beforeApplicationShutdown(): void {
    this.stopping = true;
  }
}
