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
	/** The process group of the backend we started. */
	group: number | undefined;
}

/**
 * Is the backend up, and is it ours? Up = the ping path answers 200 (vLLM refuses connections
 * until loaded). Ours = `/v1/models` lists the expected name, or the listening socket belongs
 * to our process group: a port taken by another server between our port check and our
 * backend's bind must never make us report a model ready that is not.
 */
export async function checkReadiness(target: ReadinessTarget): Promise<Readiness> {
	try {
		const ping = await request(target.url + target.pingPath, {headersTimeout: 5000, bodyTimeout: 5000});
		await ping.body.dump();
		if (ping.statusCode !== 200) {
			return {ready: false};
		}

		if (target.expectedModel === undefined) {
			return {ready: true};
		}

		const models = await request(`${target.url}/v1/models`, {headersTimeout: 5000, bodyTimeout: 5000});
		if (models.statusCode !== 200) {
			// Not an OpenAI model list (auth, another kind of server): the ping is all we can go by.
			await models.body.dump();
			return {ready: true};
		}

		const ids = listedModels(await models.body.json());
		if (ids === undefined || ids.includes(target.expectedModel)) {
			return {ready: true};
		}

		// The name may just be configured in a way we did not read (a config file, an alias flag).
		const ours = target.group === undefined ? undefined : listenerInGroup(target.port, target.group);
		return ours === false ? {ready: false, foreignModels: ids} : {ready: true, listedModels: ids};
	} catch {
		return {ready: false};
	}
}

function listedModels(body: unknown): string[] | undefined {
	const data = (body as {data?: unknown} | null)?.data;
	if (!Array.isArray(data)) {
		return undefined;
	}

	return data.flatMap(entry => typeof (entry as {id?: unknown} | null)?.id === 'string' ? [(entry as {id: string}).id] : []);
}
