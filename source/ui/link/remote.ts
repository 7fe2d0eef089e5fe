import {Pool} from 'undici';
import type {FleetEvent} from '../../fleet/events.js';
import {systemClock, type Clock, type Timer} from '../../util/clock.js';
import {envelopeMessage, type ConsoleLink} from './link.js';
import {SseParser, type SseMessage} from './sse.js';

export interface RemoteLinkOptions {
	/** switchboard's address, e.g. http://127.0.0.1:8080 (only its origin counts). */
	url: string;
	/** Sent as `Authorization: Bearer <key>` on every call. */
	adminKey?: string;
	clock?: Clock;
}

/** A call to the switchboard did not get an answer; the message says which address and why. */
export class LinkError extends Error {
	override name = 'LinkError';
}

const firstRetryMs = 500;
const longestRetryMs = 5000;
/** GET /events sends a comment every 15 s: three missed means the connection is dead, even without a FIN. */
const silenceLimitMs = 45_000;

/** The console of a switchboard in another process, over its admin API and GET /events (`switchboard attach`). */
export function remoteLink({url, adminKey, clock = systemClock}: RemoteLinkOptions): ConsoleLink {
	const {origin} = new URL(url);
	// One keep-alive pool: the event stream holds one connection, commands reuse the others.
	const pool = new Pool(origin);
	const authorization: Record<string, string> = adminKey === undefined ? {} : {authorization: `Bearer ${adminKey}`};
	const subscriptions = new Set<() => void>();

	return {
		remote: true,
		async request(method, path, body) {
			try {
				const response = await pool.request({
					method,
					path,
					headers: body === undefined ? authorization : {...authorization, 'content-type': 'application/json'},
					body: body === undefined ? undefined : JSON.stringify(body),
					// POST /models/x/start answers once the model is ready, which may take many minutes.
					headersTimeout: 0,
					bodyTimeout: 0,
				});
				return {status: response.statusCode, body: await response.body.text()};
			} catch (cause) {
				throw new LinkError(`cannot reach ${origin}: ${reason(cause)}`);
			}
		},
		subscribe(listener, trouble = () => undefined) {
			const stop = followEvents({pool, origin, authorization, clock, listener, trouble});
			const unsubscribe = () => {
				subscriptions.delete(unsubscribe);
				stop();
			};

			subscriptions.add(unsubscribe);
			return unsubscribe;
		},
		close() {
			for (const unsubscribe of subscriptions) {
				unsubscribe();
			}

			void pool.destroy();
		},
	};
}

interface Follow {
	pool: Pool;
	origin: string;
	authorization: Record<string, string>;
	clock: Clock;
	listener: (event: FleetEvent) => void;
	trouble: (message: string | undefined) => void;
}

/** Reads GET /events until stopped, reconnecting where it left off; returns what stops it. */
function followEvents({pool, origin, authorization, clock, listener, trouble}: Follow): () => void {
	let stopped = false;
	let down = false;
	let lastEventId: string | undefined;
	let retryMs = firstRetryMs;
	let retry: Timer | undefined;
	let abort: AbortController | undefined;

	const report = (message: string) => {
		if (stopped) {
			return;
		}

		down = true;
		trouble(message);
		retry = clock.setTimeout(() => {
			void connect();
		}, retryMs);
		retryMs = Math.min(retryMs * 2, longestRetryMs);
	};

	const onMessage = ({id, event, data}: SseMessage) => {
		lastEventId = id ?? lastEventId;
		// A snapshot serves a client that builds its view from events; the console reads /status
		// every second anyway, so it needs neither that nor to hear about events lost in between.
		if (event !== 'snapshot' && event !== 'events.lost') {
			listener(JSON.parse(data) as FleetEvent);
		}
	};

	const connect = async () => {
		abort = new AbortController();
		let streaming = false;
		try {
			const {statusCode, body} = await pool.request({
				method: 'GET',
				path: '/events',
				headers: {...authorization, accept: 'text/event-stream', ...(lastEventId === undefined ? {} : {'last-event-id': lastEventId})},
				signal: abort.signal,
				headersTimeout: silenceLimitMs,
				bodyTimeout: silenceLimitMs,
			});
			if (statusCode !== 200) {
				report(`${origin}/events answered ${statusCode}: ${errorMessage(await body.text())}`);
				return;
			}

			streaming = true;
			retryMs = firstRetryMs;
			if (down) {
				down = false;
				trouble(undefined);
			}

			const parser = new SseParser(onMessage);
			for await (const chunk of body) {
				parser.push(chunk as Buffer);
			}

			report(`${origin} closed the event stream; reconnecting`);
		} catch (cause) {
			report(streaming ? `lost the event stream from ${origin}: ${reason(cause)}; reconnecting` : `cannot reach ${origin}: ${reason(cause)}`);
		}
	};

	void connect();
	return () => {
		stopped = true;
		abort?.abort();
		if (retry) {
			clock.clearTimeout(retry);
		}
	};
}

/** Why a connection failed, in words: the common system errors by name, others as reported. */
function reason(cause: unknown): string {
	const {code, message} = cause as {code?: string; message?: string};
	const known: Record<string, string> = {
		ECONNREFUSED: 'connection refused',
		ECONNRESET: 'the connection was reset',
		ENOTFOUND: 'no such host',
		EHOSTUNREACH: 'no route to host',
		ETIMEDOUT: 'timed out',
		UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
		UND_ERR_BODY_TIMEOUT: `nothing heard for ${silenceLimitMs / 1000} s`,
		UND_ERR_SOCKET: 'the connection closed',
		UND_ERR_DESTROYED: 'the link is closed',
	};
	return (code === undefined ? undefined : known[code]) ?? message ?? String(cause);
}

/** The message of OpenAI's error envelope, or the body itself when it is not one. */
export function errorMessage(body: string): string {
	return envelopeMessage(body) ?? (body.trim() || '(no message)');
}
