import type {IncomingMessage, OutgoingHttpHeaders, ServerResponse} from 'node:http';
import type {Readable} from 'node:stream';
import type {Dispatcher} from 'undici';
import {errorBody, proxyErrors, sendError, type ProxyErrorKind} from './errors.js';
import type {Waiter} from './hold-queue.js';
import type {ModelSlot} from './model-slot.js';
import {BodyTooLargeError} from './read-body.js';
import type {Upstream} from '../routing/upstream.js';

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
	/** Backends this request already failed on; undefined until a first retry (most requests never need it). */
	#tried: Upstream[] | undefined;
	#upstream: Upstream | undefined;
	/** When the current attempt was sent, and when its first response byte came (0: not yet). */
	#sentAt = 0;
	#firstByteAt = 0;
	#retriedSame = false;
	#eventStream = false;

	constructor(
		private readonly host: RequestHost,
		readonly slot: ModelSlot,
		readonly req: IncomingMessage,
		readonly res: ServerResponse,
		private readonly headers: OutgoingHttpHeaders,
		private readonly body: RequestBody,
		/** See PickRequest.session. */
		private readonly session: number | undefined,
		/** Whose key the request came with, for the log. */
		readonly user: string | undefined,
	) {
		this.startedAt = host.now();
		slot.arrived(this.startedAt);
		res.once('close', this.#onClientClose);
	}

	forward(): void {
		const now = this.host.now();
		const upstream = this.slot.pick({now, tried: this.#tried, session: this.session});
		if (!upstream) {
			if (this.slot.ready) {
				this.fail(proxyErrors.noHealthyBackend, `No healthy backend for model ${this.slot.name}: ${this.#tried ? 'the others failed too' : 'every one failed its health checks'}.`, 5);
			} else {
				// Only a retry gets here: every backend went away meanwhile, so wait for the next one.
				this.host.hold(this);
			}

			return;
		}

		this.#upstream = upstream;
		// Until undici starts this attempt, an error it reports comes without a controller: it must still count.
		this.#controller = undefined;
		this.#sentAt = now;
		this.#firstByteAt = 0;
		upstream.begin();
		upstream.pool.dispatch({
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

	onResponseStart(controller: DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
		if (controller !== this.#controller) {
			return;
		}

		if ((statusCode === 502 || statusCode === 503) && this.#canTryAnother(this.#upstream)) {
			// Overloaded or broken, and nothing reached the client yet: another replica gets it.
			this.#retryElsewhere(controller);
			return;
		}

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
		if (controller !== this.#controller) {
			return;
		}

		if (this.#firstByteAt === 0) {
			this.#firstByteAt = this.host.now();
		}

		if (!this.res.write(chunk)) {
			controller.pause();
			this.res.once('drain', this.#resume);
		}
	}

	onResponseEnd(controller: DispatchController): void {
		if (controller !== this.#controller) {
			return;
		}

		const failed = this.res.statusCode >= 500;
		const upstream = this.#release(failed);
		if (failed) {
			upstream?.failed(this.host.now());
		} else {
			upstream?.succeeded();
		}

		this.res.end();
		this.#settle(this.res.statusCode);
	}

	onResponseError(controller: DispatchController, error: Error): void {
		if (controller !== this.#controller || this.#settled) {
			return;
		}

		const tooLarge = error instanceof BodyTooLargeError;
		const upstream = this.#release(!tooLarge);
		if (!this.res.headersSent) {
			if (tooLarge) {
				this.fail(proxyErrors.bodyTooLarge, error.message);
				return;
			}

			upstream?.failed(this.host.now());
			if (this.#canTryAnother(upstream)) {
				this.#retryAfterBackoff(upstream);
				return;
			}

			const code = (error as NodeJS.ErrnoException).code;
			if (!this.#retriedSame && code && staleConnectionCodes.has(code) && isReplayable(this.body)) {
				// A keep-alive socket the backend closed as we wrote to it: once more, on a fresh one.
				this.#retriedSame = true;
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
		this.#release(false);
		// 499: nginx's "client closed request", so logs tell aborts from errors.
		this.#settle(499);
		// After settling: the abort reports back through onResponseError, which must then do nothing.
		this.#controller?.abort(new Error('client disconnected'));
	};

	/**
	 * Another backend may take this request: nothing reached the client, the body can be sent again,
	 * attempts remain, and a healthy backend it has not failed on yet exists.
	 */
	#canTryAnother(failing: Upstream | undefined): boolean {
		return !this.res.headersSent
			&& isReplayable(this.body)
			&& (this.#tried?.length ?? 0) < this.slot.routing.retries
			&& this.slot.canRetry(this.#tried, failing);
	}

	#retryElsewhere(controller: DispatchController): void {
		const upstream = this.#release(true);
		upstream?.failed(this.host.now());
		this.#controller = undefined;
		// Its late callbacks no longer match the current controller, so they are ignored.
		controller.abort(new Error('retried on another backend'));
		this.#retryAfterBackoff(upstream);
	}

	/** Another backend gets the request after a pause that doubles with each retry (none when the backoff is 0). */
	#retryAfterBackoff(failed: Upstream | undefined): void {
		if (failed) {
			this.#tried = [...this.#tried ?? [], failed];
		}

		const delay = this.slot.routing.retryBackoffMs * (2 ** ((this.#tried?.length ?? 1) - 1));
		if (delay === 0) {
			this.forward();
			return;
		}

		setTimeout(() => {
			if (!this.#settled) {
				this.forward();
			}
		}, delay);
	}

	/** The current attempt is over: its backend has one request fewer in flight, and counts how it went. */
	#release(failed: boolean): Upstream | undefined {
		const upstream = this.#upstream;
		if (upstream) {
			const now = this.host.now();
			upstream.finish(now - this.#sentAt, this.#firstByteAt === 0 ? undefined : this.#firstByteAt - this.#sentAt, failed);
			this.#upstream = undefined;
		}

		return upstream;
	}

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
