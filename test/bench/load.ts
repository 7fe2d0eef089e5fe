/**
 * Closed-loop load with autocannon: `connections` clients, each sending the next request as
 * soon as the previous answer is complete, for a fixed time.
 */
import autocannon from 'autocannon';
import {chatBody, chatPath, jsonHeaders} from './requests.js';
import {summarize, type Summary} from './stats.js';

export interface LoadResult {
	requests: number;
	requestsPerSecond: number;
	/** Milliseconds from writing a request to the end of its response, each and summarized. */
	samples: number[];
	latency: Summary;
}

const body = chatBody({stream: false, maxTokens: 16});

/**
 * Several origins: the client spreads the load itself, connection i to origin i mod n (as
 * autocannon shares out connections), so `connections` should be a multiple of their number.
 */
export async function runLoad(origins: string | readonly string[], connections: number, seconds: number): Promise<LoadResult> {
	// Per-response times, because autocannon's own latency histogram counts whole milliseconds.
	const samples: number[] = [];
	const instance = autocannon({
		url: typeof origins === 'string' ? origins + chatPath : origins.map(origin => origin + chatPath),
		method: 'POST',
		headers: jsonHeaders,
		body,
		connections,
		duration: seconds,
		timeout: 10,
	});
	instance.on('response', (_client, _statusCode, _bytes, responseTime) => {
		samples.push(responseTime);
	});
	const result = await instance;
	if (result.errors > 0 || result.non2xx > 0) {
		throw new Error(`load on ${String(origins)} failed: ${result.errors} errors (${result.timeouts} timeouts), ${result.non2xx} non-2xx answers`);
	}

	return {
		requests: samples.length,
		requestsPerSecond: samples.length / result.duration,
		samples,
		latency: summarize(samples),
	};
}
