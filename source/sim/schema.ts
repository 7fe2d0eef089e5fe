import {type ApiError, type ValidationIssue, validationFailed} from './errors.js';

export type JsonObject = Record<string, unknown>;

export function isString(value: unknown): value is string {
	return typeof value === 'string';
}

function isBoolean(value: unknown): value is boolean {
	return typeof value === 'boolean';
}

export function isTokenId(value: unknown): value is number {
	return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

export function isTokenIdList(value: unknown): value is number[] {
	return Array.isArray(value) && value.length > 0 && value.every(isTokenId);
}

export function isJsonObject(value: unknown): value is JsonObject {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Decodes a request body the way FastAPI does before pydantic sees it. */
export function parseJsonBody(raw: string): JsonObject | ApiError {
	if (raw.length === 0) {
		return validationFailed([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
	}
	let parsed: unknown;
	try {
		parsed = JSON.parse(raw);
	} catch (error) {
		return validationFailed([
			{
				type: 'json_invalid',
				loc: ['body', errorPosition(error, raw)],
				msg: 'JSON decode error',
				input: {},
				ctx: { error: 'Expecting value' },
			},
		]);
	}
	if (!isJsonObject(parsed)) {
		return validationFailed([
			{
				type: 'model_attributes_type',
				loc: ['body'],
				msg: 'Input should be a valid dictionary or object to extract fields from',
				input: parsed,
			},
		]);
	}
	return parsed;
}

function errorPosition(error: unknown, raw: string): number {
	const match = error instanceof Error ? /position (\d+)/.exec(error.message) : null;
	return match?.[1] === undefined ? raw.length : Number(match[1]);
}

/**
 * Reads typed fields from a request body, collecting pydantic-style issues
 * instead of throwing, so one response can list every problem like FastAPI.
 * JSON null counts as absent, as for vLLM's optional fields.
 */
export class FieldReader {
	constructor(
		readonly body: JsonObject,
		/** Where `body` sits in the request, for issue locations of nested objects. */
		private readonly path: readonly (string | number)[] = [],
		readonly issues: ValidationIssue[] = [],
	) {}

	/** A reader for a nested object whose issues land in this reader's list. */
	nested(name: string, value: JsonObject): FieldReader {
		return new FieldReader(value, [...this.path, name], this.issues);
	}

	string(name: string): string | undefined {
		return this.typed(name, isString, 'string_type', 'Input should be a valid string');
	}

	boolean(name: string): boolean | undefined {
		return this.typed(name, isBoolean, 'bool_type', 'Input should be a valid boolean');
	}

	integer(name: string): number | undefined {
		const value = this.body[name];
		if (value === undefined || value === null) return undefined;
		if (typeof value === 'number' && Number.isInteger(value)) return value;
		if (typeof value === 'number' && Number.isFinite(value)) {
			this.issue('int_from_float', [name], 'Input should be a valid integer, got a number with a fractional part', value);
		} else {
			this.issue('int_type', [name], 'Input should be a valid integer', value);
		}
		return undefined;
	}

	object(name: string): JsonObject | undefined {
		return this.typed(name, isJsonObject, 'dict_type', 'Input should be a valid dictionary');
	}

	issue(type: string, path: readonly (string | number)[], msg: string, input: unknown): void {
		this.issues.push({ type, loc: ['body', ...this.path, ...path], msg, input });
	}

	failure(): ApiError | null {
		return this.issues.length > 0 ? validationFailed(this.issues) : null;
	}

	private typed<T>(name: string, accepts: (value: unknown) => value is T, type: string, msg: string): T | undefined {
		const value = this.body[name];
		if (value === undefined || value === null) return undefined;
		if (accepts(value)) return value;
		this.issue(type, [name], msg, value);
		return undefined;
	}
}
