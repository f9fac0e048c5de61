import type { Env } from '@medfusion/config';

/** The validated environment, as an injectable. */
export class GatewayConfig {
  constructor(readonly env: Env) {}
}
