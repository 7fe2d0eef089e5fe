import type {RouteDefinition} from './app.js';
import type {SimLogger} from './log.js';
import {primaryModelName, type SimOptions} from './options.js';
import {simulatedVersion} from './routes/info.js';

/**
 * The lines vLLM prints while it starts, so log-watching launchers see the
 * familiar progression; "Application startup complete." marks readiness.
 * The [file:line] tags imitate vLLM's and mean nothing here.
 */

const ENGINE = 'EngineCore_DP0';

export function logLaunch(logger: SimLogger, options: SimOptions): void {
	const version = simulatedVersion(options.legacyMetrics);
	logger.info('api_server.py:1839', `vLLM API server version ${version}`);
	logger.info('model.py:1510', `Using max model len ${options.maxModelLen}`);
	logger.info(
		'core.py:93',
		`Initializing a ${options.legacyMetrics ? 'V0' : 'V1'} LLM engine (v${version}) with config: model='${options.model}', tokenizer='${options.model}', ` +
			`max_seq_len=${options.maxModelLen}, seed=${options.seed}, served_model_name=${primaryModelName(options)}`,
		ENGINE,
	);
	logger.info('gpu_model_runner.py:2602', `Starting to load model ${options.model}...`, ENGINE);
}

export function logEngineReady(logger: SimLogger, options: SimOptions, kvCapacityTokens: number): void {
	const seconds = options.startupDelaySeconds;
	logger.info('default_loader.py:267', `Loading weights took ${(seconds * 0.6).toFixed(2)} seconds`, ENGINE);
	logger.info('kv_cache_utils.py:1087', `GPU KV cache size: ${kvCapacityTokens.toLocaleString('en-US')} tokens`, ENGINE);
	logger.info(
		'kv_cache_utils.py:1091',
		`Maximum concurrency for ${options.maxModelLen.toLocaleString('en-US')} tokens per request: ${(kvCapacityTokens / options.maxModelLen).toFixed(2)}x`,
		ENGINE,
	);
	logger.info('core.py:210', `init engine (profile, create kv cache, warmup model) took ${seconds.toFixed(2)} seconds`, ENGINE);
	logger.info('api_server.py:1634', "Supported tasks: ['generate', 'embed']");
}

export function logEngineStartupFailure(logger: SimLogger): void {
	logger.error('core.py:708', 'EngineCore failed to start.', ENGINE);
	logger.error('core.py:708', 'RuntimeError: simulated startup failure (--fail-on-startup)', ENGINE);
}

export function logServing(logger: SimLogger, address: string, routes: readonly RouteDefinition[]): void {
	logger.info('api_server.py:1912', `Starting vLLM server on ${address}`);
	logger.info('launcher.py:37', 'Available routes are:');
	for (const route of routes) {
		logger.info('launcher.py:46', `Route: ${route.path}, Methods: ${Object.keys(route.methods).join(', ')}`);
	}
	logger.uvicorn(`Started server process [${process.pid}]`);
	logger.uvicorn('Waiting for application startup.');
	logger.uvicorn('Application startup complete.');
}

export function logEngineCrash(logger: SimLogger, completedRequests: number): void {
	logger.error('core.py:710', 'EngineCore encountered a fatal error.', ENGINE);
	logger.error('core.py:710', `RuntimeError: simulated engine crash after ${completedRequests} completed requests (--exit-after)`, ENGINE);
	logger.error('async_llm.py:480', 'AsyncLLM output_handler failed.');
	logger.error(
		'async_llm.py:480',
		'vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.',
	);
}

export function logShutdown(logger: SimLogger): void {
	logger.uvicorn('Shutting down');
	logger.uvicorn('Waiting for application shutdown.');
	logger.uvicorn('Application shutdown complete.');
	logger.uvicorn(`Finished server process [${process.pid}]`);
}
