import type {HealthConfig, RoutingConfig} from './types.js';

/** A backend's capacity when nothing sets one (vLLM's default max_num_seqs is larger; this errs low). */
export const defaultCapacity = 32;

export const defaultRouting: Readonly<RoutingConfig> = {
	policy: 'least-load',
	retries: 2,
	retryBackoffMs: 10,
	kvCacheLimit: 0.95,
	waitingLimit: 16,
};

export const defaultHealth: Readonly<HealthConfig> = {
	enabled: true,
	intervalMs: 2000,
	timeoutMs: 2000,
	unhealthyAfter: 3,
};
