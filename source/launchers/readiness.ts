import {setTimeout as sleep} from 'node:timers/promises';
import {request} from 'undici';
import {listenerInGroup} from './port-owner.js';

export type Readiness =
	| {ready: true; listedModels?: string[]}
	| {ready: false; foreignModels?: string[]};

export interface ReadinessTarget {
	url: string;
	port: number;
	pingPath: string;
	/** The name the backend should list in `/v1/models`, when known. */
	expectedModel: string | undefined;
	/** The process group of the backend we started; undefined when it runs elsewhere (a SLURM job) or cannot be told. */
	group: number | undefined;
}

const probeIntervalMs = 250;

/**
 * Checks the backend until it is ready, for as long as `active()` holds; then calls `onReady`
 * (unless it stopped meanwhile). Says once if another process answers on its port.
 */
export async function probeUntilReady(target: ReadinessTarget, model: string, watcher: {active(): boolean; onLog(line: string): void; onReady(): void}): Promise<void> {
	let warned = false;
	while (watcher.active()) {
		const readiness = await checkReadiness(target);
		if (readiness.ready) {
			if (readiness.listedModels) {
				watcher.onLog(`switchboard: ${model} serves ${readiness.listedModels.join(', ')}, not ${target.expectedModel} as its command suggests; clients should use those names`);
			}

			if (watcher.active()) {
				watcher.onReady();
			}

			return;
		}

		if (readiness.foreignModels && !warned) {
			warned = true;
			watcher.onLog(`switchboard: port ${target.port} is answered by another process${readiness.foreignModels.length > 0 ? ` (serving ${readiness.foreignModels.join(', ')})` : ''}, not the one switchboard started; waiting for ours`);
		}

		await sleep(probeIntervalMs);
	}
}

const timeouts = {headersTimeout: 5000, bodyTimeout: 5000};

/**
 * Is the backend up, and is it ours? Up = the ping path answers 200 (vLLM refuses connections
 * until loaded). Ours = the listening socket belongs to our process group, read from /proc; a
 * server that took the port between our port check and our backend's bind (another switchboard
 * starting the same model, say) must never make us report a model ready that is not. Without
 * /proc (macOS), `/v1/models` listing the expected name is the next best sign.
 */
export async function checkReadiness(target: ReadinessTarget): Promise<Readiness> {
	try {
		const ping = await request(target.url + target.pingPath, timeouts);
		await ping.body.dump();
		if (ping.statusCode !== 200) {
			return {ready: false};
		}

		const ours = target.group === undefined ? undefined : listenerInGroup(target.port, target.group);
		if (ours === false) {
			return {ready: false, foreignModels: await modelsAt(target.url) ?? []};
		}

		if (target.expectedModel === undefined) {
			return {ready: true};
		}

		const listed = await modelsAt(target.url);
		if (listed === undefined || listed.includes(target.expectedModel)) {
			return {ready: true};
		}

		// Ours, yet named otherwise (a config file, an alias flag): ready, and worth a note. Where
		// that cannot be told (a job's node, macOS), another name means another server.
		return ours ? {ready: true, listedModels: listed} : {ready: false, foreignModels: listed};
	} catch {
		return {ready: false};
	}
}

/** The ids `/v1/models` lists, or undefined when it is not an OpenAI model list. */
async function modelsAt(url: string): Promise<string[] | undefined> {
	const response = await request(`${url}/v1/models`, timeouts);
	if (response.statusCode !== 200) {
		await response.body.dump();
		return undefined;
	}

	const data = (await response.body.json() as {data?: unknown} | null)?.data;
	if (!Array.isArray(data)) {
		return undefined;
	}

	return data.flatMap(entry => typeof (entry as {id?: unknown} | null)?.id === 'string' ? [(entry as {id: string}).id] : []);
}
