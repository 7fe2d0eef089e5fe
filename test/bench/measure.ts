/** What every part of the bench does alike: warm up and measure a load, wait for a first answer, tell progress. */
import {request} from 'undici';
import {runLoad, type LoadResult} from './load.js';
import {cpuTimeMs} from './proc.js';
import type {Service} from './processes.js';
import {chatBody, chatPath, jsonHeaders} from './requests.js';

/** Seconds of each measured load, and of the untimed run before it. */
export interface Timing {
	seconds: number;
	warmupSeconds: number;
}

/** Where a load goes (several origins: spread by the client), and the processes whose CPU time it costs. */
export interface LoadTarget {
	name: string;
	origins: string | readonly string[];
	pids: readonly number[];
}

export function serviceTarget(service: Service): LoadTarget {
	return {name: service.name, origins: service.url, pids: [service.pid]};
}

/**
 * A warm-up run, then the measured one, with the CPU time the target's processes spent on it.
 * `beforeMeasured` runs in between, e.g. to read counters that the warm-up must not count.
 */
export async function measureLoad(target: LoadTarget, connections: number, timing: Timing, beforeMeasured?: () => Promise<void>): Promise<{result: LoadResult; cpuMsPerRequest: number}> {
	await runLoad(target.origins, connections, timing.warmupSeconds);
	await beforeMeasured?.();
	const cpuBefore = totalCpuMs(target.pids);
	const result = await runLoad(target.origins, connections, timing.seconds);
	const cpuMsPerRequest = (totalCpuMs(target.pids) - cpuBefore) / result.requests;
	progress(`${target.name}, ${connections} connection${connections === 1 ? '' : 's'}: ${Math.round(result.requestsPerSecond)} req/s, `
		+ `mean ${result.latency.mean.toFixed(3)} ms, p99 ${result.latency.p99.toFixed(3)} ms, ${cpuMsPerRequest.toFixed(3)} CPU ms/request`);
	return {result, cpuMsPerRequest};
}

function totalCpuMs(pids: readonly number[]): number {
	return pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
}

/** One complete answer; through switchboard this waits for the backend to start. */
export async function firstAnswer(service: Service, maxTokens: number): Promise<void> {
	const {statusCode, body} = await request(service.url + chatPath, {
		method: 'POST',
		headers: jsonHeaders,
		body: chatBody({stream: false, maxTokens}),
		headersTimeout: 60_000,
		bodyTimeout: 60_000,
	});
	const text = await body.text();
	if (statusCode !== 200) {
		throw new Error(`${service.name} answered ${statusCode}: ${text}`);
	}
}

/** A GET that must answer 200; its body. */
export async function getText(url: string): Promise<string> {
	const {statusCode, body} = await request(url, {headersTimeout: 10_000, bodyTimeout: 10_000});
	const text = await body.text();
	if (statusCode !== 200) {
		throw new Error(`GET ${url} answered ${statusCode}: ${text}`);
	}

	return text;
}

export function progress(message: string): void {
	process.stderr.write(`bench: ${message}\n`);
}
