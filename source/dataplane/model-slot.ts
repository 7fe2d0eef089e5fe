import type {RoutingConfig} from '../config/types.js';
import {Picker, type PickRequest} from '../routing/pick.js';
import type {Upstream} from '../routing/upstream.js';
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
	state = '';
	aliases: string[] = [];
	/** See ModelRoute.servedName. */
	servedName: string | undefined;
	maxWaitMs = 0;
	onCold: 'hold' | 'reject' = 'hold';
	/** See ModelRoute.unavailable. */
	unavailable: string | undefined;
	/** Its requests go out as they came: no name to rewrite, no session to read from the body. */
	passThrough = false;
	/** The ready backends; empty while the model is not ready or is being stopped. */
	upstreams: Upstream[] = [];
	readonly #picker: Picker;
	inflight = 0;
	requests = 0;
	errors = 0;
	lastArrivedAt = 0;
	lastEndedAt = 0;
	/** Counters changed since the control plane last heard of them. */
	dirty = false;

	constructor(readonly name: string, route: ModelRoute, random: () => number) {
		this.queue = new HoldQueue(route.maxQueue);
		this.#picker = new Picker(route.routing, random);
		this.update(route);
	}

	get ready(): boolean {
		return this.upstreams.length > 0;
	}

	get routing(): RoutingConfig {
		return this.#picker.config;
	}

	update(route: ModelRoute): void {
		this.state = route.state;
		this.aliases = route.aliases;
		this.servedName = route.servedName;
		this.queue.capacity = route.maxQueue;
		this.maxWaitMs = route.maxWaitMs;
		this.onCold = route.onCold;
		this.unavailable = route.unavailable;
		this.#picker.config = route.routing;
		this.passThrough = route.servedName === undefined && route.aliases.length === 0 && route.routing.policy !== 'session';
	}

	/** Where a request goes next; undefined when no healthy backend is left to try. */
	pick(request: PickRequest): Upstream | undefined {
		return this.#picker.pick(this.upstreams, request);
	}

	/** Whether a backend other than `failing` is left for a retry (the picker's own rule of which may be chosen). */
	canRetry(tried: readonly Upstream[] | undefined, failing: Upstream | undefined): boolean {
		return this.#picker.hasCandidate(this.upstreams, tried, failing);
	}

	/** Every held request, out of the queue (to be forwarded or answered); the queue's size is news. */
	takeHeld(): ProxyRequest[] {
		const held = this.queue.take();
		if (held.length > 0) {
			this.dirty = true;
		}

		return held;
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
			queued: this.queue.size,
			lastArrivedAt: this.lastArrivedAt,
			lastEndedAt: this.lastEndedAt,
			requests: this.requests,
			errors: this.errors,
		};
	}
}
