import type {HealthConfig} from '../config/types.js';
import type {BackendActivity} from '../dataplane/protocol.js';
import type {Clock} from '../util/clock.js';
import {readBackendMetrics, type BackendMetrics} from './backend-metrics.js';
import {counterRate} from './counter.js';
import {histogramIncrease, histogramQuantile} from './histogram.js';
import {BackendMonitor, type BackendHealth, type MonitorEvents, type MonitorTarget, type Probe} from './monitor.js';
import {addInto, latencyBucketCount, RollingWindow, type WindowStats} from './rolling.js';

/** switchboard's own count of one backend's requests, since it first saw the backend. */
interface Traffic {
	window: RollingWindow;
	inflight: number;
	requests: number;
	errors: number;
	/** Per bucket of rolling.ts, for the Prometheus histograms. */
	latencyCounts: number[];
	ttftCounts: number[];
}

/** What the backend's own counters and histograms said between its last two scrapes. */
interface ScrapeRates {
	promptTokensPerSecond: number | undefined;
	generationTokensPerSecond: number | undefined;
	ttftP50Ms: number | undefined;
	e2eP50Ms: number | undefined;
}

/** Everything known of one backend, as the admin API, /metrics and the UI show it. */
export interface BackendView {
	model: string;
	url: string;
	health: BackendHealth<BackendMetrics> | undefined;
	scrape: ScrapeRates | undefined;
	inflight: number;
	requests: number;
	errors: number;
	latencyCounts: readonly number[];
	ttftCounts: readonly number[];
	lastMinute: WindowStats;
	lastFiveMinutes: WindowStats;
}

/**
 * The control plane's measurements: backend health and scrapes (the monitor) and switchboard's
 * own per-backend request statistics (from the data plane's 250 ms reports). Measurements only:
 * lifecycle state stays in the fleet.
 */
export class Telemetry {
	readonly monitor: BackendMonitor<BackendMetrics>;
	readonly #traffic = new Map<string, Traffic>();
	readonly #rates = new Map<string, ScrapeRates>();

	constructor(config: HealthConfig, private readonly clock: Clock, probe: Probe, events: MonitorEvents<BackendMetrics>) {
		this.monitor = new BackendMonitor(config, clock, probe, readBackendMetrics, {
			...events,
			scraped: (backend, previous) => {
				this.#scraped(backend, previous);
			},
		});
	}

	/** The backends to watch; what is known of backends no longer there is dropped (unless requests to them are still in flight). */
	watch(targets: readonly MonitorTarget[]): void {
		this.monitor.watch(targets);
		const now = this.clock.now();
		for (const target of targets) {
			this.#trafficOf(target.url, now);
		}

		const urls = new Set(targets.map(target => target.url));
		for (const [url, traffic] of this.#traffic) {
			if (!urls.has(url) && traffic.inflight === 0) {
				this.#traffic.delete(url);
				this.#rates.delete(url);
			}
		}
	}

	activity(backends: readonly BackendActivity[]): void {
		const now = this.clock.now();
		for (const activity of backends) {
			const traffic = this.#trafficOf(activity.url, now);
			traffic.window.add(activity, now);
			traffic.inflight = activity.inflight;
			traffic.requests += activity.requests;
			traffic.errors += activity.errors;
			addInto(traffic.latencyCounts, activity.latencyCounts);
			addInto(traffic.ttftCounts, activity.ttftCounts);
		}
	}

	view(model: string, url: string): BackendView {
		const now = this.clock.now();
		const traffic = this.#traffic.get(url);
		return {
			model,
			url,
			health: this.monitor.get(url),
			scrape: this.#rates.get(url),
			inflight: traffic?.inflight ?? 0,
			requests: traffic?.requests ?? 0,
			errors: traffic?.errors ?? 0,
			latencyCounts: traffic?.latencyCounts ?? [],
			ttftCounts: traffic?.ttftCounts ?? [],
			// Worked out when read: /metrics reads views but not their windows.
			get lastMinute() {
				return traffic?.window.stats(60_000, now) ?? noRequests;
			},
			get lastFiveMinutes() {
				return traffic?.window.stats(300_000, now) ?? noRequests;
			},
		};
	}

	/** Counting starts when a backend is first watched, so its first minute's rate is not divided by the time before. */
	#trafficOf(url: string, now: number): Traffic {
		let traffic = this.#traffic.get(url);
		if (!traffic) {
			traffic = {
				window: new RollingWindow(now),
				inflight: 0,
				requests: 0,
				errors: 0,
				latencyCounts: new Array<number>(latencyBucketCount).fill(0),
				ttftCounts: new Array<number>(latencyBucketCount).fill(0),
			};
			this.#traffic.set(url, traffic);
		}

		return traffic;
	}

	#scraped(backend: BackendHealth<BackendMetrics>, previous: {metrics: BackendMetrics; at: number} | undefined): void {
		const current = backend.metrics;
		if (!current || !previous || backend.scrapedAt === undefined) {
			return;
		}

		const at = backend.scrapedAt;
		const rate = (pick: (metrics: BackendMetrics) => number | undefined) => {
			const newer = pick(current);
			const older = pick(previous.metrics);
			return newer === undefined || older === undefined ? undefined : counterRate({value: newer, atMs: at}, {value: older, atMs: previous.at});
		};

		const known = this.#rates.get(backend.url);
		const median = (pick: (metrics: BackendMetrics) => BackendMetrics['ttft'], last: number | undefined) => {
			const newer = pick(current);
			const older = pick(previous.metrics);
			if (!newer || !older) {
				return undefined;
			}

			const seconds = histogramQuantile(0.5, histogramIncrease(newer, older));
			// No request finished between the two scrapes: the last figure still stands.
			return seconds === undefined ? last : seconds * 1000;
		};

		this.#rates.set(backend.url, {
			promptTokensPerSecond: rate(metrics => metrics.promptTokens),
			generationTokensPerSecond: rate(metrics => metrics.generationTokens),
			ttftP50Ms: median(metrics => metrics.ttft, known?.ttftP50Ms),
			e2eP50Ms: median(metrics => metrics.e2eLatency, known?.e2eP50Ms),
		});
	}
}

const noRequests: WindowStats = {
	requests: 0,
	requestsPerSecond: 0,
	errors: 0,
	errorRate: undefined,
	latencyP50Ms: undefined,
	latencyP95Ms: undefined,
	ttftP50Ms: undefined,
};
