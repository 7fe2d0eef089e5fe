import type {FinishReason} from '../engine.js';
import {isJsonObject, FieldReader, type JsonObject} from '../schema.js';
import {countWords} from '../text.js';
import {
	checkMaxTokensPositive,
	checkStreamOptionsNeedStream,
	generationRoute,
	readCommonFields,
	type GenerationApi,
	type ReplyIdentity,
} from './generation.js';

const CHUNK_OBJECT = 'chat.completion.chunk';

/** Field layouts follow vLLM's `model_dump()` (non-stream, nulls kept) and `exclude_unset` (stream chunks). */
const chatApi: GenerationApi = {
	idPrefix: 'chatcmpl-',

	parse(body) {
		const fields = new FieldReader(body);
		const common = readCommonFields(fields);
		const promptText = readMessagesText(fields);
		const maxCompletionTokens = fields.integer('max_completion_tokens');
		const maxTokens = maxCompletionTokens ?? fields.integer('max_tokens');
		const failure = checkStreamOptionsNeedStream(body) ?? fields.failure() ?? checkMaxTokensPositive(maxTokens);
		if (failure !== null) return failure;
		return { ...common, promptText, promptTokens: Math.max(1, countWords(promptText)), maxTokens };
	},

	response(identity, text, finishReason, usage) {
		return {
			id: identity.id,
			object: 'chat.completion',
			created: identity.created,
			model: identity.model,
			choices: [
				{
					index: 0,
					message: {
						role: 'assistant',
						content: text,
						refusal: null,
						annotations: null,
						audio: null,
						function_call: null,
						tool_calls: [],
						reasoning: null,
					},
					logprobs: null,
					finish_reason: finishReason,
					stop_reason: null,
					token_ids: null,
				},
			],
			service_tier: null,
			system_fingerprint: null,
			usage: { ...usage, prompt_tokens_details: null },
			prompt_logprobs: null,
			prompt_token_ids: null,
			kv_transfer_params: null,
		};
	},

	openingChunk(identity, usage) {
		const choice = { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null };
		return { ...chunkHead(identity), choices: [choice], ...(usage && { usage }), prompt_token_ids: null };
	},

	tokenChunk(identity, text, finishReason, usage) {
		return { ...chunkHead(identity), choices: [tokenChoice(text, finishReason)], ...(usage && { usage }) };
	},

	usageChunk(identity, usage) {
		return { ...chunkHead(identity), choices: [], usage };
	},
};

export const chatCompletions = generationRoute(chatApi);

function chunkHead(identity: ReplyIdentity): { id: string; object: string; created: number; model: string } {
	return { id: identity.id, object: CHUNK_OBJECT, created: identity.created, model: identity.model };
}

function tokenChoice(text: string, finishReason: FinishReason | null): object {
	// vLLM sets stop_reason only on the chunk that finishes the choice.
	return finishReason === null
		? { index: 0, delta: { content: text }, logprobs: null, finish_reason: null, token_ids: null }
		: { index: 0, delta: { content: text }, logprobs: null, finish_reason: finishReason, stop_reason: null, token_ids: null };
}

/** Joins the text of every message; `messages` problems are reported like pydantic would. */
function readMessagesText(fields: FieldReader): string {
	const messages = fields.body.messages;
	if (messages === undefined) {
		fields.issue('missing', ['messages'], 'Field required', fields.body);
		return '';
	}
	if (!Array.isArray(messages)) {
		fields.issue('list_type', ['messages'], 'Input should be a valid list', messages);
		return '';
	}
	const texts: string[] = [];
	messages.forEach((message: unknown, index) => {
		if (!isJsonObject(message)) {
			fields.issue('dict_type', ['messages', index], 'Input should be a valid dictionary', message);
			return;
		}
		if (typeof message.role !== 'string') {
			if (message.role === undefined) fields.issue('missing', ['messages', index, 'role'], 'Field required', message);
			else fields.issue('string_type', ['messages', index, 'role'], 'Input should be a valid string', message.role);
		}
		collectContentText(message, texts);
	});
	return texts.join('\n');
}

/** Content is a string or a list of parts; only text parts count towards the prompt. */
function collectContentText(message: JsonObject, texts: string[]): void {
	const { content } = message;
	if (typeof content === 'string') {
		texts.push(content);
	} else if (Array.isArray(content)) {
		for (const part of content) {
			if (isJsonObject(part) && typeof part.text === 'string') texts.push(part.text);
		}
	}
}
