import {FieldReader, isString, isTokenId, isTokenIdList} from '../schema.js';
import {countWords} from '../text.js';
import {
	checkMaxTokensPositive,
	checkStreamOptionsNeedStream,
	generationRoute,
	modelValidatorFailed,
	readCommonFields,
	type GenerationApi,
	type ReplyIdentity,
} from './generation.js';

const OBJECT = 'text_completion';

/** Field layouts follow vLLM's CompletionResponse and CompletionStreamResponse. */
const completionsApi: GenerationApi = {
	idPrefix: 'cmpl-',

	parse(body) {
		const fields = new FieldReader(body);
		const common = readCommonFields(fields);
		const prompt = readPrompt(fields);
		const maxTokens = fields.integer('max_tokens');
		if (prompt === null) {
			const message = 'Either prompt or prompt_embeds must be provided and non-empty.';
			return checkStreamOptionsNeedStream(body) ?? modelValidatorFailed(body, message, 'prompt');
		}
		const failure = checkStreamOptionsNeedStream(body) ?? fields.failure() ?? checkMaxTokensPositive(maxTokens);
		if (failure !== null) return failure;
		return { ...common, promptText: prompt.text, promptTokens: Math.max(1, prompt.tokens), maxTokens };
	},

	response(identity, text, finishReason, usage) {
		return {
			...head(identity),
			choices: [
				{
					index: 0,
					text,
					logprobs: null,
					finish_reason: finishReason,
					stop_reason: null,
					token_ids: null,
					prompt_logprobs: null,
					prompt_token_ids: null,
				},
			],
			service_tier: null,
			system_fingerprint: null,
			usage: { ...usage, prompt_tokens_details: null },
			kv_transfer_params: null,
		};
	},

	openingChunk() {
		return null;
	},

	tokenChunk(identity, text, finishReason, usage) {
		const choice = {
			index: 0,
			text,
			logprobs: null,
			finish_reason: finishReason,
			stop_reason: null,
			prompt_token_ids: null,
			token_ids: null,
		};
		return { ...head(identity), choices: [choice], ...(usage && { usage }) };
	},

	usageChunk(identity, usage) {
		return { ...head(identity), choices: [], usage };
	},
};

export const completions = generationRoute(completionsApi);

function head(identity: ReplyIdentity): { id: string; object: string; created: number; model: string } {
	return { id: identity.id, object: OBJECT, created: identity.created, model: identity.model };
}

interface PromptMeasure {
	text: string;
	tokens: number;
}

/**
 * `prompt` may be text, a token id list, or a batch of either. A batch is
 * answered as one choice here (vLLM answers one choice per prompt).
 * Returns null when the prompt is missing or empty.
 */
function readPrompt(fields: FieldReader): PromptMeasure | null {
	const prompt = fields.body.prompt;
	if (prompt === undefined || prompt === null || prompt === '') return null;
	if (typeof prompt === 'string') return { text: prompt, tokens: countWords(prompt) };
	if (Array.isArray(prompt)) {
		const items: unknown[] = prompt;
		if (items.length === 0) return null;
		if (items.every(isTokenId)) return { text: items.join(' '), tokens: items.length };
		if (items.every(isString)) {
			const text = items.join('\n');
			return { text, tokens: countWords(text) };
		}
		if (items.every(isTokenIdList)) {
			const text = items.map((list) => list.join(' ')).join('\n');
			return { text, tokens: items.reduce((total, list) => total + list.length, 0) };
		}
	}
	fields.issue('string_type', ['prompt'], 'Input should be a valid string', prompt);
	return { text: '', tokens: 0 };
}
