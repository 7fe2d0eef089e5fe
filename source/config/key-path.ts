/** A TOML table as smol-toml returns it. */
export function isTable(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Where in the file a value is, as the user would look for it: `server.port`,
 * `models "qwen3-8b".idle_timeout` (a model by its name when it has one, since the user
 * does not count [[models]] tables), `models[2].name` (by index when the name is the issue).
 */
export function keyPath(path: readonly PropertyKey[], document: unknown): string {
	let text = '';
	for (const [position, key] of path.entries()) {
		if (typeof key === 'number') {
			const name = path[position - 1] === 'models' && path[position + 1] !== 'name' ? modelName(document, key) : undefined;
			text += name === undefined ? `[${key}]` : ` ${JSON.stringify(name)}`;
		} else {
			const bare = /^[\w-]+$/.test(String(key)) ? String(key) : JSON.stringify(String(key));
			text += position === 0 ? bare : `.${bare}`;
		}
	}

	return text;
}

function modelName(document: unknown, index: number): string | undefined {
	const models = isTable(document) ? document['models'] : undefined;
	const model: unknown = Array.isArray(models) ? models[index] : undefined;
	return isTable(model) && typeof model['name'] === 'string' ? model['name'] : undefined;
}
