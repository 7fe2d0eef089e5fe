/**
 * What watching many backends costs switchboard while no request comes: one static model over
 * 50 idle vLLM look-alikes (test/bench/metrics-servers.ts, in a process of their own), their
 * /metrics scraped every 2 s, against the same switchboard with health checks off over the same
 * span (its idle cost, counted out). Both run side by side, so drift of the machine falls on both.
 */
import {readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {firstAnswer, getText, progress} from './measure.js';
import {cpuTimeMs} from './proc.js';
import type {Processes} from './processes.js';
import type {ScrapeMeasurements} from './report.js';
import {modelName} from './requests.js';
import {writeStaticConfig} from './static-config.js';

const backendCount = 50;
const intervalMs = 2000;
/** Before the span: starting, the first rounds (connections opening) and the JIT are not the steady cost. */
const settleMs = 3 * intervalMs;
/** Requests served before the sample is taken, so its counters and histograms hold values, as a serving backend's do. */
const sampleRequests = 20;

/**
 * `spanSeconds` of idle time measured; `metricsFile` (optional) is a /metrics text to serve
 * instead of the simulator's, e.g. one saved from a real vLLM.
 */
export async function measureScrapeCost(processes: Processes, workDir: string, simFlags: readonly string[], spanSeconds: number, metricsFile: string | undefined): Promise<ScrapeMeasurements> {
	const metricsPath = path.join(workDir, 'scrape-metrics.txt');
	writeFileSync(metricsPath, metricsFile === undefined ? await simulatorMetrics(processes, simFlags) : readFileSync(metricsFile));
	const metrics = readFileSync(metricsPath, 'utf8');
	const metricsLines = metrics.split('\n').filter(line => line !== '').length;
	const metricsBytes = Buffer.byteLength(metrics);
	progress(`${backendCount} backends answering /metrics with ${metricsLines} lines (${(metricsBytes / 1024).toFixed(1)} kB, from ${metricsFile ?? 'the simulator'}); `
		+ `switchboard scraping them every ${intervalMs / 1000} s and one with health checks off, ${spanSeconds} s measured after ${settleMs / 1000} s`);

	const servers = await processes.metricsServers('metrics-servers', backendCount, metricsPath, modelName);
	const configFor = (healthChecks: boolean) => writeStaticConfig(workDir, healthChecks ? 'scrape-on' : 'scrape-off', {
		backends: servers.urls, healthChecks, healthInterval: `${intervalMs / 1000}s`,
	});
	const [scraping, idle] = await Promise.all([
		processes.switchboardWithConfig('switchboard-scraping', configFor(true)),
		processes.switchboardWithConfig('switchboard-no-health', configFor(false)),
	]);
	await sleep(settleMs);

	const scrapesBefore = sum(await servers.scrapes());
	const cpuBefore = {scraping: cpuTimeMs(scraping.pid), idle: cpuTimeMs(idle.pid)};
	const startedAt = performance.now();
	await sleep(spanSeconds * 1000);
	const cpuAfter = {scraping: cpuTimeMs(scraping.pid), idle: cpuTimeMs(idle.pid)};
	const elapsedMs = performance.now() - startedAt;
	const scrapes = sum(await servers.scrapes()) - scrapesBefore;

	// A figure for scrapes that did not happen, or whose text switchboard could not read, would mean nothing.
	const expected = backendCount * elapsedMs / intervalMs;
	if (scrapes < 0.8 * expected) {
		throw new Error(`switchboard scraped ${scrapes} times in ${(elapsedMs / 1000).toFixed(1)} s; ${Math.round(expected)} expected`);
	}

	await expectAllScraped(scraping.url);
	const percent = (cpuMs: number) => cpuMs / elapsedMs * 100;
	const result: ScrapeMeasurements = {
		backends: backendCount,
		intervalMs,
		seconds: elapsedMs / 1000,
		metricsLines,
		metricsBytes,
		scrapes,
		scrapingPercent: percent(cpuAfter.scraping - cpuBefore.scraping),
		idlePercent: percent(cpuAfter.idle - cpuBefore.idle),
	};
	progress(`${scrapes} scrapes in ${result.seconds.toFixed(1)} s: switchboard ${result.scrapingPercent.toFixed(2)}% of a core, `
		+ `${result.idlePercent.toFixed(2)}% with health checks off`);
	await Promise.all([scraping, idle, servers].map(async service => service.stop()));
	return result;
}

/** The /metrics of a simulator that has served a few requests. */
async function simulatorMetrics(processes: Processes, simFlags: readonly string[]): Promise<string> {
	const sim = await processes.sim('scrape-sample', simFlags);
	try {
		for (let index = 0; index < sampleRequests; index++) {
			await firstAnswer(sim, 16);
		}

		return await getText(`${sim.url}/metrics`);
	} finally {
		await sim.stop();
	}
}

/** Every backend healthy, with load figures from a scrape. */
async function expectAllScraped(switchboardUrl: string): Promise<void> {
	const {backends} = JSON.parse(await getText(`${switchboardUrl}/_backends`)) as {backends: Array<{url: string; healthy: boolean; num_requests_running: number | null; last_error: string | null}>};
	const unscraped = backends.filter(backend => !backend.healthy || backend.num_requests_running === null);
	if (backends.length !== backendCount || unscraped.length > 0) {
		throw new Error(`switchboard watches ${backends.length} of ${backendCount} backends; not healthy or not scraped: ${JSON.stringify(unscraped.slice(0, 3))}`);
	}
}

function sum(values: readonly number[]): number {
	return values.reduce((total, value) => total + value, 0);
}
