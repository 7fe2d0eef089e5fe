/** Streaming measurements, with undici so that each response's first chunk can be timed. */
import {setMaxListeners} from 'node:events';
import {setTimeout as sleep} from 'node:timers/promises';
import {Pool} from 'undici';
import {chatBody, chatPath, jsonHeaders} from './requests.js';
import {summarize, type Summary} from './stats.js';

const streamBody = chatBody({stream: true, maxTokens: 16});

/**
 * Milliseconds from sending a streaming request to its first body chunk (the first SSE frame),
 * over `count` sequential requests on one keep-alive connection, after `warmup` untimed ones.
 */
export async function timeToFirstChunk(origin: string, count: number, warmup: number): Promise<Summary> {
	const pool = new Pool(origin, {connections: 1, headersTimeout: 10_000, bodyTimeout: 10_000});
	try {
		const samples: number[] = [];
		for (let index = 0; index < warmup + count; index++) {
			const ms = await firstChunkMs(pool);
			if (index >= warmup) {
				samples.push(ms);
			}
		}

		return summarize(samples);
	} finally {
		await pool.close();
	}
}

async function firstChunkMs(pool: Pool): Promise<number> {
	const start = performance.now();
	const {statusCode, body} = await pool.request({path: chatPath, method: 'POST', headers: jsonHeaders, body: streamBody});
	let firstAt: number | undefined;
	// Read to the end so the connection is reused, as a client would.
	for await (const _chunk of body) {
		firstAt ??= performance.now();
	}

	if (statusCode !== 200 || firstAt === undefined) {
		throw new Error(`streaming request answered ${statusCode}${firstAt === undefined ? ' with no body' : ''}`);
	}

	return firstAt - start;
}

/**
 * Opens `count` long streaming requests at once (one connection each), waits until every one
 * has received its first chunk, holds them `holdMs` longer so that tokens are flowing through all
 * of them, runs `measure` while they are all open, then aborts them.
 */
export async function withOpenStreams<T>(origin: string, count: number, maxTokens: number, holdMs: number, measure: () => T): Promise<T> {
	const timeoutMs = 60_000;
	const pool = new Pool(origin, {connections: count, headersTimeout: timeoutMs, bodyTimeout: 0});
	const controller = new AbortController();
	// One signal aborts every stream (and the timer below).
	setMaxListeners(count + 1, controller.signal);
	const body = chatBody({stream: true, maxTokens});
	try {
		const opened = Promise.all(Array.from({length: count}, async () => openStream(pool, body, controller.signal)));
		// The abort below also cancels this timer.
		await Promise.race([opened, sleep(timeoutMs, undefined, {signal: controller.signal}).then(() => {
			throw new Error(`${count} streams did not all start within ${timeoutMs / 1000} s`);
		})]);
		await sleep(holdMs);
		return measure();
	} finally {
		controller.abort();
		await pool.destroy();
	}
}

async function openStream(pool: Pool, body: string, signal: AbortSignal): Promise<void> {
	const response = await pool.request({path: chatPath, method: 'POST', headers: jsonHeaders, body, signal});
	if (response.statusCode !== 200) {
		throw new Error(`streaming request answered ${response.statusCode}`);
	}

	// Aborting at the end errors every body; that is expected.
	response.body.on('error', () => undefined);
	await new Promise<void>(resolve => {
		// The body keeps flowing with no listener: later tokens are read and dropped, so nothing stalls on backpressure.
		response.body.once('data', () => {
			resolve();
		});
	});
}
