import type {IncomingMessage, ServerResponse} from 'node:http';
import type {Engine} from './engine.js';
import type {SimLogger} from './log.js';
import type {SimOptions} from './options.js';
import type {RandomSource} from './prng.js';
import type {Responder} from './respond.js';
import type {JsonObject} from './schema.js';

export interface RequestCounters {
	/** Every HTTP request received, whatever the route or outcome. */
	total: number;
	/** Requests that reached the chat, completion or embedding handlers. */
	inference: number;
	/** Valid generation requests; fault injection counts these. */
	generation: number;
}

/** Everything a route handler needs, shared by all requests of one server. */
export interface SimContext {
	readonly options: SimOptions;
	/** The first served name: echoed as `model` and used as the `model_name` label. */
	readonly modelName: string;
	readonly servedNames: ReadonlySet<string>;
	readonly engine: Engine;
	readonly responder: Responder;
	readonly logger: SimLogger;
	readonly random: RandomSource;
	readonly counters: RequestCounters;
	readonly kvCapacityTokens: number;
	/** Epoch seconds at which the metrics were created. */
	readonly createdSeconds: number;
	readonly engineDead: () => boolean;
	/** To be called once a generation response has been fully written. */
	readonly generationCompleted: (res: ServerResponse) => void;
}

export type RouteHandler = (context: SimContext, req: IncomingMessage, res: ServerResponse) => void;
export type JsonRouteHandler = (
	context: SimContext,
	req: IncomingMessage,
	res: ServerResponse,
	body: JsonObject,
) => void;
