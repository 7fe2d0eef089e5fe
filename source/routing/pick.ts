import type {RoutingConfig} from '../config/types.js';
import {mixHashes} from '../util/hash.js';
import type {Upstream} from './upstream.js';

/** What one routing decision knows of its request. */
export interface PickRequest {
	now: number;
	/** Backends this request already failed on; they are not tried again. */
	tried: readonly Upstream[] | undefined;
	/** The hash of its session id (`X-Session-ID` or the body's `user`), for the `session` policy. */
	session: number | undefined;
}

/*
 * Backends are first sorted into tiers, and a policy chooses within the best tier present:
 * 0 breaker closed, not crowded; 1 breaker closed, crowded (KV cache or queue near full);
 * 2 breaker open, not crowded; 3 breaker open, crowded. An open breaker still beats refusing.
 * Unhealthy backends (failed health checks) are never chosen.
 */
const noTier = 4;

/**
 * Chooses a model's backend for each request by its routing policy (see RoutingConfig).
 * Runs once per request attempt, so it allocates nothing.
 */
export class Picker {
	#rotation = 0;

	constructor(public config: RoutingConfig, private readonly random: () => number) {}

	/** Undefined when no healthy backend is left to try. */
	pick(upstreams: readonly Upstream[], request: PickRequest): Upstream | undefined {
		const tier = this.#bestTier(upstreams, request);
		if (tier === noTier) {
			return undefined;
		}

		switch (this.config.policy) {
			case 'least-load': {
				return this.#leastLoaded(upstreams, request, tier, loadScore);
			}

			case 'least-inflight': {
				return this.#leastLoaded(upstreams, request, tier, inflightScore);
			}

			case 'round-robin': {
				return this.#nextInTurn(upstreams, request, tier);
			}

			case 'random': {
				return this.#weightedRandom(upstreams, request, tier);
			}

			case 'session': {
				const sticky = request.session === undefined ? undefined : this.#rendezvous(upstreams, request, tier, request.session);
				// Spill-over: a session's backend that is full gives this request to the least loaded one.
				return sticky && sticky.inflight < sticky.capacity ? sticky : this.#leastLoaded(upstreams, request, tier, loadScore);
			}
		}
	}

	/** Whether pick() could choose a backend other than `except`. */
	hasCandidate(upstreams: readonly Upstream[], tried: readonly Upstream[] | undefined, except: Upstream | undefined): boolean {
		return upstreams.some(upstream => upstream !== except && eligible(upstream, tried));
	}

	#tier(upstream: Upstream, request: PickRequest): number {
		if (!eligible(upstream, request.tried)) {
			return noTier;
		}

		const crowded = upstream.crowded(this.config.kvCacheLimit, this.config.waitingLimit) ? 1 : 0;
		return (upstream.available(request.now) ? 0 : 2) + crowded;
	}

	#bestTier(upstreams: readonly Upstream[], request: PickRequest): number {
		let best = noTier;
		for (const upstream of upstreams) {
			best = Math.min(best, this.#tier(upstream, request));
		}

		return best;
	}

	/** The lowest score per unit of capacity; ties are broken at random (reservoir sampling, so one pass). */
	#leastLoaded(upstreams: readonly Upstream[], request: PickRequest, tier: number, score: (upstream: Upstream) => number): Upstream | undefined {
		let best: Upstream | undefined;
		let bestScore = Number.POSITIVE_INFINITY;
		let ties = 0;
		for (const upstream of upstreams) {
			if (this.#tier(upstream, request) !== tier) {
				continue;
			}

			const value = score(upstream) / upstream.capacity;
			if (value < bestScore) {
				best = upstream;
				bestScore = value;
				ties = 1;
			} else if (value === bestScore && this.random() * ++ties < 1) {
				best = upstream;
			}
		}

		return best;
	}

	#nextInTurn(upstreams: readonly Upstream[], request: PickRequest, tier: number): Upstream | undefined {
		const count = upstreams.length;
		for (let offset = 0; offset < count; offset++) {
			const upstream = upstreams[(this.#rotation + offset) % count]!;
			if (this.#tier(upstream, request) === tier) {
				this.#rotation = (this.#rotation + offset + 1) % count;
				return upstream;
			}
		}

		return undefined;
	}

	/** A random backend, each as likely as its share of the capacity. */
	#weightedRandom(upstreams: readonly Upstream[], request: PickRequest, tier: number): Upstream | undefined {
		let total = 0;
		for (const upstream of upstreams) {
			if (this.#tier(upstream, request) === tier) {
				total += upstream.capacity;
			}
		}

		let point = this.random() * total;
		let last: Upstream | undefined;
		for (const upstream of upstreams) {
			if (this.#tier(upstream, request) === tier) {
				last = upstream;
				point -= upstream.capacity;
				if (point < 0) {
					return upstream;
				}
			}
		}

		return last;
	}

	/**
	 * Rendezvous hashing: the backend whose hash mixed with the session's is highest. A session
	 * keeps its backend while backends come and go, except when its own backend goes.
	 */
	#rendezvous(upstreams: readonly Upstream[], request: PickRequest, tier: number, session: number): Upstream | undefined {
		let best: Upstream | undefined;
		let bestWeight = -1;
		for (const upstream of upstreams) {
			if (this.#tier(upstream, request) !== tier) {
				continue;
			}

			const weight = mixHashes(session, upstream.hash);
			if (weight > bestWeight) {
				best = upstream;
				bestWeight = weight;
			}
		}

		return best;
	}
}

/** Healthy, and not failed on by this request already. */
function eligible(upstream: Upstream, tried: readonly Upstream[] | undefined): boolean {
	return upstream.healthy && !tried?.includes(upstream);
}

/** Counting the request about to be sent as one more running. */
function loadScore(upstream: Upstream): number {
	return upstream.load() + 3;
}

function inflightScore(upstream: Upstream): number {
	return upstream.inflight + 1;
}
