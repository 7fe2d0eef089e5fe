import {durationExpected, mustBe, readDuration} from '../config/values.js';
import {proxyErrors, type ProxyErrorKind} from '../dataplane/errors.js';
import type {AdminReply, AdminRequest} from '../dataplane/protocol.js';
import {readModelSpec} from '../fleet/ad-hoc.js';
import {OperatorError, type Fleet, type StartOutcome} from '../fleet/fleet.js';
import {error, json} from './reply.js';
import type {AdminContext, Handler} from './router.js';
import {modelEntry} from './status.js';

/*
 * The operator's verbs: what the TUI's keys do, as admin calls. Each answers once the work is done
 * (the model ready, or stopped) with the model's entry as GET /status lists it, or at once with
 * 202 and `?wait=false`.
 */

/** The verbs' paths, for the list of routes an unknown path gets. */
export const modelRoutes = ['POST /models/{name}/start', 'POST /models/{name}/stop', 'POST /models/{name}/restart', 'PUT /models/{name}/idle-timeout', 'DELETE /models/{name}'];

type Verb = (name: string, request: AdminRequest, fleet: Fleet) => Promise<AdminReply> | AdminReply;

const verbs: Record<string, Verb> = {
	async 'POST start'(name, request, fleet) {
		return withBody(request, ['pin'], async body => {
			const pin = readPin(body);
			return typeof pin === 'object' ? pin : startReply(fleet, name, request, fleet.start(name, {pin}));
		});
	},
	async 'POST stop'(name, request, fleet) {
		return withBody(request, ['pin'], async body => {
			const pin = readPin(body);
			if (typeof pin === 'object') {
				return pin;
			}

			const stopped = fleet.stop(name, {pin});
			return answer(fleet, name, request, async () => {
				await stopped;
				return entryReply(fleet, name);
			});
		});
	},
	async 'POST restart'(name, request, fleet) {
		return withBody(request, [], async () => startReply(fleet, name, request, fleet.restart(name)));
	},
	async 'PUT idle-timeout'(name, request, fleet) {
		return withBody(request, ['idle_timeout'], body => {
			const value = body['idle_timeout'];
			if (value === null) {
				fleet.setIdleTimeout(name, undefined);
				return entryReply(fleet, name);
			}

			const reading = typeof value === 'number' || typeof value === 'string' ? readDuration(String(value), {zeroMeans: 'never'}) : {expected: durationExpected};
			if ('expected' in reading) {
				const shown = value === undefined ? 'nothing' : JSON.stringify(value);
				return error(proxyErrors.invalidParameter, `idle_timeout ${mustBe(reading, shown)}. 0 = never; null goes back to the configured one.`, 'idle_timeout');
			}

			fleet.setIdleTimeout(name, reading.value);
			return entryReply(fleet, name);
		});
	},
	'DELETE'(name, _request, fleet) {
		return json(200, modelEntry(fleet.describe(fleet.forget(name))));
	},
};

/** The handler of an operator verb on a model (`/models/{name}/…`), if the path is one; names may hold slashes. */
export function modelRoute(method: string, path: string): Handler | undefined {
	if (!path.startsWith('/models/')) {
		return undefined;
	}

	const rest = path.slice('/models/'.length);
	const slash = rest.lastIndexOf('/');
	const suffix = rest.slice(slash + 1);
	const verb = verbs[`${method} ${suffix}`];
	if (slash !== -1 && verb) {
		return async (request, {fleet}) => run(() => verb(decode(rest.slice(0, slash)), request, fleet));
	}

	const forget = method === 'DELETE' ? verbs['DELETE'] : undefined;
	return forget && (async (request, {fleet}) => run(() => forget(decode(rest), request, fleet)));
}

/**
 * `POST /switch`: `{"model": name}` runs that model, the others of its group stopped first (no
 * residency waited for); `{"model_spec": "name --flags…"}`, as aic-vllm-proxy takes it, runs the
 * switch command with the spec as an ad-hoc model, in `group` if given.
 */
export async function switchModel(request: AdminRequest, {fleet}: AdminContext): Promise<AdminReply> {
	return run(async () => withBody(request, ['model', 'model_spec', 'group'], async body => {
		const {model, model_spec: spec, group} = body;
		if ((model === undefined) === (spec === undefined)) {
			return error(proxyErrors.invalidParameter, 'Give either `model` (a configured model\'s name) or `model_spec` (a model and its server flags, such as "Qwen/Qwen3-8B --max-model-len 8192").', model === undefined ? 'model' : 'model_spec');
		}

		if (typeof model === 'string') {
			if (group !== undefined) {
				return error(proxyErrors.invalidParameter, '`group` goes with `model_spec` only: a configured model\'s group is in the configuration.', 'group');
			}

			return startReply(fleet, model, request, fleet.switchTo(model));
		}

		if (typeof spec !== 'string') {
			return error(proxyErrors.invalidParameter, `${model === undefined ? 'model_spec' : 'model'} must be a string.`, model === undefined ? 'model_spec' : 'model');
		}

		if (group !== undefined && (typeof group !== 'string' || group === '')) {
			return error(proxyErrors.invalidParameter, '`group` must be a group name such as "gpu0".', 'group');
		}

		const words = readModelSpec(spec);
		if ('expected' in words) {
			return error(proxyErrors.invalidParameter, `model_spec ${mustBe(words, JSON.stringify(spec))}.`, 'model_spec');
		}

		const {name, outcome} = fleet.switchToSpec(words.value, group);
		return startReply(fleet, name, request, outcome);
	}));
}

const operatorErrors: Record<OperatorError['kind'], ProxyErrorKind> = {
	'not found': proxyErrors.notFound,
	conflict: proxyErrors.conflict,
	invalid: proxyErrors.invalidParameter,
};

/** Runs a verb; a command the fleet refuses becomes its error reply. */
async function run(verb: () => Promise<AdminReply> | AdminReply): Promise<AdminReply> {
	try {
		return await verb();
	} catch (cause) {
		if (cause instanceof OperatorError) {
			return error(operatorErrors[cause.kind], cause.message);
		}

		throw cause;
	}
}

/** The request's JSON object (an empty body is `{}`), checked for fields the verb does not know, or a 400. */
async function withBody(request: AdminRequest, fields: string[], use: (body: Record<string, unknown>) => Promise<AdminReply> | AdminReply): Promise<AdminReply> {
	let body: unknown = {};
	if (request.body.trim() !== '') {
		try {
			body = JSON.parse(request.body);
		} catch (cause) {
			return error(proxyErrors.invalidJson, `The request body is not valid JSON: ${(cause as Error).message}`);
		}
	}

	if (typeof body !== 'object' || body === null || Array.isArray(body)) {
		return error(proxyErrors.invalidParameter, 'The request body must be a JSON object.');
	}

	const unknown = Object.keys(body).find(field => !fields.includes(field));
	if (unknown !== undefined) {
		const known = fields.length === 0 ? 'it takes none' : `it takes ${fields.map(field => `\`${field}\``).join(', ')}`;
		return error(proxyErrors.invalidParameter, `Unknown field \`${unknown}\` for ${request.method} ${request.path}: ${known}.`, unknown);
	}

	return use(body as Record<string, unknown>);
}

function readPin(body: Record<string, unknown>): boolean | undefined | AdminReply {
	const {pin} = body;
	return pin === undefined || typeof pin === 'boolean' ? pin : error(proxyErrors.invalidParameter, '`pin` must be true or false.', 'pin');
}

/** Answers once `done` has, or at once with 202 and the model as it is with `?wait=false`. */
async function answer(fleet: Fleet, name: string, request: AdminRequest, done: () => Promise<AdminReply>): Promise<AdminReply> {
	const wait = request.query['wait'];
	if (wait !== undefined && wait !== 'true' && wait !== 'false') {
		return error(proxyErrors.invalidParameter, `\`wait\` must be true or false (got ${JSON.stringify(wait)}).`, 'wait');
	}

	const reply = done();
	if (wait !== 'false') {
		return reply;
	}

	// The work goes on; its end is in /status and the logs.
	reply.catch(() => undefined);
	return json(202, modelEntry(fleet.describe(fleet.get(name)!)));
}

/** The reply to a start: the model's entry when it is ready, otherwise why it is not. */
async function startReply(fleet: Fleet, name: string, request: AdminRequest, started: Promise<StartOutcome>): Promise<AdminReply> {
	return answer(fleet, name, request, async () => {
		const outcome = await started;
		const model = fleet.get(name);
		if (!model) {
			return error(proxyErrors.notFound, `${name} was removed from the configuration before it was ready.`);
		}

		const {reason, unavailable} = fleet.describe(model);
		switch (outcome) {
			case 'ready': {
				return entryReply(fleet, name);
			}

			case 'failed': {
				return error(proxyErrors.startFailed, reason ?? `${name} failed to start.`);
			}

			case 'stopped': {
				return error(proxyErrors.conflict, `${name} was stopped before it was ready${reason ? `: ${reason}` : ''}.`);
			}

			case 'not started': {
				return error(proxyErrors.conflict, `${name} did not start: ${unavailable ?? 'its turn in its group was withdrawn (it was stopped, or switchboard is shutting down).'}`);
			}
		}
	});
}

function entryReply(fleet: Fleet, name: string): AdminReply {
	const model = fleet.get(name);
	return model ? json(200, modelEntry(fleet.describe(model))) : error(proxyErrors.notFound, `The model \`${name}\` does not exist.`);
}

/** A percent-decoded path segment, or the segment as it is when it does not decode. */
function decode(segment: string): string {
	try {
		return decodeURIComponent(segment);
	} catch {
		return segment;
	}
}
