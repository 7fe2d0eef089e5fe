/**
 * The one message protocol between the control plane (main thread: fleet, launchers, admin, UI)
 * and the data plane (worker thread: HTTP server, proxy, hold queues). Nothing here is sent per
 * request: demand, routing tables, aggregated stats and admin RPC only.
 */
import type {LogLevel, RoutingConfig} from '../config/types.js';
import type {ReadyBackend} from '../fleet/model.js';

export interface DataPlaneOptions {
	host: string;
	port: number;
	keys: KeyTable;
	maxBodyBytes: number;
	logLevel: LogLevel;
	jsonLogs: boolean;
	/** Log to this file (appending) instead of stdout: the console owns the terminal. */
	logFile?: string | undefined;
	/** How often aggregated stats are posted to the control plane. */
	statsIntervalMs: number;
}

/** Who may do what. Sent at start and again whenever the keys file changes. */
export interface KeyTable {
	/** False only when no key is configured at all: then everyone may do everything (local, single-user use). */
	required: boolean;
	/** One per distinct key. */
	grants: KeyGrant[];
}

export interface KeyGrant {
	/** The key's SHA-256, hex: the worker never holds a key in plain text. */
	digest: string;
	/** Shown in request logs instead of the key. */
	user: string | undefined;
	/** Model names and prefixes ending in `*`; undefined = every model. */
	models: string[] | undefined;
	/** May use the admin routes that change something. */
	admin: boolean;
}

/** What a request's key lets it do on the admin routes: nothing, read, or change things too. */
export type AdminAccess = 'none' | 'user' | 'admin';

/** What the data plane needs to know of a model to serve, hold or refuse its requests. */
export interface ModelRoute {
	name: string;
	/** Other names that reach the model. */
	aliases: string[];
	/** The name the backend serves when it differs from `name`: request bodies get it as `model`. */
	servedName: string | undefined;
	/** The model's lifecycle state, shown by `GET /v1/models`. */
	state: string;
	/** Ready backends; empty while the model is stopped, starting or stopping. */
	backends: ReadyBackend[];
	maxQueue: number;
	maxWaitMs: number;
	onCold: 'hold' | 'reject';
	routing: RoutingConfig;
	/**
	 * Why the model's requests are refused (503, this message) instead of served or held, e.g.
	 * the operator stopped it until further notice; held ones get it too. Undefined: served as its state allows.
	 */
	unavailable: string | undefined;
}

/** A backend's health and load as the control plane last saw them (health checks, /metrics scrapes). */
export interface BackendLoad {
	url: string;
	healthy: boolean;
	/** Undefined when the backend has no /metrics (routing then counts its own in-flight requests). */
	running: number | undefined;
	waiting: number | undefined;
	/** 0–1. */
	kvCacheUsage: number | undefined;
}

/** One backend's requests since the last report (counts restart from zero after each). */
export interface BackendActivity {
	url: string;
	/** In flight now. */
	inflight: number;
	requests: number;
	/** Attempts that ended in a connection error or a 5xx. */
	errors: number;
	/** Counts per bucket of metrics/rolling.ts: whole request, and until the first response byte. */
	latencyCounts: number[];
	ttftCounts: number[];
}

/** The [server] settings the data plane takes while it runs (a live reload). */
export interface LiveSettings {
	maxBodyBytes: number;
	logLevel: LogLevel;
}

export interface AdminRequest {
	method: string;
	path: string;
	query: Record<string, string>;
	/** Checked by the data plane against the key table; `admin` for everyone when no key is configured. */
	access: AdminAccess;
	/** The `Last-Event-ID` header: where a reconnecting event stream (GET /events) left off. */
	lastEventId: string | undefined;
	body: string;
}

export interface AdminReply {
	status: number;
	contentType: string;
	body: string;
}

/**
 * The head of an admin reply that streams (GET /events): `admin-stream-open`, then chunks until
 * either side ends it. The data plane relays each chunk as it comes; a client that does not read
 * fast enough is cut off there (see AdminStreamRelay), never buffered without bound.
 */
export interface AdminStreamHead {
	status: number;
	contentType: string;
}

export interface ModelActivity {
	model: string;
	/** Requests in flight or held for the model right now. */
	inflight: number;
	/** Of those, held until the model is ready. */
	queued: number;
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
	| {type: 'backend-loads'; loads: BackendLoad[]}
	/** Replaces the key table; requests already admitted go on. */
	| {type: 'keys'; keys: KeyTable}
	/** The model could not be started: held requests get this error now. */
	| {type: 'fail-waiters'; model: string; message: string}
	/**
	 * Asks to take an idle model out of rotation; answered with `quiesced`. For a model no longer
	 * in the routes, `ok` says whether its last requests have finished.
	 */
	| {type: 'quiesce'; id: number; model: string}
	/** Asks which of these backends still have requests in flight; answered with `busy-backends`. */
	| {type: 'busy-backends'; id: number; urls: string[]}
	/** [server] settings a reload changes live. */
	| ({type: 'settings'} & LiveSettings)
	| {type: 'admin-reply'; id: number; reply: AdminReply}
	/** Answers admin request `id` with a stream; answered with `admin-stream-closed` if its client is already gone. */
	| {type: 'admin-stream-open'; id: number; head: AdminStreamHead}
	| {type: 'admin-stream-chunk'; id: number; chunk: string}
	/** The control plane ends the stream, after a last chunk if given. */
	| {type: 'admin-stream-end'; id: number; chunk: string | undefined}
	| {type: 'close'};

export type DataMessage =
	| {type: 'listening'; url: string}
	| {type: 'listen-failed'; message: string}
	/** Requests are waiting for a model that has no ready backend. */
	| {type: 'demand'; model: string}
	| {type: 'activity'; models: ModelActivity[]; backends: BackendActivity[]}
	/** `ok` is false when a request arrived meanwhile: the model stays in rotation. */
	| {type: 'quiesced'; id: number; ok: boolean}
	| {type: 'busy-backends'; id: number; urls: string[]}
	| {type: 'admin'; id: number; request: AdminRequest}
	/** A streamed reply ended on the data plane's side (its client went away or fell too far behind): send no more. */
	| {type: 'admin-stream-closed'; id: number}
	| {type: 'closed'};
