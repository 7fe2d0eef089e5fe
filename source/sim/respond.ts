import {randomBytes, randomUUID} from 'node:crypto';
import {STATUS_CODES, type OutgoingHttpHeaders, type ServerResponse} from 'node:http';
import type {ApiError} from './errors.js';
import type {SimLogger} from './log.js';

export function randomHex16(): string {
	return randomBytes(8).toString('hex');
}

/**
 * Every response goes through here so that each one gets uvicorn's headers
 * and, like uvicorn, one access-log line when its status is sent.
 */
export class Responder {
	constructor(
		/** Null when the access log is off. */
		private readonly accessLog: SimLogger | null,
		private readonly echoRequestId: boolean,
	) {}

	json(res: ServerResponse, status: number, body: string, extraHeaders?: OutgoingHttpHeaders): void {
		this.head(res, status, {
			...extraHeaders,
			'content-length': Buffer.byteLength(body),
			'content-type': 'application/json',
		});
		res.end(body);
	}

	error(res: ServerResponse, error: ApiError): void {
		this.json(res, error.status, error.toJson());
	}

	/** Status only; /health and /ping answer with an empty body. */
	empty(res: ServerResponse, status: number): void {
		this.head(res, status, { 'content-length': 0 });
		res.end();
	}

	text(res: ServerResponse, status: number, contentType: string, body: string): void {
		this.head(res, status, { 'content-length': Buffer.byteLength(body), 'content-type': contentType });
		res.end(body);
	}

	/** Starts a server-sent-event stream; the body is chunked, as Starlette's StreamingResponse sends it. */
	eventStream(res: ServerResponse): void {
		this.head(res, 200, { 'content-type': 'text/event-stream; charset=utf-8' });
	}

	private head(res: ServerResponse, status: number, headers: OutgoingHttpHeaders): void {
		headers.server = 'uvicorn';
		// vLLM's middleware falls back to uuid4().hex.
		if (this.echoRequestId) headers['x-request-id'] = res.req.headers['x-request-id'] ?? randomUUID().replaceAll('-', '');
		// Node would add `Keep-Alive: timeout=5`; uvicorn sends no such hint, and proxies tune their pools by it.
		if (res.shouldKeepAlive) res.removeHeader('connection');
		res.writeHead(status, headers);
		if (this.accessLog !== null) this.logAccess(this.accessLog, res, status);
	}

	private logAccess(logger: SimLogger, res: ServerResponse, status: number): void {
		const { req } = res;
		const socket = req.socket;
		const address = (socket.remoteAddress ?? '-').replace(/^::ffff:/, '');
		logger.uvicorn(
			`${address}:${socket.remotePort ?? 0} - "${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}" ${status} ${STATUS_CODES[status] ?? ''}`,
		);
	}
}
