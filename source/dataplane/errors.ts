import type {ServerResponse} from 'node:http';
import {send} from './send.js';

/** The error kinds the proxy itself answers with, each with OpenAI's `type` and a stable `code`. */
export const proxyErrors = {
	invalidJson: {status: 400, type: 'invalid_request_error', code: 'invalid_json'},
	invalidParameter: {status: 400, type: 'invalid_request_error', code: 'invalid_parameter'},
	invalidApiKey: {status: 401, type: 'invalid_request_error', code: 'invalid_api_key'},
	modelNotAllowed: {status: 403, type: 'permission_error', code: 'model_not_allowed'},
	notFound: {status: 404, type: 'invalid_request_error', code: 'not_found'},
	conflict: {status: 409, type: 'invalid_request_error', code: 'conflict'},
	invalidKeysFile: {status: 400, type: 'invalid_request_error', code: 'invalid_keys_file'},
	bodyTooLarge: {status: 413, type: 'invalid_request_error', code: 'body_too_large'},
	queueFull: {status: 429, type: 'rate_limit_error', code: 'queue_full'},
	backendUnreachable: {status: 502, type: 'server_error', code: 'backend_unreachable'},
	noHealthyBackend: {status: 503, type: 'server_error', code: 'no_healthy_backend'},
	startFailed: {status: 503, type: 'server_error', code: 'model_start_failed'},
	waitTimeout: {status: 503, type: 'server_error', code: 'model_not_ready'},
	modelUnavailable: {status: 503, type: 'server_error', code: 'model_unavailable'},
	shuttingDown: {status: 503, type: 'server_error', code: 'shutting_down'},
	adminFailed: {status: 500, type: 'server_error', code: 'admin_failed'},
} as const;

export type ProxyErrorKind = (typeof proxyErrors)[keyof typeof proxyErrors];

export function errorBody(kind: ProxyErrorKind, message: string, param: string | null = null): string {
	return JSON.stringify({error: {message, type: kind.type, param, code: kind.code}});
}

/** Answers with OpenAI's error envelope unless a response is already under way. */
export function sendError(
	res: ServerResponse,
	kind: ProxyErrorKind,
	message: string,
	retryAfterSeconds?: number,
): void {
	if (res.headersSent || res.destroyed) {
		return;
	}

	send(res, kind.status, 'application/json', errorBody(kind, message), retryAfterSeconds === undefined ? undefined : {'retry-after': Math.max(1, Math.ceil(retryAfterSeconds))});
}
