import type {IncomingMessage, OutgoingHttpHeaders, ServerResponse} from 'node:http';
import type {Readable} from 'node:stream';
import type {Dispatcher} from 'undici';
import {errorBody, proxyErrors, sendError, type ProxyErrorKind} from './errors.js';
import type {Waiter} from './hold-queue.js';
import type {ModelSlot} from './model-slot.js';
import {BodyTooLargeError} from './read-body.js';

type DispatchController = Dispatcher.DispatchController;

/** What a request needs from the data plane that created it. */
export interface RequestHost {
	now(): number;
	/** Queues a request until its model is ready again. */
	hold(request: ProxyRequest): void;
	requestEnded(request: ProxyRequest, status: number): void;
}

/** A buffered JSON body (replayable), a streamed upload, or none. */
export type RequestBody = Buffer | Readable | null;

/** Retries on a fresh connection only for errors that mean "the request never reached the server". */
const staleConnectionCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * One client request on its way to a backend: an undici dispatch handler that relays the
 * response as it arrives (chunk by chunk, with backpressure), and a waiter while the model loads.
 */
export class ProxyRequest implements Dispatcher.DispatchHandler, Waiter {
	readonly startedAt: number;
	#controller: DispatchController | undefined;
	#settled = false;
	#retried = false;
	#eventStream = false;

	constructor(
		private readonly host: RequestHost,
		readonly slot: ModelSlot,
		readonly req: IncomingMessage,
		readonly res: ServerResponse,
		private readonly headers: OutgoingHttpHeaders,
		private readonly body: RequestBody,
	) {
		this.startedAt = host.now();
		slot.arrived(this.startedAt);
		res.once('close', this.#onClientClose);
	}

	forward(): void {
		const pool = this.slot.pick();
		if (!pool) {
			// Only a retry gets here: the backend went away meanwhile, so wait for the next one.
			this.host.hold(this);
			return;
		}

		pool.dispatch({
			path: this.req.url!,
			method: this.req.method as Dispatcher.HttpMethod,
			headers: this.headers as Record<string, string | string[]>,
			body: this.body,
		}, this);
	}

	fail(kind: ProxyErrorKind, message: string, retryAfterSeconds?: number): void {
		sendError(this.res, kind, message, retryAfterSeconds);
		this.#settle(kind.status);
	}

	expire(): void {
		const waited = Math.round((this.host.now() - this.startedAt) / 1000);
		this.fail(proxyErrors.waitTimeout, `Model ${this.slot.name} is still loading after ${waited}s; try again later.`, 10);
	}

	onRequestStart(controller: DispatchController): void {
		this.#controller = controller;
		if (this.#settled) {
			controller.abort(new Error('client disconnected'));
		}
	}

	onResponseStart(_controller: DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
		// The pool answers for the connection; these belong to the backend's hop only.
		delete headers['connection'];
		delete headers['keep-alive'];
		delete headers['transfer-encoding'];
		const contentType = headers['content-type'];
		this.#eventStream = typeof contentType === 'string' && contentType.startsWith('text/event-stream');
		this.res.writeHead(statusCode, headers);
		if (this.#eventStream) {
			// SSE frames must leave at once, not wait for more to fill a packet.
			this.res.flushHeaders();
		}
	}

	onResponseData(controller: DispatchController, chunk: Buffer): void {
		if (!this.res.write(chunk)) {
			controller.pause();
			this.res.once('drain', this.#resume);
		}
	}

	onResponseEnd(): void {
		this.res.end();
		this.#settle(this.res.statusCode);
	}

	onResponseError(_controller: DispatchController, error: Error): void {
		if (this.#settled) {
			return;
		}

		const code = (error as NodeJS.ErrnoException).code;
		if (!this.res.headersSent) {
			if (error instanceof BodyTooLargeError) {
				this.fail(proxyErrors.bodyTooLarge, error.message);
				return;
			}

			if (!this.#retried && code && staleConnectionCodes.has(code) && isReplayable(this.body)) {
				// A keep-alive socket the backend closed as we wrote to it: once more, on a fresh one.
				this.#retried = true;
				this.forward();
				return;
			}

			this.fail(proxyErrors.backendUnreachable, `Backend for model ${this.slot.name} failed: ${error.message}`);
			return;
		}

		// Mid-response: end the stream the way vLLM does when its engine dies, so clients stop cleanly.
		if (this.#eventStream && !this.res.writableEnded) {
			const frame = errorBody(proxyErrors.backendUnreachable, `Backend for model ${this.slot.name} closed the stream: ${error.message}`);
			this.res.end(`data: ${frame}\n\ndata: [DONE]\n\n`);
		} else {
			this.res.destroy(error);
		}

		this.#settle(502);
	}

	readonly #resume = (): void => {
		this.#controller?.resume();
	};

	readonly #onClientClose = (): void => {
		if (this.#settled) {
			return;
		}

		this.slot.queue.remove(this);
		// 499: nginx's "client closed request", so logs tell aborts from errors.
		this.#settle(499);
		// After settling: the abort reports back through onResponseError, which must then do nothing.
		this.#controller?.abort(new Error('client disconnected'));
	};

	#settle(status: number): void {
		if (this.#settled) {
			return;
		}

		this.#settled = true;
		this.slot.ended(this.host.now(), status >= 500);
		this.host.requestEnded(this, status);
	}
}

function isReplayable(body: RequestBody): boolean {
	return body === null || Buffer.isBuffer(body);
}
