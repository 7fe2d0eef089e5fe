import {leastLoaded, type Upstream} from '../routing/upstream.js';
import type {ModelActivity, ModelRoute} from './protocol.js';
import {HoldQueue} from './hold-queue.js';
import type {ProxyRequest} from './proxy-request.js';

/**
 * The data plane's view of one model: where to send its requests, who waits for it,
 * and the counters the control plane reads (aggregated, never per request).
 */
export class ModelSlot {
	readonly queue: HoldQueue<ProxyRequest>;
	/** The fleet's word for the model's state, for `GET /v1/models`. */
	state: string;
	/** See ModelRoute.servedName. */
	servedName: string | undefined;
	maxWaitMs: number;
	/** The ready backends; empty while the model is not ready or is being stopped. */
	upstreams: Upstream[] = [];
	#rotation = 0;
	inflight = 0;
	requests = 0;
	errors = 0;
	lastArrivedAt = 0;
	lastEndedAt = 0;
	/** Counters changed since the control plane last heard of them. */
	dirty = false;

	constructor(readonly name: string, route: ModelRoute) {
		this.queue = new HoldQueue(route.maxQueue);
		this.state = route.state;
		this.servedName = route.servedName;
		this.maxWaitMs = route.maxWaitMs;
	}

	get ready(): boolean {
		return this.upstreams.length > 0;
	}

	/** Where a request goes next (see leastLoaded); undefined when no backend is left to try. */
	pick(now: number, tried: readonly Upstream[] | undefined): Upstream | undefined {
		this.#rotation = (this.#rotation + 1) % Math.max(1, this.upstreams.length);
		return leastLoaded(this.upstreams, now, tried, this.#rotation);
	}

	arrived(now: number): void {
		this.inflight++;
		this.requests++;
		this.lastArrivedAt = now;
		this.dirty = true;
	}

	ended(now: number, failed: boolean): void {
		this.inflight--;
		this.lastEndedAt = now;
		if (failed) {
			this.errors++;
		}

		this.dirty = true;
	}

	activity(): ModelActivity {
		this.dirty = false;
		return {
			model: this.name,
			inflight: this.inflight,
			lastArrivedAt: this.lastArrivedAt,
			lastEndedAt: this.lastEndedAt,
			requests: this.requests,
			errors: this.errors,
		};
	}
}
