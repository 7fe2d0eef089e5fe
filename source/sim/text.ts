/**
 * Fake tokenisation and text generation. A "token" is one word: prompts are
 * measured by counting words, and completions are words with a leading space,
 * picked deterministically from the prompt's fingerprint.
 */

const WORDS = [
	'the', 'model', 'is', 'simulated', 'and', 'answers', 'with', 'plausible', 'words',
	'from', 'a', 'small', 'list', 'so', 'that', 'proxies', 'can', 'be', 'tested',
	'without', 'any', 'GPU', 'at', 'all', 'while', 'tokens', 'arrive', 'at', 'a',
	'steady', 'rate', 'here',
] as const;

const SHORTEST_ANSWER = 4;
const LONGEST_ANSWER = 40;

function isWhitespace(code: number): boolean {
	return code === 32 || (code >= 9 && code <= 13) || code === 160 || code === 0x2028 || code === 0x2029 || code === 0x3000;
}

export function countWords(text: string): number {
	let words = 0;
	let inWord = false;
	for (let i = 0; i < text.length; i++) {
		const whitespace = isWhitespace(text.charCodeAt(i));
		if (!whitespace && !inWord) words++;
		inWord = !whitespace;
	}
	return words;
}

/** How many tokens the model "wants" to say before its end-of-sequence token. */
export function naturalAnswerLength(promptFingerprint: number): number {
	return SHORTEST_ANSWER + (promptFingerprint % (LONGEST_ANSWER - SHORTEST_ANSWER + 1));
}

export function tokenText(promptFingerprint: number, index: number): string {
	const word = WORDS[(promptFingerprint + index * 7) % WORDS.length] ?? WORDS[0];
	return ` ${word}`;
}

export function answerText(promptFingerprint: number, tokenCount: number): string {
	let text = '';
	for (let i = 0; i < tokenCount; i++) text += tokenText(promptFingerprint, i);
	return text;
}
