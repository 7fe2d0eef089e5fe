import type {Pool} from 'undici';
import {bucketIndex, latencyBucketCount} from '../metrics/rolling.js';
import type {BackendActivity, BackendLoad} from '../dataplane/protocol.js';
import {hashString} from '../util/hash.js';

/** Consecutive failures that open a backend's circuit breaker. */
const breakerThreshold = 5;
/** How long an open breaker keeps requests away before one is let through to try again. */
const breakerCooldownMs = 10_000;

/**
 * One backend as the data plane routes to it: its connection pool, its weight, the requests it
 * has in flight, its circuit breaker, the load the control plane last scraped from it, and the
 * request counts not yet reported. Kept across routing-table updates, keyed by URL.
 */
export class Upstream {
	inflight = 0;
	/** False once the control plane's health checks failed several times in a row. */
	healthy = true;
	/** From the backend's last /metrics scrape; `scraped` is false until there is one. */
	scraped = false;
	running = 0;
	waiting = 0;
	kvCacheUsage = 0;
	/** Our own in-flight count when that scrape arrived: requests sent since then are not in it yet. */
	inflightAtScrape = 0;
	/** Its fixed place in session hashing. */
	readonly hash: number;
	#failures = 0;
	#openUntil = 0;
	#requests = 0;
	#errors = 0;
	#latencyCounts = new Array<number>(latencyBucketCount).fill(0);
	#ttftCounts = new Array<number>(latencyBucketCount).fill(0);
	#dirty = false;

	constructor(readonly url: string, readonly pool: Pool, public capacity: number) {
		this.hash = hashString(url);
	}

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

	/** Whether its last scrape says it is nearly full: routing goes elsewhere while another backend is not. */
	crowded(kvCacheLimit: number, waitingLimit: number): boolean {
		// Requests sent since the scrape count as waiting: a burst must not all go to the one uncrowded backend.
		return this.scraped && (this.kvCacheUsage > kvCacheLimit || this.waiting + Math.max(0, this.inflight - this.inflightAtScrape) > waitingLimit);
	}

	/**
	 * Its load in vllm-router's terms, running·3 + waiting, as of the last scrape plus the requests
	 * sent (or finished) since, so a burst between two scrapes does not all land on one backend.
	 * Without a scrape, our own in-flight count stands for `running`.
	 */
	load(): number {
		if (!this.scraped) {
			return 3 * this.inflight;
		}

		return Math.max(0, (3 * this.running) + this.waiting + (3 * (this.inflight - this.inflightAtScrape)));
	}

	observe(load: BackendLoad): void {
		this.healthy = load.healthy;
		this.scraped = load.running !== undefined;
		this.running = load.running ?? 0;
		this.waiting = load.waiting ?? 0;
		this.kvCacheUsage = load.kvCacheUsage ?? 0;
		this.inflightAtScrape = this.inflight;
	}

	/** A request is on its way to it. */
	begin(): void {
		this.inflight++;
		this.#dirty = true;
	}

	/** The attempt begun last is over; `firstByteMs` is undefined when no response byte came. */
	finish(totalMs: number, firstByteMs: number | undefined, failed: boolean): void {
		this.inflight--;
		this.#requests++;
		if (failed) {
			this.#errors++;
		}

		this.#latencyCounts[bucketIndex(totalMs)]!++;
		if (firstByteMs !== undefined) {
			this.#ttftCounts[bucketIndex(firstByteMs)]!++;
		}

		this.#dirty = true;
	}

	/** What changed since the last report, or undefined when nothing did; the counts start again from zero. */
	report(): BackendActivity | undefined {
		if (!this.#dirty) {
			return undefined;
		}

		const activity = {
			url: this.url,
			inflight: this.inflight,
			requests: this.#requests,
			errors: this.#errors,
			latencyCounts: this.#latencyCounts,
			ttftCounts: this.#ttftCounts,
		};
		this.#requests = 0;
		this.#errors = 0;
		this.#latencyCounts = new Array<number>(latencyBucketCount).fill(0);
		this.#ttftCounts = new Array<number>(latencyBucketCount).fill(0);
		this.#dirty = false;
		return activity;
	}
}
