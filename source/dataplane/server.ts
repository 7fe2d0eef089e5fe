import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import {Pool} from 'undici';
import {hashString} from '../util/hash.js';
import {Upstream} from '../routing/upstream.js';
import type {Logger} from '../log/logger.js';
import {AdminStreamRelay} from './admin-stream.js';
import {KeyChecker, type Access} from './auth.js';
import {proxyErrors, sendError, type ProxyErrorKind} from './errors.js';
import {endToEndHeaders} from './headers.js';
import {ModelSlot} from './model-slot.js';
import type {AdminAccess, AdminStreamHead, ControlMessage, DataMessage, DataPlaneOptions, ModelRoute} from './protocol.js';
import {ProxyRequest, type RequestBody, type RequestHost} from './proxy-request.js';
import {BodyTooLargeError, limitedBody, readBody} from './read-body.js';
import {renameModel} from './rename-model.js';
import {send} from './send.js';

const adminBodyLimit = 1024 * 1024;

/**
 * The HTTP side of switchboard: serves /v1/* itself (auth, hold queue, proxy) and relays
 * every other path to the control plane as an admin call.
 */
export class DataPlane implements RequestHost {
	readonly #server: Server;
	readonly #keys: KeyChecker;
	#slots = new Map<string, ModelSlot>();
	/** Every name a model answers to (its own and its aliases). */
	readonly #names = new Map<string, ModelSlot>();
	/** With one model every request is its, whatever name the client sends (llm-proxy-ondemand did the same). */
	#onlySlot: ModelSlot | undefined;
	/** Removed models with requests still in flight: kept to report their activity until those end. */
	readonly #removed = new Map<string, ModelSlot>();
	readonly #upstreams = new Map<string, Upstream>();
	/** Backends out of the routes whose last counts (and requests still in flight) are yet to be reported. */
	readonly #retiring = new Set<Upstream>();
	readonly #pendingAdmin = new Map<number, ServerResponse>();
	/** Streamed admin replies (GET /events) under way, by admin request id. */
	readonly #streams = new Map<number, AdminStreamRelay>();
	#logRequests: boolean;
	#maxBodyBytes: number;
	#adminSequence = 0;
	readonly #startedAtSeconds = Math.floor(Date.now() / 1000);
	#closing = false;
	#activityTimer: NodeJS.Timeout | undefined;

	constructor(
		private readonly options: DataPlaneOptions,
		private readonly post: (message: DataMessage) => void,
		private readonly logger: Logger,
		private readonly random: () => number = Math.random,
	) {
		this.#keys = new KeyChecker(options.keys);
		this.#logRequests = logger.isLevelEnabled('info');
		this.#maxBodyBytes = options.maxBodyBytes;
		// No request timeout: a held upload stays unread until its model is ready, for up to max_wait.
		this.#server = createServer({noDelay: true, requestTimeout: 0}, this.#onRequest);
	}

	listen(): void {
		this.#server.once('error', (error: NodeJS.ErrnoException) => {
			const message = error.code === 'EADDRINUSE'
				? `Port ${this.options.port} on ${this.options.host} is already in use.`
				: `Cannot listen on ${this.options.host}:${this.options.port}: ${error.message}`;
			this.post({type: 'listen-failed', message});
		});
		this.#server.listen(this.options.port, this.options.host, () => {
			const address = this.#server.address();
			const port = typeof address === 'object' && address ? address.port : this.options.port;
			const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
			this.#activityTimer = setInterval(this.#publishActivity, this.options.statsIntervalMs);
			this.post({type: 'listening', url: `http://${host}:${port}`});
		});
	}

	receive(message: ControlMessage): void {
		switch (message.type) {
			case 'routes': {
				this.#applyRoutes(message.models);
				break;
			}

			case 'backend-loads': {
				for (const load of message.loads) {
					this.#upstreams.get(load.url)?.observe(load);
				}

				break;
			}

			case 'keys': {
				this.#keys.update(message.keys);
				break;
			}

			case 'fail-waiters': {
				for (const request of this.#slots.get(message.model)?.takeHeld() ?? []) {
					request.fail(proxyErrors.startFailed, message.message, 5);
				}

				break;
			}

			case 'quiesce': {
				const slot = this.#slots.get(message.model);
				// A removed model is out of rotation already: only whether its last requests ended is asked.
				const ok = slot ? slot.inflight === 0 : (this.#removed.get(message.model)?.inflight ?? 0) === 0;
				if (ok && slot) {
					slot.upstreams = [];
				}

				this.post({type: 'quiesced', id: message.id, ok});
				break;
			}

			case 'busy-backends': {
				const retiring = new Set<string>();
				for (const upstream of this.#retiring) {
					if (upstream.inflight > 0) {
						retiring.add(upstream.url);
					}
				}

				const busy = message.urls.filter(url => (this.#upstreams.get(url)?.inflight ?? 0) > 0 || retiring.has(url));
				this.post({type: 'busy-backends', id: message.id, urls: busy});
				break;
			}

			case 'settings': {
				this.#maxBodyBytes = message.maxBodyBytes;
				this.logger.level = message.logLevel;
				this.#logRequests = this.logger.isLevelEnabled('info');
				break;
			}

			case 'admin-reply': {
				const res = this.#pendingAdmin.get(message.id);
				this.#pendingAdmin.delete(message.id);
				if (res && !res.destroyed) {
					send(res, message.reply.status, message.reply.contentType, message.reply.body);
				}

				break;
			}

			case 'admin-stream-open': {
				this.#openStream(message.id, message.head);
				break;
			}

			case 'admin-stream-chunk': {
				const relay = this.#streams.get(message.id);
				if (relay && !relay.write(message.chunk)) {
					this.#dropStream(message.id);
				}

				break;
			}

			case 'admin-stream-end': {
				this.#streams.get(message.id)?.end(message.chunk);
				this.#streams.delete(message.id);
				break;
			}

			case 'close': {
				void this.#close();
				break;
			}
		}
	}

	now(): number {
		return Date.now();
	}

	requestEnded(request: ProxyRequest, status: number): void {
		if (this.#logRequests) {
			this.logger.info({
				model: request.slot.name,
				user: request.user,
				method: request.req.method,
				path: request.req.url,
				status,
				ms: Date.now() - request.startedAt,
			}, 'request');
		}
	}

	/** Answers a request that never reached a model, and logs it like any other. */
	#reject(req: IncomingMessage, res: ServerResponse, kind: ProxyErrorKind, message: string, user?: string): void {
		if (kind === proxyErrors.bodyTooLarge) {
			// The rest of the body is not worth reading: close the connection after answering.
			res.setHeader('connection', 'close');
		}

		sendError(res, kind, message);
		if (this.#logRequests) {
			this.logger.info({user, method: req.method, path: req.url, status: kind.status, error: kind.code}, 'request');
		}
	}

	readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
		const url = req.url ?? '/';
		if (url.startsWith('/v1/') || url === '/v1') {
			this.#onOpenAi(req, res);
		} else {
			this.#onAdmin(req, res);
		}
	};

	#onOpenAi(req: IncomingMessage, res: ServerResponse): void {
		const access = this.#keys.check(req.headers.authorization);
		if (!access) {
			this.#reject(req, res, proxyErrors.invalidApiKey, 'Incorrect API key provided. Send it as `Authorization: Bearer <key>`.');
			return;
		}

		if (req.url!.startsWith('/v1/models') && (req.method === 'GET' || req.method === 'HEAD') && this.#answerModels(req, res, access)) {
			return;
		}

		const {headers} = req;
		const hasBody = headers['transfer-encoding'] !== undefined
			|| (headers['content-length'] !== undefined && headers['content-length'] !== '0');
		if (!hasBody) {
			this.#admit(req, res, access, undefined, null);
			return;
		}

		const contentType = headers['content-type'];
		if (contentType === undefined || !contentType.includes('json')) {
			// Uploads (audio, files) stream through untouched, counted against the size limit as they go.
			if (Number(headers['content-length']) > this.#maxBodyBytes) {
				this.#reject(req, res, proxyErrors.bodyTooLarge, `Request body exceeds the limit of ${this.#maxBodyBytes} bytes.`, access.user);
				return;
			}

			this.#admit(req, res, access, undefined, limitedBody(req, this.#maxBodyBytes));
			return;
		}

		readBody(req, this.#maxBodyBytes).then(body => {
			const only = this.#onlySlot;
			if (only?.ready && only.passThrough && access.allows(only.name)) {
				// One model, ready, nothing to rewrite or to route by: the body's `model` changes nothing, and the backend validates the JSON.
				this.#forward(req, res, access, only, body, undefined);
				return;
			}

			const text = body.toString();
			let parsed: {model?: unknown; user?: unknown} | null;
			try {
				parsed = JSON.parse(text) as {model?: unknown; user?: unknown} | null;
			} catch (error) {
				this.#reject(req, res, proxyErrors.invalidJson, `The request body is not valid JSON: ${(error as Error).message}`, access.user);
				return;
			}

			const model = parsed?.model;
			const slot = this.#resolve(req, res, access, typeof model === 'string' ? model : undefined);
			if (!slot) {
				return;
			}

			const session = slot.routing.policy === 'session' ? sessionOf(req, parsed?.user) : undefined;
			const backendName = slot.servedName ?? slot.name;
			const renamed = model !== backendName && (slot.servedName !== undefined || (typeof model === 'string' && slot.aliases.includes(model)));
			if (renamed && parsed && typeof parsed === 'object') {
				// The backend knows the model by another name (served_name, or the client used an alias): the one place the proxy rewrites a body.
				this.#forward(req, res, access, slot, renameModel(text, parsed, backendName), session);
				return;
			}

			this.#forward(req, res, access, slot, body, session);
		}, (error: Error) => {
			if (error instanceof BodyTooLargeError) {
				this.#reject(req, res, proxyErrors.bodyTooLarge, error.message, access.user);
			} else {
				res.destroy();
			}
		});
	}

	#admit(req: IncomingMessage, res: ServerResponse, access: Access, model: string | undefined, body: RequestBody): void {
		const slot = this.#resolve(req, res, access, model);
		if (slot) {
			this.#forward(req, res, access, slot, body, slot.routing.policy === 'session' ? sessionOf(req, undefined) : undefined);
		}
	}

	/**
	 * The model a request is for, if its key may use it; answers 404 or 403 itself otherwise.
	 * Messages list only the models the key may use: other users' models are theirs to know.
	 */
	#resolve(req: IncomingMessage, res: ServerResponse, access: Access, model: string | undefined): ModelSlot | undefined {
		const slot = this.#onlySlot ?? (model === undefined ? undefined : this.#names.get(model));
		if (slot && access.allows(slot.name)) {
			return slot;
		}

		const allowed = [...this.#names].filter(([, slot]) => access.allows(slot.name)).map(([name]) => `\`${name}\``).join(', ') || 'none for this key';
		if (slot) {
			this.#reject(req, res, proxyErrors.modelNotAllowed, `This API key may not use the model \`${model ?? slot.name}\`. Models it may use: ${allowed}.`, access.user);
		} else if (model === undefined) {
			this.#reject(req, res, proxyErrors.invalidParameter, `No model given: set \`model\` in the request body to one of ${allowed}.`, access.user);
		} else {
			this.#reject(req, res, proxyErrors.notFound, `The model \`${model}\` does not exist. Models here: ${allowed}.`, access.user);
		}

		return undefined;
	}

	#forward(req: IncomingMessage, res: ServerResponse, access: Access, slot: ModelSlot, body: RequestBody, session: number | undefined): void {
		const headers = endToEndHeaders(req.headers);
		if (Buffer.isBuffer(body)) {
			// The body may have been rewritten; undici sends exactly these bytes.
			headers['content-length'] = body.length;
		}

		const request = new ProxyRequest(this, slot, req, res, headers, body, session, access.user);
		if (slot.unavailable !== undefined) {
			request.fail(proxyErrors.modelUnavailable, slot.unavailable);
		} else if (slot.ready) {
			request.forward();
		} else if (slot.onCold === 'reject') {
			this.#rejectCold(request);
		} else {
			this.hold(request);
		}
	}

	/** `on_cold = "reject"`: the client hears at once that the model is not ready (and retries later); the model starts anyway. */
	#rejectCold(request: ProxyRequest): void {
		const {slot} = request;
		// Whatever the state (stopping, or out of rotation for a moment), the fleet starts it or already is.
		this.post({type: 'demand', model: slot.name});

		request.fail(proxyErrors.waitTimeout, `Model ${slot.name} is not loaded (${slot.state}); it is starting now, try again shortly.`, 10);
	}

	/**
	 * `GET /v1/models` and `/v1/models/{id}` are answered here, from what switchboard knows, in
	 * every state: model lists are polled (Open WebUI, LiteLLM, monitors), and a poll must neither
	 * wake a model nor keep one from going idle. They show only the models the key may use (any
	 * other is "not found", as if it did not exist). False when the path is something else.
	 */
	#answerModels(req: IncomingMessage, res: ServerResponse, access: Access): boolean {
		const path = req.url!.split('?', 1)[0]!;
		const card = (id: string, slot: ModelSlot) => ({
			id,
			object: 'model',
			created: this.#startedAtSeconds,
			owned_by: 'switchboard',
			root: slot.servedName ?? slot.name,
			parent: id === slot.name ? null : slot.name,
			status: slot.state,
		});
		if (path === '/v1/models' || path === '/v1/models/') {
			send(res, 200, 'application/json', JSON.stringify({object: 'list', data: [...this.#names].filter(([, slot]) => access.allows(slot.name)).map(([id, slot]) => card(id, slot))}));
			return true;
		}

		if (!path.startsWith('/v1/models/')) {
			return false;
		}

		const name = decodeOr(path.slice('/v1/models/'.length));
		const slot = this.#names.get(name);
		if (slot && access.allows(slot.name)) {
			send(res, 200, 'application/json', JSON.stringify(card(name, slot)));
		} else {
			sendError(res, proxyErrors.notFound, `The model \`${name}\` does not exist.`);
		}

		return true;
	}

	hold(request: ProxyRequest): void {
		const {slot} = request;
		if (this.#closing) {
			request.fail(proxyErrors.shuttingDown, 'switchboard is shutting down.');
			return;
		}

		if (this.#slots.get(slot.name) !== slot) {
			// A retry of a request in flight when its model was removed: nothing will serve it again.
			request.fail(proxyErrors.notFound, removedMessage(slot.name));
			return;
		}

		if (slot.unavailable !== undefined) {
			request.fail(proxyErrors.modelUnavailable, slot.unavailable);
			return;
		}

		if (slot.queue.size === 0) {
			// Before queueing: even a request the queue cannot take must wake the model.
			this.post({type: 'demand', model: slot.name});
		}

		if (!slot.queue.push(request, slot.maxWaitMs)) {
			request.fail(proxyErrors.queueFull, `${slot.queue.size} requests already wait for model ${slot.name} to load; try again later.`, 5);
		}
	}

	#applyRoutes(routes: ModelRoute[]): void {
		const liveUrls = new Set<string>();
		const slots = new Map<string, ModelSlot>();
		for (const route of routes) {
			// A model added back while its last requests finish keeps its slot and counters.
			let slot = this.#slots.get(route.name) ?? this.#removed.get(route.name);
			if (slot) {
				slot.update(route);
			} else {
				slot = new ModelSlot(route.name, route, this.random);
			}

			this.#removed.delete(route.name);
			slots.set(route.name, slot);
			slot.upstreams = route.backends.map(backend => {
				liveUrls.add(backend.url);
				return this.#upstream(backend.url, backend.capacity);
			});
			if (slot.unavailable !== undefined) {
				for (const request of slot.takeHeld()) {
					request.fail(proxyErrors.modelUnavailable, slot.unavailable);
				}
			} else if (slot.ready) {
				for (const request of slot.takeHeld()) {
					request.forward();
				}
			}
		}

		const removed = [...this.#slots.values()].filter(slot => !slots.has(slot.name));
		this.#slots = slots;
		this.#onlySlot = slots.size === 1 ? slots.values().next().value : undefined;
		for (const slot of removed) {
			this.#remove(slot);
		}

		this.#names.clear();
		for (const slot of this.#slots.values()) {
			this.#names.set(slot.name, slot);
			for (const alias of slot.aliases) {
				this.#names.set(alias, slot);
			}
		}

		for (const [url, upstream] of this.#upstreams) {
			if (!liveUrls.has(url)) {
				this.#upstreams.delete(url);
				// close() lets requests already on the pool finish; their counts are still reported.
				void upstream.pool.close();
				this.#retiring.add(upstream);
			}
		}
	}

	/** A model no longer configured: it takes no request from now on, its held ones end now, those in flight finish. */
	#remove(slot: ModelSlot): void {
		slot.upstreams = [];
		for (const request of slot.takeHeld()) {
			request.fail(proxyErrors.notFound, removedMessage(slot.name));
		}

		if (slot.inflight > 0) {
			this.#removed.set(slot.name, slot);
		}
	}

	#upstream(url: string, capacity: number): Upstream {
		let upstream = this.#upstreams.get(url);
		if (upstream) {
			upstream.capacity = capacity;
		} else {
			upstream = new Upstream(url, new Pool(url, {
				// vLLM's uvicorn drops idle sockets after 5 s; leave them before it does.
				keepAliveTimeout: 4000,
				// Generations can run for many minutes before the first or the next byte.
				headersTimeout: 0,
				bodyTimeout: 0,
			}), capacity);
			this.#upstreams.set(url, upstream);
		}

		return upstream;
	}

	#onAdmin(req: IncomingMessage, res: ServerResponse): void {
		readBody(req, adminBodyLimit).then(body => {
			const target = req.url ?? '/';
			const queryStart = target.indexOf('?');
			const id = ++this.#adminSequence;
			this.#pendingAdmin.set(id, res);
			res.once('close', () => this.#pendingAdmin.delete(id));
			this.post({
				type: 'admin',
				id,
				request: {
					method: req.method ?? 'GET',
					// Split by hand: a hostile target such as `//[` must not throw.
					path: queryStart === -1 ? target : target.slice(0, queryStart),
					query: queryStart === -1 ? {} : Object.fromEntries(new URLSearchParams(target.slice(queryStart + 1))),
					access: adminAccess(this.#keys.check(req.headers.authorization)),
					// Node joins a repeated header of this kind into one string.
					lastEventId: req.headers['last-event-id'] as string | undefined,
					body: body.toString(),
				},
			});
		}, (error: Error) => {
			this.#reject(req, res, proxyErrors.bodyTooLarge, error.message);
		});
	}

	#openStream(id: number, head: AdminStreamHead): void {
		const res = this.#pendingAdmin.get(id);
		this.#pendingAdmin.delete(id);
		if (!res || res.destroyed) {
			// The client left while the control plane was opening the stream.
			this.post({type: 'admin-stream-closed', id});
			return;
		}

		const relay = new AdminStreamRelay(res, head);
		if (res.req.method === 'HEAD') {
			relay.end();
			this.post({type: 'admin-stream-closed', id});
			return;
		}

		this.#streams.set(id, relay);
		res.once('close', () => {
			if (this.#streams.get(id) === relay) {
				this.#dropStream(id);
			}
		});
	}

	/** The stream's client is gone or cut off: the control plane drops its subscription. */
	#dropStream(id: number): void {
		this.#streams.delete(id);
		this.post({type: 'admin-stream-closed', id});
	}

	readonly #publishActivity = (): void => {
		const models = [];
		for (const slot of this.#slots.values()) {
			if (slot.dirty) {
				models.push(slot.activity());
			}
		}

		for (const slot of this.#removed.values()) {
			if (slot.dirty) {
				models.push(slot.activity());
			}

			// Its last request has ended and been reported: the fleet can stop its backend.
			if (slot.inflight === 0) {
				this.#removed.delete(slot.name);
			}
		}

		const backends = [];
		for (const upstream of this.#upstreams.values()) {
			const report = upstream.report();
			if (report) {
				backends.push(report);
			}
		}

		for (const upstream of this.#retiring) {
			const report = upstream.report();
			if (report) {
				backends.push(report);
			}

			if (upstream.inflight === 0) {
				this.#retiring.delete(upstream);
			}
		}

		if (models.length > 0 || backends.length > 0) {
			this.post({type: 'activity', models, backends});
		}
	};

	async #close(): Promise<void> {
		this.#closing = true;
		clearInterval(this.#activityTimer);
		this.#publishActivity();
		for (const slot of this.#slots.values()) {
			for (const request of slot.takeHeld()) {
				request.fail(proxyErrors.shuttingDown, 'switchboard is shutting down.');
			}
		}

		for (const relay of this.#streams.values()) {
			relay.end(': switchboard is shutting down\n\n');
		}

		this.#streams.clear();
		const closed = new Promise<void>(resolve => {
			this.#server.close(() => resolve());
		});
		this.#server.closeIdleConnections();
		await Promise.all([...this.#upstreams.values()].map(async upstream => upstream.pool.destroy()));
		this.#server.closeAllConnections();
		await closed;
		// The thread is terminated next: its buffered log lines go out first.
		await new Promise<void>(resolve => {
			this.logger.flush(() => {
				resolve();
			});
		});
		this.post({type: 'closed'});
	}
}

/** The session a request belongs to, for `routing = "session"`: its `X-Session-ID` header, else the body's `user`. */
function sessionOf(req: IncomingMessage, user: unknown): number | undefined {
	const header = req.headers['x-session-id'];
	if (typeof header === 'string' && header !== '') {
		return hashString(header);
	}

	return typeof user === 'string' && user !== '' ? hashString(user) : undefined;
}

function adminAccess(access: Access | undefined): AdminAccess {
	if (!access) {
		return 'none';
	}

	return access.admin ? 'admin' : 'user';
}

function removedMessage(model: string): string {
	return `The model \`${model}\` was removed from switchboard's configuration.`;
}

/** A percent-decoded path segment, or the segment as it is when it does not decode. */
function decodeOr(segment: string): string {
	try {
		return decodeURIComponent(segment);
	} catch {
		return segment;
	}
}
