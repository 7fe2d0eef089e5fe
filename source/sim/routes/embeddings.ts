import type {JsonRouteHandler} from '../context.js';
import {modelNotFound} from '../errors.js';
import {fingerprint, seededRandom} from '../prng.js';
import {randomHex16} from '../respond.js';
import {FieldReader, isString, isTokenId, isTokenIdList} from '../schema.js';
import {countWords} from '../text.js';

interface EmbeddingInput {
	text: string;
	tokens: number;
}

/** Deterministic unit vectors: equal inputs embed equally, which is all a proxy test needs. */
export const embeddings: JsonRouteHandler = (context, _req, res, body) => {
	const { options } = context;
	const arrivalMs = options.clock.monotonicMs();
	context.counters.inference++;
	const fields = new FieldReader(body);
	const model = fields.string('model');
	const encoding = fields.string('encoding_format') ?? 'float';
	if (encoding !== 'float' && encoding !== 'base64') {
		fields.issue('literal_error', ['encoding_format'], "Input should be 'float' or 'base64'", encoding);
	}
	const inputs = readInputs(fields);
	const failure = fields.failure();
	if (failure !== null) return context.responder.error(res, failure);
	if (model !== undefined && model !== '' && !context.servedNames.has(model)) {
		return context.responder.error(res, modelNotFound(model));
	}

	const data = inputs.map((input, index) => {
		const vector = embed(input.text, options.embeddingDim);
		const embedding = encoding === 'base64' ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector);
		return { index, object: 'embedding', embedding };
	});
	const promptTokens = inputs.reduce((total, input) => total + input.tokens, 0);
	context.engine.recordPoolingRequest(promptTokens, arrivalMs);
	const response = {
		id: `embd-${randomHex16()}`,
		object: 'list',
		created: Math.floor(options.clock.wallMs() / 1000),
		model: context.modelName,
		data,
		usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0, prompt_tokens_details: null },
	};
	context.responder.json(res, 200, JSON.stringify(response));
};

/** `input` is text, a token id list, or a batch of either; each item gets its own embedding. */
function readInputs(fields: FieldReader): EmbeddingInput[] {
	const input = fields.body.input;
	if (input === undefined) {
		fields.issue('missing', ['input'], 'Field required', fields.body);
		return [];
	}
	if (typeof input === 'string') return [measureText(input)];
	if (Array.isArray(input) && input.length > 0) {
		const items: unknown[] = input;
		if (items.every(isTokenId)) return [{ text: items.join(' '), tokens: items.length }];
		if (items.every(isString)) return items.map(measureText);
		if (items.every(isTokenIdList)) return items.map((ids) => ({ text: ids.join(' '), tokens: Math.max(1, ids.length) }));
	}
	fields.issue('string_type', ['input'], 'Input should be a valid string', input);
	return [];
}

function measureText(text: string): EmbeddingInput {
	return { text, tokens: Math.max(1, countWords(text)) };
}

function embed(text: string, dimensions: number): Float32Array {
	const random = seededRandom(fingerprint(text));
	const vector = new Float32Array(dimensions);
	let squares = 0;
	for (let i = 0; i < dimensions; i++) {
		const value = random() * 2 - 1;
		vector[i] = value;
		squares += value * value;
	}
	const norm = Math.sqrt(squares) || 1;
	for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] ?? 0) / norm;
	return vector;
}
