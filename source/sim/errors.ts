import {pyRepr, pyTupleRepr} from './pyrepr.js';

/**
 * An error answered with vLLM's envelope (v0.10.1+):
 * `{"error":{"message","type","param","code"}}`.
 */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly type: string,
		message: string,
		readonly param: string | null = null,
	) {
		super(message);
	}

	toJson(): string {
		return JSON.stringify({ error: { message: this.message, type: this.type, param: this.param, code: this.status } });
	}
}

/** Bodies that bypass the envelope: the auth middleware and Starlette's router answer these directly. */
export const UNAUTHORIZED_BODY = '{"error":"Unauthorized"}';
export const NOT_FOUND_BODY = '{"detail":"Not Found"}';
export const METHOD_NOT_ALLOWED_BODY = '{"detail":"Method Not Allowed"}';

export function modelNotFound(model: string): ApiError {
	return new ApiError(404, 'NotFoundError', `The model \`${model}\` does not exist.`, 'model');
}

/** A `VLLMValidationError` raised while processing the request: its text names the parameter. */
export function invalidParameter(message: string, param: string, value?: unknown): ApiError {
	const extras = [`parameter=${param}`];
	if (value !== undefined) extras.push(`value=${String(value)}`);
	return new ApiError(400, 'BadRequestError', `${message} (${extras.join(', ')})`, param);
}

export function engineFailure(): ApiError {
	return new ApiError(500, 'InternalServerError', 'EngineCore encountered an issue. See stack trace (above) for the root cause.');
}

/** One pydantic validation error, as FastAPI reports a request body that does not fit the schema. */
export interface ValidationIssue {
	type: string;
	loc: readonly (string | number)[];
	msg: string;
	input: unknown;
	ctx?: Record<string, string>;
}

/**
 * FastAPI's RequestValidationError as vLLM re-wraps it: 400 (not 422), type
 * "Bad Request", param the dotted location, message the printed error list.
 */
export function validationFailed(issues: readonly (ValidationIssue | string)[], param?: string): ApiError {
	const label = issues.length === 1 ? 'error' : 'errors';
	const lines = issues.map((issue) => `  ${typeof issue === 'string' ? issue : describeIssue(issue)}`);
	const message = `${issues.length} validation ${label}:\n${lines.join('\n')}`;
	const first = issues[0];
	const location = typeof first === 'object' ? first.loc.join('.') : null;
	return new ApiError(400, 'Bad Request', message, param ?? location);
}

export function unsupportedMediaType(): ApiError {
	return validationFailed(["Unsupported Media Type: Only 'application/json' is allowed"]);
}

function describeIssue(issue: ValidationIssue): string {
	const fields = [
		`'type': ${pyRepr(issue.type)}`,
		`'loc': ${pyTupleRepr(issue.loc)}`,
		`'msg': ${pyRepr(issue.msg)}`,
		`'input': ${pyRepr(issue.input)}`,
	];
	if (issue.ctx) fields.push(`'ctx': ${pyRepr(issue.ctx)}`);
	return `{${fields.join(', ')}}`;
}
