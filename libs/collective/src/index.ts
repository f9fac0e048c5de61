export * from './collective-error.js';
export * from './collective-group.js';
export * from './group-options.js';
export { RankServer } from './rank-server.js';
export { planRing, planBroadcast, ringNeighbours, segmentSpans, bucketSpans, type RingPlan, type RingStep, type Span } from './ring-schedule.js';
export { PROTO_PATH, SERVICE_NAME, type PeerAddress } from './collective-protocol.js';
export { TOKEN_METADATA_KEY } from './token-auth.js';
export { rendezvous, RendezvousRegistrar, type RendezvousOptions } from './rendezvous.js';
export { joinFromEnv, parseCollectiveEnv, collectiveEnvSchema, type CollectiveEnv } from './rendezvous-env.js';
