/** The one request the bench sends everywhere: a small chat completion, as a chat UI would. */

export const chatPath = '/v1/chat/completions';
export const jsonHeaders = {'content-type': 'application/json'};

/** The served name does not matter through switchboard (one model takes every request), only direct. */
export const modelName = 'bench-model';

export function chatBody(options: {stream: boolean; maxTokens: number}): string {
	return JSON.stringify({
		model: modelName,
		messages: [{role: 'user', content: 'Say hello in a few words.'}],
		max_tokens: options.maxTokens,
		stream: options.stream,
	});
}
