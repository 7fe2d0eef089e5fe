import {request} from 'undici';

export type Readiness =
	| {ready: true}
	| {ready: false; foreignModels?: string[]};

/**
 * Is the backend at `url` up, and is it ours? Up = the ping path answers 200 (vLLM refuses
 * connections until loaded). Ours = when the model's name is known, `/v1/models` lists it:
 * a port taken by another server in the moment between our port check and our backend's bind
 * must not make us report a model ready that is not.
 */
export async function checkReadiness(url: string, pingPath: string, expectedModel: string | undefined): Promise<Readiness> {
	try {
		const ping = await request(url + pingPath, {headersTimeout: 5000, bodyTimeout: 5000});
		await ping.body.dump();
		if (ping.statusCode !== 200) {
			return {ready: false};
		}

		if (expectedModel === undefined) {
			return {ready: true};
		}

		const models = await request(`${url}/v1/models`, {headersTimeout: 5000, bodyTimeout: 5000});
		if (models.statusCode !== 200) {
			// Not an OpenAI model list (auth, another kind of server): the ping is all we can go by.
			await models.body.dump();
			return {ready: true};
		}

		const ids = listedModels(await models.body.json());
		return ids === undefined || ids.includes(expectedModel) ? {ready: true} : {ready: false, foreignModels: ids};
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
