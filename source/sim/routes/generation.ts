import type {IncomingMessage, ServerResponse} from 'node:http';
import type {JsonRouteHandler, SimContext} from '../context.js';
import type {FinishReason, GenerationJob, Sequence} from '../engine.js';
import {ApiError, engineFailure, invalidParameter, modelNotFound, validationFailed} from '../errors.js';
import type {SimOptions} from '../options.js';
import {fingerprint} from '../prng.js';
import {randomHex16} from '../respond.js';
import type {FieldReader, JsonObject} from '../schema.js';
import {answerText, naturalAnswerLength, tokenText} from '../text.js';

/** What the chat and completion APIs have in common once their bodies are parsed. */
export interface GenerationRequest {
	/** Absent or empty means the first served name. */
	model: string | undefined;
	/** The text the answer is derived from, so equal prompts get equal answers. */
	promptText: string;
	promptTokens: number;
	maxTokens: number | undefined;
	stream: boolean;
	/** Present only when the client sent `stream_options`. */
	streamOptions: StreamOptions | undefined;
	/** The body's `request_id`, vLLM's second choice after the X-Request-Id header. */
	requestId: string | undefined;
}

export interface StreamOptions {
	includeUsage: boolean;
	continuousUsage: boolean;
}

/** Key order matches vLLM's UsageInfo: prompt, total, completion. */
export interface Usage {
	prompt_tokens: number;
	total_tokens: number;
	completion_tokens: number;
}

export interface ReplyIdentity {
	id: string;
	created: number;
	model: string;
}

/** The parts that differ between /v1/chat/completions and /v1/completions. */
export interface GenerationApi {
	readonly idPrefix: string;
	parse(body: JsonObject): GenerationRequest | ApiError;
	response(identity: ReplyIdentity, text: string, finishReason: FinishReason, usage: Usage): object;
	/** The chunk that opens a stream before any token; null when the API has none. */
	openingChunk(identity: ReplyIdentity, usage: Usage | null): object | null;
	tokenChunk(identity: ReplyIdentity, text: string, finishReason: FinishReason | null, usage: Usage | null): object;
	usageChunk(identity: ReplyIdentity, usage: Usage): object;
}

/** Fields both APIs read the same way; problems are collected in `fields`. */
export function readCommonFields(fields: FieldReader): Omit<GenerationRequest, 'promptText' | 'promptTokens' | 'maxTokens'> {
	const model = fields.string('model');
	const stream = fields.boolean('stream') ?? false;
	const rawStreamOptions = fields.object('stream_options');
	let streamOptions: StreamOptions | undefined;
	if (rawStreamOptions !== undefined) {
		const options = fields.nested('stream_options', rawStreamOptions);
		streamOptions = {
			includeUsage: options.boolean('include_usage') ?? true,
			continuousUsage: options.boolean('continuous_usage_stats') ?? false,
		};
	}
	return { model, stream, streamOptions, requestId: fields.string('request_id') };
}

/** One of vLLM's pydantic "before" model validators on the request. */
export function checkStreamOptionsNeedStream(body: JsonObject): ApiError | null {
	const options = body.stream_options;
	// Python truthiness: `stream_options: {}` without `stream` is accepted.
	const given = typeof options === 'object' && options !== null && Object.keys(options).length > 0;
	if (!given || body.stream === true) return null;
	return modelValidatorFailed(body, 'Stream options can only be defined when `stream=True`.', 'stream_options');
}

/** Model-validator failures are reported against the whole body, with the parameter they name as `param`. */
export function modelValidatorFailed(body: JsonObject, message: string, param: string): ApiError {
	return validationFailed([{ type: 'value_error', loc: ['body'], msg: `Value error, ${message}`, input: body }], param);
}

export function checkMaxTokensPositive(maxTokens: number | undefined): ApiError | null {
	if (maxTokens === undefined || maxTokens >= 1) return null;
	return invalidParameter(`max_tokens must be at least 1, got ${maxTokens}.`, 'max_tokens', maxTokens);
}

export function generationRoute(api: GenerationApi): JsonRouteHandler {
	return (context, req, res, body) => {
		const arrivalMs = context.options.clock.monotonicMs();
		context.counters.inference++;
		const request = api.parse(body);
		if (request instanceof ApiError) return context.responder.error(res, request);
		const rejection =
			checkModel(context, request.model) ??
			checkContextLength(context.options, request) ??
			(context.engineDead() ? engineFailure() : null);
		if (rejection !== null) return context.responder.error(res, rejection);

		const ordinal = ++context.counters.generation;
		const { options } = context;
		// Draw only when faults are on, so a seed gives the same failures whatever else is configured.
		if (options.errorRate > 0 && context.random() < options.errorRate) {
			context.engine.totals.finished.error++;
			return context.responder.error(res, engineFailure());
		}
		const answer = planAnswer(options, request);
		const identity: ReplyIdentity = {
			id: `${api.idPrefix}${requestIdFor(req, request)}`,
			created: Math.floor(options.clock.wallMs() / 1000),
			model: context.modelName,
		};
		const spec: JobSpec = {
			requestId: identity.id,
			promptTokens: request.promptTokens,
			outputTokens: answer.tokens,
			finishReason: answer.finishReason,
			stalled: options.stallAfter !== null && ordinal > options.stallAfter,
			arrivalMs,
		};
		if (request.stream) streamAnswer(context, api, res, request, identity, spec, answer.fingerprint);
		else answerOnce(context, api, res, identity, spec, answer.fingerprint);
	};
}

type JobSpec = Omit<GenerationJob, 'onToken' | 'onFinish'>;

interface AnswerPlan {
	fingerprint: number;
	tokens: number;
	finishReason: FinishReason;
}

/** The model "wants" a prompt-dependent length; the token limit may cut it short. */
function planAnswer(options: SimOptions, request: GenerationRequest): AnswerPlan {
	const promptFingerprint = fingerprint(request.promptText);
	const limit = request.maxTokens ?? Math.min(options.defaultMaxTokens, options.maxModelLen - request.promptTokens);
	const natural = naturalAnswerLength(promptFingerprint);
	return natural < limit
		? { fingerprint: promptFingerprint, tokens: natural, finishReason: 'stop' }
		: { fingerprint: promptFingerprint, tokens: limit, finishReason: 'length' };
}

function answerOnce(
	context: SimContext,
	api: GenerationApi,
	res: ServerResponse,
	identity: ReplyIdentity,
	spec: JobSpec,
	promptFingerprint: number,
): void {
	const onFinish = () => {
		const text = answerText(promptFingerprint, spec.outputTokens);
		const response = api.response(identity, text, spec.finishReason, usageOf(spec.promptTokens, spec.outputTokens));
		context.responder.json(res, 200, JSON.stringify(response));
		context.generationCompleted(res);
	};
	abortOnDisconnect(context, res, context.engine.submit({ ...spec, onToken: null, onFinish }));
}

function streamAnswer(
	context: SimContext,
	api: GenerationApi,
	res: ServerResponse,
	request: GenerationRequest,
	identity: ReplyIdentity,
	spec: JobSpec,
	promptFingerprint: number,
): void {
	const includeUsage = context.options.forceIncludeUsage || (request.streamOptions?.includeUsage ?? false);
	const continuousUsage = request.streamOptions?.continuousUsage ?? false;
	const lastIndex = spec.outputTokens - 1;
	let chunksSent = 0;
	let opened = false;
	const send = (chunk: object) => {
		chunksSent++;
		res.write(`data: ${JSON.stringify(chunk)}\n\n`);
	};
	// vLLM sends the role chunk with the first engine output, or right away when stalled (see below).
	const open = () => {
		opened = true;
		const opening = api.openingChunk(identity, continuousUsage ? usageOf(spec.promptTokens, 0) : null);
		if (opening !== null) send(opening);
	};
	const onToken = (index: number) => {
		if (!opened) open();
		const finishReason = index === lastIndex ? spec.finishReason : null;
		const usage = continuousUsage ? usageOf(spec.promptTokens, index + 1) : null;
		send(api.tokenChunk(identity, tokenText(promptFingerprint, index), finishReason, usage));
	};
	const onFinish = () => {
		if (includeUsage) send(api.usageChunk(identity, usageOf(spec.promptTokens, spec.outputTokens)));
		res.end('data: [DONE]\n\n');
		context.generationCompleted(res);
	};

	context.responder.eventStream(res);
	// A stalled request looks alive (200 and an opening chunk) but never yields a token.
	if (spec.stalled) open();
	// Instant generations write many chunks in one go; corking sends them in one packet.
	res.cork();
	const sequence = context.engine.submit({ ...spec, onToken, onFinish });
	res.uncork();
	// Like Starlette, send the 200 at once even while the request waits for its first token.
	if (chunksSent === 0) res.flushHeaders();
	abortOnDisconnect(context, res, sequence);
}

function abortOnDisconnect(context: SimContext, res: ServerResponse, sequence: Sequence): void {
	if (sequence.state === 'done') return;
	res.once('close', () => {
		if (!res.writableFinished) context.engine.abort(sequence);
	});
}

function usageOf(promptTokens: number, completionTokens: number): Usage {
	return { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens };
}

function requestIdFor(req: IncomingMessage, request: GenerationRequest): string {
	const header = req.headers['x-request-id'];
	if (typeof header === 'string' && header !== '') return header;
	return request.requestId ?? randomHex16();
}

function checkModel(context: SimContext, model: string | undefined): ApiError | null {
	if (model === undefined || model === '' || context.servedNames.has(model)) return null;
	return modelNotFound(model);
}

function checkContextLength(options: SimOptions, request: GenerationRequest): ApiError | null {
	const { maxModelLen } = options;
	const { promptTokens, maxTokens } = request;
	if (promptTokens >= maxModelLen) {
		return invalidParameter(
			`This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`,
			'input_tokens',
			promptTokens,
		);
	}
	if (maxTokens !== undefined && maxTokens > maxModelLen - promptTokens) {
		return invalidParameter(
			`'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ${maxModelLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${maxModelLen} - ${promptTokens}).`,
			'max_tokens',
			maxTokens,
		);
	}
	return null;
}
