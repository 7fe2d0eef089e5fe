/** Whether a key may use a model, decided once per key so a request costs a set lookup. */
export type ModelMatcher = (model: string) => boolean;

const everyModel: ModelMatcher = () => true;

/**
 * The matcher of a key's `models`: exact names, and prefixes written with a trailing `*`
 * (`"qwen*"`; `"*"` alone is every model). No list (undefined) allows every model.
 */
export function modelMatcher(patterns: readonly string[] | undefined): ModelMatcher {
	if (patterns === undefined || patterns.includes('*')) {
		return everyModel;
	}

	const names = new Set(patterns.filter(pattern => !pattern.endsWith('*')));
	const prefixes = patterns.filter(pattern => pattern.endsWith('*')).map(pattern => pattern.slice(0, -1));
	if (prefixes.length === 0) {
		return model => names.has(model);
	}

	return model => names.has(model) || prefixes.some(prefix => model.startsWith(prefix));
}
