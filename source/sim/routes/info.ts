import type {RouteHandler} from '../context.js';
import {METRICS_CONTENT_TYPE, renderMetrics} from '../metrics.js';
import {acceptedModelNames} from '../options.js';
import {randomHex16} from '../respond.js';

/** The vLLM release the simulator imitates; legacy metrics imitate one from before the V1 renames. */
export const SIMULATED_VLLM_VERSION = '0.13.0';
export const SIMULATED_LEGACY_VLLM_VERSION = '0.8.5';

export function simulatedVersion(legacyMetrics: boolean): string {
	return legacyMetrics ? SIMULATED_LEGACY_VLLM_VERSION : SIMULATED_VLLM_VERSION;
}

/** 200 with an empty body; 503 once the engine is dead, as vLLM's EngineDeadError check answers. */
export const health: RouteHandler = (context, _req, res) => {
	context.responder.empty(res, context.engineDead() ? 503 : 200);
};

export const version: RouteHandler = (context, _req, res) => {
	context.responder.json(res, 200, JSON.stringify({ version: simulatedVersion(context.options.legacyMetrics) }));
};

/** In-flight generation requests, counted only with --enable-server-load-tracking (else 0, as in vLLM). */
export const load: RouteHandler = (context, _req, res) => {
	const { engine } = context;
	const serverLoad = context.options.serverLoadTracking ? engine.runningCount + engine.waitingCount : 0;
	context.responder.json(res, 200, JSON.stringify({ server_load: serverLoad }));
};

export const metrics: RouteHandler = (context, _req, res) => {
	const body = renderMetrics({
		engine: context.engine,
		modelName: context.modelName,
		legacy: context.options.legacyMetrics,
		createdSeconds: context.createdSeconds,
		kvCapacityTokens: context.kvCapacityTokens,
	});
	context.responder.text(res, 200, METRICS_CONTENT_TYPE, body);
};

/** One card per served name; `created` and the permission id are fresh on every call, as in vLLM. */
export const models: RouteHandler = (context, _req, res) => {
	const { options } = context;
	const created = Math.floor(options.clock.wallMs() / 1000);
	const data = acceptedModelNames(options).map((name) => ({
		id: name,
		object: 'model',
		created,
		owned_by: 'vllm',
		root: options.model,
		parent: null,
		max_model_len: options.maxModelLen,
		permission: [
			{
				id: `modelperm-${randomHex16()}`,
				object: 'model_permission',
				created,
				allow_create_engine: false,
				allow_sampling: true,
				allow_logprobs: true,
				allow_search_indices: false,
				allow_view: true,
				allow_fine_tuning: false,
				organization: '*',
				group: null,
				is_blocking: false,
			},
		],
	}));
	context.responder.json(res, 200, JSON.stringify({ object: 'list', data }));
};
