import type {HealthConfig} from '../config/types.js';
import type {BackendLoad} from '../dataplane/protocol.js';
import type {Clock, Timer} from '../util/clock.js';

/** A backend to watch: one ready backend of a model. */
export interface MonitorTarget {
	model: string;
	url: string;
	/** Where to check health when the backend has no /metrics. */
	pingPath: string;
}

/** One HTTP GET with a deadline; rejects on connection errors and timeouts. */
export type Probe = (url: string, timeoutMs: number) => Promise<{status: number; body: string}>;

/** The load figures routing needs from a scrape; undefined when the text has none of them. */
export type ReadLoad<Metrics extends ScrapedLoad> = (text: string) => Metrics | undefined;

export interface ScrapedLoad {
	running: number | undefined;
	waiting: number | undefined;
	kvCacheUsage: number | undefined;
}

/** What the monitor knows of one backend. */
export interface BackendHealth<Metrics extends ScrapedLoad> {
	model: string;
	url: string;
	healthy: boolean;
	/** Failed checks in a row. */
	failures: number;
	/** Why the last check failed, until one passes. */
	lastError: string | undefined;
	checkedAt: number | undefined;
	/** False once /metrics answered 404: health comes from the ping path then. */
	hasMetrics: boolean;
	/** The last scrape and when it was taken. */
	metrics: Metrics | undefined;
	scrapedAt: number | undefined;
}

/** What the monitor keeps of a backend besides what it shows. */
type Watched<Metrics extends ScrapedLoad> = BackendHealth<Metrics> & {
	pingPath: string;
	checking: boolean;
	checksWithoutMetrics: number;
};

/** A backend that answered 404 on /metrics is asked for it again after this many checks. */
const metricsRetryChecks = 30;

export interface MonitorEvents<Metrics extends ScrapedLoad> {
	/** A backend became unhealthy (several failed checks in a row) or healthy again. */
	health(backend: BackendHealth<Metrics>): void;
	/** After each check: the figures routing uses, for the backends checked. */
	loads(loads: BackendLoad[]): void;
	/** A scrape succeeded (rates and histograms are derived from consecutive scrapes). */
	scraped?(backend: BackendHealth<Metrics>, previous: {metrics: Metrics; at: number} | undefined): void;
}

/**
 * Watches every ready backend on the control plane: scrapes its /metrics each interval (its
 * load for routing), and counts consecutive failed checks for its health. A slow backend only
 * delays its own figures (each check has a deadline, and a backend is never checked twice at
 * once); requests never wait for any of this.
 */
export class BackendMonitor<Metrics extends ScrapedLoad> {
	readonly #backends = new Map<string, Watched<Metrics>>();
	#timer: Timer | undefined;
	#stopped = false;

	constructor(
		private config: HealthConfig,
		private readonly clock: Clock,
		private readonly probe: Probe,
		private readonly readLoad: ReadLoad<Metrics>,
		private readonly events: MonitorEvents<Metrics>,
	) {}

	/** The backends to watch from now on; those already watched keep what is known of them. */
	watch(targets: readonly MonitorTarget[]): void {
		const urls = new Set(targets.map(target => target.url));
		for (const url of this.#backends.keys()) {
			if (!urls.has(url)) {
				this.#backends.delete(url);
			}
		}

		for (const {model, url, pingPath} of targets) {
			const known = this.#backends.get(url);
			if (known) {
				known.model = model;
				known.pingPath = pingPath;
				continue;
			}

			this.#backends.set(url, {
				model, url, pingPath, healthy: true, failures: 0, lastError: undefined, checkedAt: undefined,
				hasMetrics: true, checksWithoutMetrics: 0, metrics: undefined, scrapedAt: undefined, checking: false,
			});
		}
	}

	get(url: string): BackendHealth<Metrics> | undefined {
		return this.#backends.get(url);
	}

	start(): void {
		if (this.config.enabled && !this.#stopped) {
			this.#schedule();
		}
	}

	stop(): void {
		this.#stopped = true;
		if (this.#timer) {
			this.clock.clearTimeout(this.#timer);
		}
	}

	/** New settings (a live reload): the next round comes one new interval from now, or none when checks are off. */
	reconfigure(config: HealthConfig): void {
		if (this.#timer) {
			this.clock.clearTimeout(this.#timer);
			this.#timer = undefined;
		}

		this.config = config;
		this.start();
	}

	/**
	 * One round: every backend not still being checked is checked now. Each backend's figures go
	 * to routing as soon as its own check ends, so a slow backend delays only itself.
	 */
	async #checkAll(): Promise<void> {
		const due = [...this.#backends.values()].filter(backend => !backend.checking);
		await Promise.all(due.map(async backend => {
			await this.#check(backend);
			if (!this.#stopped && this.#backends.get(backend.url) === backend) {
				this.events.loads([{
					url: backend.url,
					healthy: backend.healthy,
					running: backend.metrics?.running,
					waiting: backend.metrics?.waiting,
					kvCacheUsage: backend.metrics?.kvCacheUsage,
				}]);
			}
		}));
	}

	/** Rounds come every interval whatever the last one is still doing (a backend is never checked twice at once). */
	#schedule(): void {
		const timer = this.clock.setTimeout(() => {
			// Not when stopped, or when a reconfigure has scheduled rounds of its own meanwhile.
			if (!this.#stopped && this.#timer === timer) {
				this.#schedule();
				void this.#checkAll();
			}
		}, this.config.intervalMs);
		timer.unref?.();
		this.#timer = timer;
	}

	async #check(backend: Watched<Metrics>): Promise<void> {
		backend.checking = true;
		const timeoutMs = Math.min(this.config.timeoutMs, this.config.intervalMs);
		let failure: string | undefined;
		try {
			// A 404 may have been a proxy's or a rollout's: /metrics is asked again now and then.
			if (!backend.hasMetrics && ++backend.checksWithoutMetrics >= metricsRetryChecks) {
				backend.hasMetrics = true;
			}

			if (backend.hasMetrics) {
				const {status, body} = await this.probe(`${backend.url}/metrics`, timeoutMs);
				if (status === 200) {
					this.#scraped(backend, this.readLoad(body));
				} else if (status === 404) {
					// A server without metrics (or a proxy in front of one): its health comes from the ping path from now on.
					backend.hasMetrics = false;
					backend.checksWithoutMetrics = 0;
					backend.metrics = undefined;
				} else {
					failure = `/metrics answered ${status}`;
				}
			}

			if (!backend.hasMetrics) {
				const {status} = await this.probe(`${backend.url}${backend.pingPath}`, timeoutMs);
				failure = status === 200 ? undefined : `${backend.pingPath} answered ${status}`;
			}
		} catch (error) {
			failure = describe(error, timeoutMs);
		} finally {
			backend.checking = false;
		}

		if (!this.#backends.has(backend.url)) {
			// Stopped watching it while the check ran.
			return;
		}

		backend.checkedAt = this.clock.now();
		this.#record(backend, failure);
	}

	#scraped(backend: BackendHealth<Metrics>, metrics: Metrics | undefined): void {
		const previous = backend.metrics && backend.scrapedAt !== undefined ? {metrics: backend.metrics, at: backend.scrapedAt} : undefined;
		backend.metrics = metrics;
		backend.scrapedAt = this.clock.now();
		if (metrics) {
			this.events.scraped?.(backend, previous);
		}
	}

	#record(backend: BackendHealth<Metrics>, failure: string | undefined): void {
		if (failure === undefined) {
			backend.failures = 0;
			backend.lastError = undefined;
			if (!backend.healthy) {
				backend.healthy = true;
				this.events.health(backend);
			}

			return;
		}

		backend.failures++;
		backend.lastError = failure;
		// Stale figures must not steer routing while the backend is failing.
		backend.metrics = undefined;
		if (backend.healthy && backend.failures >= this.config.unhealthyAfter) {
			backend.healthy = false;
			this.events.health(backend);
		}
	}
}

function describe(error: unknown, timeoutMs: number): string {
	const {name, code, message} = error as Error & {code?: string};
	if (name === 'TimeoutError' || name === 'AbortError') {
		return `no answer within ${timeoutMs} ms`;
	}

	return code ? `${code}: ${message}` : message;
}
