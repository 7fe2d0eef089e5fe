import type {Pool} from 'undici';

/** Consecutive failures that open a backend's circuit breaker. */
const breakerThreshold = 5;
/** How long an open breaker keeps requests away before one is let through to try again. */
const breakerCooldownMs = 10_000;

/**
 * One backend as the data plane routes to it: its connection pool, its weight, the requests it
 * has in flight and its circuit breaker. Kept across routing-table updates, keyed by URL.
 */
export class Upstream {
	inflight = 0;
	#failures = 0;
	#openUntil = 0;

	constructor(readonly url: string, readonly pool: Pool, public capacity: number) {}

	/** Whether the breaker lets requests through (closed, or half-open after its cool-down). */
	available(now: number): boolean {
		return now >= this.#openUntil;
	}

	succeeded(): void {
		this.#failures = 0;
		this.#openUntil = 0;
	}

	/** A connection failure or a 5xx. Past the threshold the breaker opens; a failed half-open try reopens it. */
	failed(now: number): void {
		this.#failures++;
		if (this.#failures >= breakerThreshold) {
			this.#openUntil = now + breakerCooldownMs;
		}
	}
}

/**
 * The backend with the least load per unit of capacity, counting the request about to be sent,
 * among those whose breaker is closed and that this request has not tried yet; when every breaker
 * is open, the least loaded of the rest (trying beats refusing). Ties go round the list.
 */
export function leastLoaded(upstreams: readonly Upstream[], now: number, tried: readonly Upstream[] | undefined, rotation: number): Upstream | undefined {
	let best: Upstream | undefined;
	let bestScore = Number.POSITIVE_INFINITY;
	let fallback: Upstream | undefined;
	let fallbackScore = Number.POSITIVE_INFINITY;
	const count = upstreams.length;
	for (let offset = 0; offset < count; offset++) {
		const upstream = upstreams[(rotation + offset) % count]!;
		if (tried?.includes(upstream)) {
			continue;
		}

		const score = (upstream.inflight + 1) / upstream.capacity;
		if (upstream.available(now)) {
			if (score < bestScore) {
				best = upstream;
				bestScore = score;
			}
		} else if (score < fallbackScore) {
			fallback = upstream;
			fallbackScore = score;
		}
	}

	return best ?? fallback;
}
