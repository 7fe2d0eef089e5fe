/**
 * The one message protocol between the control plane (main thread: fleet, launchers, admin, UI)
 * and the data plane (worker thread: HTTP server, proxy, hold queues). Nothing here is sent per
 * request: demand, routing tables, aggregated stats and admin RPC only.
 */
import type {LogLevel} from '../config/types.js';

export interface DataPlaneOptions {
	host: string;
	port: number;
	apiKeys: string[];
	maxBodyBytes: number;
	logLevel: LogLevel;
	jsonLogs: boolean;
	/** How often aggregated stats are posted to the control plane. */
	statsIntervalMs: number;
}

/** What the data plane needs to know of a model to serve, hold or refuse its requests. */
export interface ModelRoute {
	name: string;
	/** The name the backend serves when it differs from `name`: request bodies get it as `model`. */
	servedName: string | undefined;
	/** The model's lifecycle state, shown by `GET /v1/models`. */
	state: string;
	/** Ready backends; empty while the model is stopped, starting or stopping. */
	backends: BackendRoute[];
	maxQueue: number;
	maxWaitMs: number;
}

export interface BackendRoute {
	id: string;
	url: string;
	/** Its share of the model's load, relative to the model's other backends. */
	capacity: number;
}

export interface AdminRequest {
	method: string;
	path: string;
	query: Record<string, string>;
	/** True when the caller presented a valid key (or none is configured). */
	authorized: boolean;
	body: string;
}

export interface AdminReply {
	status: number;
	contentType: string;
	body: string;
}

export interface ModelActivity {
	model: string;
	/** Requests in flight or held for the model right now. */
	inflight: number;
	/** When the last request ended (ms since epoch), 0 if none yet. */
	lastEndedAt: number;
	/** When the last request arrived (ms since epoch), 0 if none yet. */
	lastArrivedAt: number;
	requests: number;
	errors: number;
}

export type ControlMessage =
	/**
	 * Every model there is. A model left out was removed: its new requests get 404 and its held
	 * ones get 404 at once, while those in flight finish (its activity is reported until they have).
	 */
	| {type: 'routes'; models: ModelRoute[]}
	/** The model could not be started: held requests get this error now. */
	| {type: 'fail-waiters'; model: string; message: string}
	/**
	 * Asks to take an idle model out of rotation; answered with `quiesced`. For a model no longer
	 * in the routes, `ok` says whether its last requests have finished.
	 */
	| {type: 'quiesce'; id: number; model: string}
	/** [server] settings a reload changes live. */
	| {type: 'settings'; maxBodyBytes: number; logLevel: LogLevel}
	| {type: 'admin-reply'; id: number; reply: AdminReply}
	| {type: 'close'};

export type DataMessage =
	| {type: 'listening'; url: string}
	| {type: 'listen-failed'; message: string}
	/** Requests are waiting for a model that has no ready backend. */
	| {type: 'demand'; model: string}
	| {type: 'activity'; models: ModelActivity[]}
	/** `ok` is false when a request arrived meanwhile: the model stays in rotation. */
	| {type: 'quiesced'; id: number; ok: boolean}
	| {type: 'admin'; id: number; request: AdminRequest}
	| {type: 'closed'};
