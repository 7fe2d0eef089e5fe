import {mkdtempSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {RunFlags} from './config/flags.js';
import type {Config} from './config/types.js';
import {demoConfig, demoModels, readyAtOnce} from './demo/fleet.js';
import {startDemoLoad} from './demo/load.js';
import {consoleWanted, runConsoleMode} from './console.js';
import {runHeadless} from './headless.js';
import type {Run} from './run.js';

/**
 * Starts the demo's first model and its synthetic load (ended when the run stops) on a switchboard
 * running the demo fleet; returns what the demo is and what to try, for a newcomer.
 */
function startDemo(run: Run, config: Config): string {
	const {switchboard, logger} = run;
	switchboard.fleet.start(readyAtOnce).catch((error: unknown) => {
		logger.warn({err: error, model: readyAtOnce}, 'the demo could not start its first model');
	});

	const port = /:(\d+)$/.exec(switchboard.url)![1]!;
	// The load reaches the proxy on loopback, which listening on every interface includes.
	const onLoopback = ['127.0.0.1', '0.0.0.0', '::'].includes(config.server.host);
	const load = onLoopback ? startDemoLoad({
		url: `http://127.0.0.1:${port}`,
		models: demoModels,
		apiKey: config.server.apiKeys[0] ?? config.server.adminKeys[0],
	}) : undefined;
	run.onStop(() => load?.stop());
	const {url} = switchboard;
	logger.info({url, models: demoModels.map(model => model.name), logDir: config.server.logDir, stateDir: config.server.stateDir}, `switchboard demo listening on ${url}`);
	return introText(url, onLoopback);
}

/**
 * `npm start`: the demo fleet and its synthetic load, in the console on a terminal (headless with
 * --no-ui). Its logs and operator choices live in a temporary directory of this run's own (the
 * choices removed at exit, the logs kept), unless --log-dir or --state-dir say where: the user's
 * real state is not touched.
 */
export async function runDemo(flags: RunFlags): Promise<void> {
	const scratchDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-demo-'));
	process.on('exit', () => {
		// The operator's choices of a demo are gone with it; its logs stay, for a look afterwards.
		rmSync(path.join(scratchDir, 'state'), {recursive: true, force: true});
	});
	const config = demoConfig(flags, scratchDir);
	if (consoleWanted(flags.ui)) {
		await runConsoleMode(config, undefined, run => startDemo(run, config));
		return;
	}

	process.stdout.write(startDemo(await runHeadless(config), config));
}

function introText(url: string, loaded: boolean): string {
	const width = Math.max(...demoModels.map(model => model.name.length));
	const models = demoModels.map(model => `    ${model.name.padEnd(width)}  ${model.role}`).join('\n');
	const load = loaded
		? 'A light synthetic load (one or two requests a second, in bursts and pauses) keeps them busy.'
		: 'The synthetic load is off: it reaches switchboard on 127.0.0.1 only, and --host is another interface.';
	return `
  switchboard demo: an OpenAI-compatible proxy on ${url}
  in front of simulated vLLM servers (switchboard sim, no GPU), each started by switchboard:

${models}

  ${load}

  Try it from another terminal:

    curl -N ${url}/v1/chat/completions -H 'Content-Type: application/json' \\
      -d '{"model": "qwen3-32b", "stream": true, "messages": [{"role": "user", "content": "Hello!"}]}'

    python -c 'from openai import OpenAI
client = OpenAI(base_url="${url}/v1", api_key="none")
reply = client.chat.completions.create(model="${readyAtOnce}", messages=[{"role": "user", "content": "Hello!"}])
print(reply.choices[0].message.content)'

    curl ${url}/status        curl ${url}/load-stats        curl '${url}/logs/tail?lines=20'

  --log-level debug also shows the backends' own output. Ctrl-C stops the load and every backend.

`;
}
