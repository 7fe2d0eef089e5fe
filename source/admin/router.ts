import {access, open} from 'node:fs/promises';
import type {KeyStore} from '../access/key-store.js';
import {ConfigError} from '../config/errors.js';
import type {AdminAnswer} from '../dataplane/bridge.js';
import type {AdminAccess, AdminReply, AdminRequest} from '../dataplane/protocol.js';
import {proxyErrors} from '../dataplane/errors.js';
import type {Fleet} from '../fleet/fleet.js';
import type {LogRing} from '../fleet/log-ring.js';
import type {FleetModel} from '../fleet/model.js';
import {rotatedPath} from '../launchers/log-files.js';
import type {PrometheusExporter} from '../metrics/exporter.js';
import type {Telemetry} from '../metrics/telemetry.js';
import {backendsStatus, loadStats} from './backends.js';
import {readEventQuery, type EventFeed} from './event-feed.js';
import {modelRoute, modelRoutes, switchModel} from './models.js';
import {error, json, text} from './reply.js';
import {health, modelEntry, status, type About} from './status.js';

const defaultTailLines = 200;
/** /logs/current sends at most this much; the file itself keeps everything. */
const currentLogLimit = 8 * 1024 * 1024;
const maxTailLines = 10_000;
/** `/logs/*?model=` this reads switchboard's own log rather than a backend's. */
const ownLogName = 'switchboard';
/** Paths anyone may read, as monitors and load balancers expect. */
const publicPaths = new Set(['/health']);

/** What admin handlers read and command. */
export interface AdminContext {
	fleet: Fleet;
	telemetry: Telemetry;
	exporter: PrometheusExporter;
	keys: KeyStore;
	events: EventFeed;
	/** switchboard's own recent log lines (the control plane's: lifecycle, health, reloads, keys). */
	ownLog: LogRing;
	/** switchboard itself, as /status describes it. */
	about: () => About;
}

export type Handler = (request: AdminRequest, context: AdminContext) => Promise<AdminAnswer> | AdminAnswer;

const routes: Record<string, Handler> = {
	'GET /health': (_request, {fleet}) => json(200, health(fleet)),
	'GET /status': (_request, {fleet, about}) => json(200, status(fleet, about())),
	'GET /load-stats': (_request, {fleet, telemetry}) => json(200, loadStats(fleet, telemetry)),
	'GET /_backends': (_request, {fleet, telemetry}) => json(200, backendsStatus(fleet, telemetry)),
	async 'GET /metrics'(_request, {exporter}) {
		return {status: 200, contentType: exporter.contentType, body: await exporter.text()};
	},
	'GET /events'(request, {fleet, events}) {
		const query = readEventQuery(request);
		return typeof query === 'string' ? error(proxyErrors.invalidParameter, query) : events.stream(query, () => fleet.snapshot().map(model => modelEntry(model)));
	},
	async 'GET /logs/current'(request, {fleet, ownLog}) {
		if (request.query['model'] === ownLogName) {
			// Its log goes to stdout, not to a file of its own: what it keeps is its current log.
			return text(200, linesText(ownLog.tail(Number.POSITIVE_INFINITY)));
		}

		const model = pickModel(request, fleet);
		if (!model) {
			return unknownModel(request);
		}

		const replica = pickReplica(request, model);
		if (typeof replica === 'string') {
			return error(proxyErrors.invalidParameter, replica);
		}

		const logPath = replica ? replica.logPath : model.snapshot().logPath;
		if (!logPath) {
			return error(proxyErrors.notFound, `${model.name} has not been started yet, so it has no log.`);
		}

		const rotated = rotatedPath(logPath);
		const before = await access(rotated).then(() => `[switchboard: this log passed log_max_size; what came before is in ${rotated}]\n`, () => '');
		return text(200, before + await readEnd(logPath, currentLogLimit));
	},
	'GET /logs/tail'(request, {fleet, ownLog}) {
		const model = pickModel(request, fleet);
		const replica = model && pickReplica(request, model);
		if (typeof replica === 'string') {
			return error(proxyErrors.invalidParameter, replica);
		}

		const ring = request.query['model'] === ownLogName ? ownLog : (replica ?? model)?.logs;
		if (!ring) {
			return unknownModel(request);
		}

		const lines = request.query['lines'] === undefined ? defaultTailLines : Number(request.query['lines']);
		if (!Number.isInteger(lines) || lines < 0) {
			return error(proxyErrors.invalidParameter, '`lines` must be a whole number of lines, e.g. /logs/tail?lines=100.');
		}

		return text(200, linesText(ring.tail(Math.min(lines, maxTailLines))));
	},
	'POST /switch': switchModel,
	'POST /keys/reload'(_request, {keys}) {
		const {file} = keys;
		if (file === undefined) {
			return error(proxyErrors.notFound, 'There is no keys file to read: set keys_file in [server] of switchboard.toml.');
		}

		try {
			return json(200, {keys: keys.reload(), file});
		} catch (cause) {
			if (cause instanceof ConfigError) {
				return error(proxyErrors.invalidKeysFile, `${cause.message}\nThe keys read before stay valid.`);
			}

			throw cause;
		}
	},
};

const accessRank: Record<AdminAccess, number> = {none: 0, user: 1, admin: 2};

/**
 * Answers the admin side of the HTTP surface; runs on the control plane. Reading needs any valid
 * key, changing anything (every method but GET and HEAD) an admin one (see keyTable).
 */
export async function handleAdmin(request: AdminRequest, context: AdminContext): Promise<AdminAnswer> {
	// HEAD is GET without the body (the data plane drops it); load balancers probe with it.
	const method = request.method === 'HEAD' ? 'GET' : request.method;
	const handler = routes[`${method} ${request.path}`] ?? modelRoute(method, request.path);
	if (!handler) {
		return error(proxyErrors.notFound, `Unknown path ${request.method} ${request.path}. OpenAI routes live under /v1/; admin routes are ${[...Object.keys(routes), ...modelRoutes].join(', ')}.`);
	}

	const needed: AdminAccess = publicPaths.has(request.path) ? 'none' : method === 'GET' ? 'user' : 'admin';
	if (accessRank[request.access] < accessRank[needed]) {
		return error(proxyErrors.invalidApiKey, needed === 'admin'
			? `${method} ${request.path} changes switchboard, so it needs the admin key (admin_key; when none is set, a key that may use every model): send \`Authorization: Bearer <key>\`.`
			: 'This admin route needs an API key: send `Authorization: Bearer <key>`.');
	}

	try {
		return await handler(request, context);
	} catch (cause) {
		return error(proxyErrors.adminFailed, `Admin request failed: ${(cause as Error).message}`);
	}
}

function pickModel(request: AdminRequest, fleet: Fleet): FleetModel | undefined {
	const name = request.query['model'];
	return name === undefined ? fleet.models[0] : fleet.get(name);
}

/** The replica `?replica=N` names (undefined: the whole model), or what is wrong with N. */
function pickReplica(request: AdminRequest, model: FleetModel): ReturnType<FleetModel['replicaLog']> | string {
	const given = request.query['replica'];
	if (given === undefined) {
		return undefined;
	}

	const index = Number(given);
	const replica = Number.isInteger(index) && index >= 0 ? model.replicaLog(index) : undefined;
	return replica ?? `${model.name} has no replica ${JSON.stringify(given)}; GET /status lists its replicas by index, from 0.`;
}

function unknownModel(request: AdminRequest): AdminReply {
	return error(proxyErrors.notFound, `The model \`${request.query['model'] ?? ''}\` does not exist (model=${ownLogName} reads switchboard's own log).`);
}

function linesText(lines: string[]): string {
	return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/** A file's text, or its last `limit` bytes after a line that says where the rest is. */
async function readEnd(file: string, limit: number): Promise<string> {
	const handle = await open(file);
	try {
		const {size} = await handle.stat();
		const start = Math.max(0, size - limit);
		const {buffer, bytesRead} = await handle.read({buffer: Buffer.alloc(size - start), position: start});
		const body = buffer.subarray(0, bytesRead).toString();
		return start === 0 ? body : `[switchboard: the first ${start} bytes are left out here; the whole log is ${file}]\n${body.slice(body.indexOf('\n') + 1)}`;
	} finally {
		await handle.close();
	}
}
