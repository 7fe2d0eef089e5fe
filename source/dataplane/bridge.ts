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
	/** Questions to the data plane waiting for their answer, by id. */
	readonly #asked = new Map<number, (answer: never) => void>();
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
		return this.#ask<boolean>(id => ({type: 'quiesce', id, model}));
	}

	/** Of these backends, those with requests in flight, once the routes sent before are applied. */
	async busyBackends(urls: string[]): Promise<string[]> {
		return this.#ask<string[]>(id => ({type: 'busy-backends', id, urls}));
	}

	/** Stops listening, answers held requests, closes backend connections, ends the thread. */
	async close(): Promise<void> {
		const closed = new Promise<void>(resolve => {
			this.#closed = resolve;
		});
		this.#send({type: 'close'});
		await closed;
		await this.#worker.terminate();
	}

	async #ask<Answer>(question: (id: number) => ControlMessage): Promise<Answer> {
		const id = ++this.#sequence;
		return new Promise(resolve => {
			this.#asked.set(id, resolve as (answer: never) => void);
			this.#send(question(id));
		});
	}

	#answer(id: number, answer: unknown): void {
		this.#asked.get(id)?.(answer as never);
		this.#asked.delete(id);
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
				this.#answer(message.id, message.ok);
				break;
			}

			case 'busy-backends': {
				this.#answer(message.id, message.urls);
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
