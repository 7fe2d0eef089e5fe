import {Worker} from 'node:worker_threads';
import type {AdminReply, AdminRequest, BackendActivity, BackendLoad, ControlMessage, DataMessage, DataPlaneOptions, KeyTable, LiveSettings, ModelActivity, ModelRoute} from './protocol.js';

export interface BridgeHandlers {
	demand(model: string): void;
	activity(models: ModelActivity[], backends: BackendActivity[]): void;
	admin(request: AdminRequest): Promise<AdminReply>;
	/** The worker died; switchboard cannot serve without it. */
	crashed(error: Error): void;
}

/** The control plane's end of the data-plane worker: typed messages in, typed messages out. */
export class DataPlaneBridge {
	readonly #worker: Worker;
	readonly #quiescing = new Map<number, (ok: boolean) => void>();
	readonly #draining = new Map<number, () => void>();
	#sequence = 0;
	#closed: (() => void) | undefined;
	readonly listening: Promise<string>;

	constructor(options: DataPlaneOptions, private readonly handlers: BridgeHandlers) {
		this.#worker = new Worker(new URL('worker.js', import.meta.url), {workerData: options});
		this.listening = new Promise((resolve, reject) => {
			this.#worker.on('message', (message: DataMessage) => {
				if (message.type === 'listening') {
					resolve(message.url);
				} else if (message.type === 'listen-failed') {
					reject(new Error(message.message));
				} else {
					this.#receive(message);
				}
			});
			this.#worker.once('error', error => {
				reject(error);
				handlers.crashed(error);
			});
		});
	}

	routes(models: ModelRoute[]): void {
		this.#send({type: 'routes', models});
	}

	backendLoads(loads: BackendLoad[]): void {
		this.#send({type: 'backend-loads', loads});
	}

	keys(table: KeyTable): void {
		this.#send({type: 'keys', keys: table});
	}

	settings(settings: LiveSettings): void {
		this.#send({type: 'settings', ...settings});
	}

	failWaiters(model: string, message: string): void {
		this.#send({type: 'fail-waiters', model, message});
	}

	async quiesce(model: string): Promise<boolean> {
		const id = ++this.#sequence;
		return new Promise(resolve => {
			this.#quiescing.set(id, resolve);
			this.#send({type: 'quiesce', id, model});
		});
	}

	/** Resolves once none of the model's requests is at its backend (see the `drain` message). */
	async drain(model: string): Promise<void> {
		const id = ++this.#sequence;
		return new Promise(resolve => {
			this.#draining.set(id, resolve);
			this.#send({type: 'drain', id, model});
		});
	}

	/** Stops listening, answers held requests, closes backend connections, ends the thread. */
	async close(): Promise<void> {
		const closed = new Promise<void>(resolve => {
			this.#closed = resolve;
		});
		this.#send({type: 'close'});
		await closed;
		await this.#worker.terminate();
		// No request is left anywhere: stops waiting for some end now.
		for (const drained of this.#draining.values()) {
			drained();
		}

		this.#draining.clear();
	}

	#send(message: ControlMessage): void {
		this.#worker.postMessage(message);
	}

	#receive(message: DataMessage): void {
		switch (message.type) {
			case 'demand': {
				this.handlers.demand(message.model);
				break;
			}

			case 'activity': {
				this.handlers.activity(message.models, message.backends);
				break;
			}

			case 'quiesced': {
				this.#quiescing.get(message.id)?.(message.ok);
				this.#quiescing.delete(message.id);
				break;
			}

			case 'drained': {
				this.#draining.get(message.id)?.();
				this.#draining.delete(message.id);
				break;
			}

			case 'admin': {
				void this.handlers.admin(message.request).then(reply => {
					this.#send({type: 'admin-reply', id: message.id, reply});
				});
				break;
			}

			case 'closed': {
				this.#closed?.();
				break;
			}

			default: {
				break;
			}
		}
	}
}
