import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {renameModel} from '../../source/dataplane/rename-model.js';

const rename = (text: string, name: string) => renameModel(text, JSON.parse(text) as {model?: unknown}, name).toString();

describe('renaming the model of a request body', () => {
	it('changes only the bytes of the model\'s value', () => {
		const text = '{"model":"llama", "messages":[{"role":"user","content":"say \\"model\\": \\"x\\""}],\n "stream" : true}';
		assert.equal(rename(text, 'meta-llama/Llama-3.1-8B'), text.replace('"llama"', '"meta-llama/Llama-3.1-8B"'));
		assert.equal(rename('{"model" :  "a\\u0062"}', 'c'), '{"model":"c"}', 'an escaped value is re-serialised');
	});

	it('re-serialises what it cannot rename in place', () => {
		assert.deepEqual(JSON.parse(rename('{"messages":[]}', 'm')), {messages: [], model: 'm'});
		const nested = '{"model":"a","tools":[{"function":{"parameters":{"properties":{"model":{"type":"string"}}}}}]}';
		const renamed = JSON.parse(rename(nested, 'b')) as {model: string; tools: unknown};
		assert.equal(renamed.model, 'b');
		assert.deepEqual(renamed.tools, JSON.parse(nested).tools);
	});
});
