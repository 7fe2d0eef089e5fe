import type {IncomingMessage, RequestListener} from 'node:http';
import {ApiKeyGuard} from './auth.js';
import type {JsonRouteHandler, RouteHandler, SimContext} from './context.js';
import {ApiError, METHOD_NOT_ALLOWED_BODY, NOT_FOUND_BODY, UNAUTHORIZED_BODY, unsupportedMediaType} from './errors.js';
import {chatCompletions} from './routes/chat.js';
import {completions} from './routes/completions.js';
import {embeddings} from './routes/embeddings.js';
import {health, load, metrics, models, version} from './routes/info.js';
import {parseJsonBody} from './schema.js';

export interface RouteDefinition {
	path: string;
	methods: Readonly<Record<string, RouteHandler>>;
}

export const ROUTES: readonly RouteDefinition[] = [
	{ path: '/health', methods: { GET: health } },
	{ path: '/load', methods: { GET: load } },
	{ path: '/ping', methods: { GET: health, POST: health } },
	{ path: '/version', methods: { GET: version } },
	{ path: '/metrics', methods: { GET: metrics } },
	{ path: '/v1/models', methods: { GET: models } },
	{ path: '/v1/chat/completions', methods: { POST: withJsonBody(chatCompletions) } },
	{ path: '/v1/completions', methods: { POST: withJsonBody(completions) } },
	{ path: '/v1/embeddings', methods: { POST: withJsonBody(embeddings) } },
];

/**
 * Dispatches like vLLM's stack: the auth middleware first, then Starlette's
 * router (404/405 with `{"detail": ...}`), then the route.
 */
export function createRequestListener(context: SimContext): RequestListener {
	const routes = new Map(ROUTES.map((route) => [route.path, route]));
	const guard = new ApiKeyGuard(context.options.apiKeys);
	const { responder } = context;
	return (req, res) => {
		context.counters.total++;
		const url = req.url ?? '/';
		const queryStart = url.indexOf('?');
		const path = queryStart === -1 ? url : url.slice(0, queryStart);
		if (guard.rejects(req.method, path, req.headers.authorization)) {
			return responder.json(res, 401, UNAUTHORIZED_BODY);
		}
		const route = routes.get(path);
		if (route === undefined) return responder.json(res, 404, NOT_FOUND_BODY);
		const handler = route.methods[req.method ?? ''];
		if (handler === undefined) {
			return responder.json(res, 405, METHOD_NOT_ALLOWED_BODY, { allow: Object.keys(route.methods).join(', ') });
		}
		handler(context, req, res);
	};
}

/** Reads the whole body, then applies vLLM's content-type rule and FastAPI's JSON decoding. */
function withJsonBody(handler: JsonRouteHandler): RouteHandler {
	return (context, req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		// A client that disconnects mid-upload ends here; there is nobody left to answer.
		req.on('error', () => {});
		req.on('end', () => {
			const body = decodeBody(req, chunks);
			if (body instanceof ApiError) return context.responder.error(res, body);
			handler(context, req, res, body);
		});
	};
}

function decodeBody(req: IncomingMessage, chunks: Buffer[]): ReturnType<typeof parseJsonBody> {
	const mediaType = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
	if (mediaType !== 'application/json') return unsupportedMediaType();
	return parseJsonBody(Buffer.concat(chunks).toString('utf8'));
}
