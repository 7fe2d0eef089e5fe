/** Turns the measurements into the rows of the results table, as markdown and as JSON. */
import type {Summary} from './stats.js';

/** Each part of the bench that ran (BENCH_ONLY may leave some out). */
export interface Measurements {
	proxy?: ProxyMeasurements;
	replicas?: ReplicaMeasurements;
	scrape?: ScrapeMeasurements;
	consoleFrame?: ConsoleFrameMeasurements;
	consoleLatency?: ConsoleLatencyMeasurements;
}

/** One backend, directly and through switchboard. */
export interface ProxyMeasurements {
	/** Latency at one connection, non-streaming, ms: direct, the binary, host.ts idle and with its main thread busy. */
	latency: {direct: Summary; switchboard: Summary; hostIdle: Summary; hostBusyMain: Summary; hostBusyElsewhere: Summary};
	/** Requests per second at 64 connections. */
	throughput: {direct: number; switchboard: number};
	/** CPU ms per request during the 64-connection runs: the direct backend's, and switchboard's own process. */
	cpuMsPerRequest: {backend: number; switchboard: number};
	/** Streaming request to its first body chunk, ms. */
	firstChunk: {direct: Summary; switchboard: Summary};
	rss: {streams: number; idleMb: number; openMb: number};
}

export interface LoadFigures {
	requestsPerSecond: number;
	requests: number;
	latency: Summary;
}

/** Replicas of one static model behind least-load, against the same backends reached directly. */
export interface ReplicaMeasurements {
	replicas: number;
	connections: number;
	/** Every connection to the first replica. */
	directOne: LoadFigures;
	/** The connections shared out over the replicas by the client itself. */
	directSpread: LoadFigures;
	switchboard: LoadFigures;
	/** CPU ms per request: of all replicas together in the spread run, and of switchboard's process. */
	cpuMsPerRequest: {backends: number; switchboard: number};
	/** Requests each replica finished during the run through switchboard, by its own vllm:request_success_total. */
	perReplica: number[];
}

/** switchboard idle with a static model of many backends, scraping them, and with health checks off. */
export interface ScrapeMeasurements {
	backends: number;
	intervalMs: number;
	/** The measured span. */
	seconds: number;
	/** Size of the /metrics text each backend answers. */
	metricsLines: number;
	metricsBytes: number;
	/** /metrics requests the backends answered during the span. */
	scrapes: number;
	/** CPU time over the span as a percentage of one core. */
	scrapingPercent: number;
	idlePercent: number;
}

/** The console's frames, rendered by Ink into a terminal that discards them, over a fleet of ready replicas. */
export interface ConsoleFrameMeasurements {
	replicas: number;
	logPaneLines: number;
	/** New log lines in each measured frame (new figures come with each one too). */
	linesPerFrame: number;
	budgetMs: number;
	views: ConsoleView[];
	steady: SteadyConsole;
}

/** One view of the console, a frame at a time. */
export interface ConsoleView {
	name: string;
	columns: number;
	rows: number;
	frames: number;
	/** Ink renders per frame: more than 1 when a timer of the App's redraws within the frame. */
	rendersPerFrame: number;
	bytesPerFrame: number;
	/** CPU of the whole process per frame, ms: the store's read, React, Ink's layout and output. */
	cpuMs: Summary;
	/** Ink's own render of the laid-out tree to text (wall time, by its onRender metrics), ms. */
	inkRenderMs: Summary;
}

/** The console as switchboard runs it, on the system clock, under a steady stream of log lines. */
export interface SteadyConsole {
	seconds: number;
	logLinesPerSecond: number;
	/** Ink's renders. */
	renders: number;
	rendersPerSecond: number;
	/** The store's frames: each one renders the App in React, whether Ink draws it or not. */
	storeFramesPerSecond: number;
	/** CPU of the process as a percentage of one core. */
	cpuPercent: number;
}

/** The binary with its console on a terminal (tmux) and with --no-ui, against the backend directly. */
export interface ConsoleLatencyMeasurements {
	terminal: {columns: number; rows: number};
	connections: number;
	/** One connection, pooled over alternating runs, ms. */
	latency: {direct: Summary; noUi: Summary; ui: Summary};
	/** Requests per second at `connections`. */
	throughput: {direct: number; noUi: number; ui: number};
	/** switchboard's process (every thread) per request at `connections`. */
	cpuMsPerRequest: {noUi: number; ui: number};
	/** Frames the console wrote to the terminal during the one-connection runs. */
	framesPerSecond: number;
}

type Unit = 'ms' | 'req/s' | 'MB' | '%' | '/s';

export interface Row {
	metric: string;
	unit: Unit;
	direct: number | null;
	switchboard: number;
	/** switchboard − direct ("added"), a ratio, or the change in percent; `versus` names what a ratio divides by. */
	comparison: {kind: 'added' | 'ratio' | 'percent'; value: number; versus: string} | null;
	target: string | null;
	met: boolean | null;
}

export function buildRows(m: Measurements): Row[] {
	return [
		...(m.proxy ? proxyRows(m.proxy) : []),
		...(m.replicas ? replicaRows(m.replicas) : []),
		...(m.scrape ? scrapeRows(m.scrape) : []),
		...(m.consoleFrame ? consoleFrameRows(m.consoleFrame) : []),
		...(m.consoleLatency ? consoleLatencyRows(m.consoleLatency) : []),
	];
}

function proxyRows(m: ProxyMeasurements): Row[] {
	const {latency, throughput, cpuMsPerRequest, firstChunk, rss} = m;
	return [
		added('latency mean, 1 connection', latency.direct.mean, latency.switchboard.mean, 0.25),
		added('latency p99, 1 connection', latency.direct.p99, latency.switchboard.p99),
		{
			...row('requests/s, 64 connections', 'req/s', throughput.direct, throughput.switchboard),
			comparison: {kind: 'ratio', value: throughput.switchboard / throughput.direct, versus: 'direct'},
			target: '≥ 0.5× direct',
			met: throughput.switchboard / throughput.direct >= 0.5,
		},
		{
			...row('CPU per request, 64 connections (direct: the backend\'s own)', 'ms', cpuMsPerRequest.backend, cpuMsPerRequest.switchboard),
			target: '≤ 0.12 ms',
			met: cpuMsPerRequest.switchboard <= 0.12,
		},
		added('stream first chunk, median', firstChunk.direct.median, firstChunk.switchboard.median),
		added('stream first chunk, p99', firstChunk.direct.p99, firstChunk.switchboard.p99),
		{
			...row(`RSS with ${rss.streams.toLocaleString('en-US')} open streams (idle: ${rss.idleMb.toFixed(1)} MB)`, 'MB', null, rss.openMb),
			target: '≤ 150 MB',
			met: rss.openMb <= 150,
		},
		added('latency p99, 1 connection, host.ts idle', latency.direct.p99, latency.hostIdle.p99),
		busyRow('latency p99, 1 connection, another process busy 8 ms every 100 ms (control)', latency.direct.p99, latency.hostIdle.p99, latency.hostBusyElsewhere.p99, 'idle'),
		busyRow('latency p99, 1 connection, host.ts main thread busy 8 ms every 100 ms', latency.direct.p99, latency.hostIdle.p99, latency.hostBusyMain.p99, 'idle'),
		busyRow('latency p99, 1 connection, main thread busy, against the control', latency.direct.p99, latency.hostBusyElsewhere.p99, latency.hostBusyMain.p99, 'control'),
	];
}

function replicaRows(m: ReplicaMeasurements): Row[] {
	const {directOne, directSpread, switchboard, perReplica} = m;
	const at = `${m.replicas} replicas, ${m.connections} connections`;
	const total = perReplica.reduce((sum, count) => sum + count, 0);
	const shares = perReplica.map(count => count / total * 100);
	return [
		{
			...row(`requests/s, ${at}, least-load (direct: all to one replica)`, 'req/s', directOne.requestsPerSecond, switchboard.requestsPerSecond),
			comparison: {kind: 'ratio', value: switchboard.requestsPerSecond / directOne.requestsPerSecond, versus: 'one replica'},
		},
		{
			...row(`requests/s, ${at}, least-load (direct: the client spreading over the ${m.replicas})`, 'req/s', directSpread.requestsPerSecond, switchboard.requestsPerSecond),
			comparison: {kind: 'ratio', value: switchboard.requestsPerSecond / directSpread.requestsPerSecond, versus: 'client spread'},
		},
		added(`latency mean, ${at} (direct: client spread)`, directSpread.latency.mean, switchboard.latency.mean),
		added(`latency p99, ${at} (direct: client spread)`, directSpread.latency.p99, switchboard.latency.p99),
		row(`CPU per request, ${at} (direct: the replicas' own)`, 'ms', m.cpuMsPerRequest.backends, m.cpuMsPerRequest.switchboard),
		{
			// Even is 100/n each; the busiest against the quietest says how far from it.
			...row(`busiest replica's share of requests through switchboard (even: ${(100 / m.replicas).toFixed(0)}%; each: ${shares.map(share => `${share.toFixed(1)}%`).join(' / ')})`, '%', null, Math.max(...shares)),
			comparison: {kind: 'ratio', value: Math.max(...perReplica) / Math.min(...perReplica), versus: 'quietest'},
		},
	];
}

function scrapeRows(m: ScrapeMeasurements): Row[] {
	const scrapingOnly = m.scrapingPercent - m.idlePercent;
	const perScrapeMs = (scrapingOnly / 100) * m.seconds * 1000 / m.scrapes;
	const what = `${m.backends} backends every ${m.intervalMs / 1000} s, ${m.metricsLines}-line /metrics`;
	return [
		{
			// The direct column holds the baseline here: the same switchboard with health checks off.
			...row(`CPU of one core, idle, scraping ${what} (direct: health checks off)`, '%', m.idlePercent, m.scrapingPercent),
			comparison: {kind: 'added', value: scrapingOnly, versus: 'health checks off'},
			target: '< 2% of one core added',
			met: scrapingOnly < 2,
		},
		row(`CPU per scrape (${m.scrapes.toLocaleString('en-US')} scrapes in ${m.seconds.toFixed(1)} s)`, 'ms', null, perScrapeMs),
	];
}

function consoleFrameRows(m: ConsoleFrameMeasurements): Row[] {
	const budget = (metric: string, value: number): Row => ({
		...row(metric, 'ms', null, value),
		target: `≤ ${m.budgetMs} ms`,
		met: value <= m.budgetMs,
	});
	const what = `${m.replicas} backends, new figures and ${m.linesPerFrame} log lines each frame`;
	return [
		...m.views.flatMap(view => {
			const where = `console CPU per frame, ${view.name}, ${view.columns}×${view.rows}, ${what}`;
			return [budget(`${where}, mean`, view.cpuMs.mean), budget(`${where}, p95`, view.cpuMs.p95)];
		}),
		{
			...row(`console redraws per second, ${m.steady.logLinesPerSecond} log lines/s and a read a second (store frameMs 200, Ink maxFps 10)`, '/s', null, m.steady.rendersPerSecond),
			target: '≤ ~10/s',
			met: m.steady.rendersPerSecond <= 10.5,
		},
		row(`console CPU of one core at that pace, ${m.replicas} backends`, '%', null, m.steady.cpuPercent),
	];
}

function consoleLatencyRows(m: ConsoleLatencyMeasurements): Row[] {
	const on = `console on (tmux ${m.terminal.columns}×${m.terminal.rows}, redrawing)`;
	const percentiles = [['p50', 'median'], ['p90', 'p90'], ['p99', 'p99']] as const;
	return [
		...percentiles.flatMap(([label, key]) => [
			added(`latency ${label}, 1 connection, --no-ui`, m.latency.direct[key], m.latency.noUi[key]),
			added(`latency ${label}, 1 connection, ${on}`, m.latency.direct[key], m.latency.ui[key]),
			againstHeadless(`latency ${label}, 1 connection, console on against --no-ui (direct: --no-ui; the latency switchboard adds: ${percentChange(m.latency.noUi[key] - m.latency.direct[key], m.latency.ui[key] - m.latency.direct[key])})`, 'ms', m.latency.noUi[key], m.latency.ui[key], '< +10%', change => change < 10),
		]),
		{
			...row(`requests/s, ${m.connections} connections, --no-ui`, 'req/s', m.throughput.direct, m.throughput.noUi),
			comparison: {kind: 'ratio', value: m.throughput.noUi / m.throughput.direct, versus: 'direct'},
		},
		{
			...row(`requests/s, ${m.connections} connections, ${on}`, 'req/s', m.throughput.direct, m.throughput.ui),
			comparison: {kind: 'ratio', value: m.throughput.ui / m.throughput.direct, versus: 'direct'},
		},
		againstHeadless(`requests/s, ${m.connections} connections, console on against --no-ui (direct: --no-ui)`, 'req/s', m.throughput.noUi, m.throughput.ui, '> −10%', change => change > -10),
		againstHeadless(`CPU per request, ${m.connections} connections, console on against --no-ui (direct: --no-ui)`, 'ms', m.cpuMsPerRequest.noUi, m.cpuMsPerRequest.ui),
		{
			...row(`console frames written to the terminal per second during the 1-connection runs`, '/s', null, m.framesPerSecond),
			target: '≤ ~10/s',
			met: m.framesPerSecond <= 10.5,
		},
	];
}

function percentChange(from: number, to: number): string {
	const change = ((to / from) - 1) * 100;
	return `${change >= 0 ? '+' : '−'}${Math.abs(change).toFixed(0)}%`;
}

/** The console's figure against --no-ui's (in the direct column), as a change in percent. */
function againstHeadless(metric: string, unit: Unit, headless: number, withConsole: number, target?: string, met?: (change: number) => boolean): Row {
	const change = ((withConsole / headless) - 1) * 100;
	return {
		...row(metric, unit, headless, withConsole),
		comparison: {kind: 'percent', value: change, versus: '--no-ui'},
		target: target ?? null,
		met: met ? met(change) : null,
	};
}

/**
 * The p99 that switchboard adds under a busy 8 ms every 100 ms, as a multiple of what it adds in
 * the baseline: idle, or the same load in another process (on a small machine, a busy core slows
 * everyone; the control tells that apart from the main thread stalling the proxy).
 */
function busyRow(metric: string, direct: number, baseline: number, busy: number, versus: 'idle' | 'control'): Row {
	const addedBaseline = baseline - direct;
	const ratio = (busy - direct) / addedBaseline;
	// Below the direct figure, the baseline added nothing measurable: no ratio to take.
	const measurable = addedBaseline > 0;
	return {
		...row(metric, 'ms', direct, busy),
		comparison: measurable ? {kind: 'ratio', value: ratio, versus: `${versus} added p99`} : null,
		target: `≤ 1.10× ${versus} added p99`,
		met: measurable ? ratio <= 1.1 : null,
	};
}

function row(metric: string, unit: Unit, direct: number | null, switchboard: number): Row {
	return {metric, unit, direct, switchboard, comparison: null, target: null, met: null};
}

/** A row whose comparison is what switchboard adds, with an optional ceiling on it. */
function added(metric: string, direct: number, switchboard: number, maxAddedMs?: number): Row {
	const value = switchboard - direct;
	return {
		...row(metric, 'ms', direct, switchboard),
		comparison: {kind: 'added', value, versus: 'direct'},
		target: maxAddedMs === undefined ? null : `≤ ${maxAddedMs} ms added`,
		met: maxAddedMs === undefined ? null : value <= maxAddedMs,
	};
}

export function markdownTable(rows: readonly Row[]): string {
	const lines = [
		'| metric | direct | switchboard | ratio / added | target | met? |',
		'|---|---:|---:|---:|---|---|',
	];
	for (const entry of rows) {
		const cells = [
			entry.metric,
			entry.direct === null ? '—' : formatValue(entry.direct, entry.unit),
			formatValue(entry.switchboard, entry.unit),
			formatComparison(entry),
			entry.target ?? '—',
			entry.met === null ? '—' : (entry.met ? 'yes' : '**no**'),
		];
		lines.push(`| ${cells.join(' | ')} |`);
	}

	return lines.join('\n');
}

function formatValue(value: number, unit: Unit): string {
	switch (unit) {
		case 'ms': {
			return `${value.toFixed(3)} ms`;
		}

		case 'req/s': {
			return `${Math.round(value).toLocaleString('en-US')} req/s`;
		}

		case 'MB': {
			return `${value.toFixed(1)} MB`;
		}

		case '%': {
			return `${value.toFixed(2)}%`;
		}

		case '/s': {
			return `${value.toFixed(1)}/s`;
		}
	}
}

function formatComparison(entry: Row): string {
	const {comparison} = entry;
	if (!comparison) {
		return '—';
	}

	if (comparison.kind === 'ratio') {
		return `${comparison.value.toFixed(2)}× ${comparison.versus}`;
	}

	if (comparison.kind === 'percent') {
		return `${comparison.value >= 0 ? '+' : '−'}${Math.abs(comparison.value).toFixed(1)}%`;
	}

	return `${comparison.value >= 0 ? '+' : '−'}${formatValue(Math.abs(comparison.value), entry.unit)}`;
}
