/** Turns the measurements into the rows of the results table, as markdown and as JSON. */
import type {Summary} from './stats.js';

export interface Measurements {
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

type Unit = 'ms' | 'req/s' | 'MB';

export interface Row {
	metric: string;
	unit: Unit;
	direct: number | null;
	switchboard: number;
	/** switchboard − direct ("added") or a ratio; `versus` names what a ratio divides by. */
	comparison: {kind: 'added' | 'ratio'; value: number; versus: string} | null;
	target: string | null;
	met: boolean | null;
}

export function buildRows(m: Measurements): Row[] {
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

	return `${comparison.value >= 0 ? '+' : '−'}${formatValue(Math.abs(comparison.value), entry.unit)}`;
}
