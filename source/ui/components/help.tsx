import {memo} from 'react';
import {fit, wrap} from '../format/text.js';
import {keyMap} from '../keys.js';
import type {Cell} from '../theme.js';
import {Line} from './line.js';

const keysWidth = Math.max(...keyMap.map(key => key.keys.length)) + 2;
/** An empty line still takes its row (Ink drops a line with no text). */
const blank = [{text: ' '}];

/**
 * Every key and what it does, one line each (wrapped under itself when the width is short), in
 * `height` lines. Pre-formatted lines, not ink-table: its separator after every row made the 14
 * keys 31 lines tall, and in a 24-line terminal Ink squeezed most of them out of the help.
 */
export const Help = memo(({width, height}: {width: number; height: number}) => {
	const lines: Cell[][] = [[{text: 'Keys (esc or ? closes this help)', bold: true}]];
	for (const key of keyMap.filter(key => key.help !== '')) {
		for (const [index, text] of wrap(key.help, Math.max(20, width - keysWidth)).entries()) {
			lines.push([{text: fit(index === 0 ? key.keys : '', keysWidth), bold: true, color: 'cyan'}, {text}]);
		}
	}

	lines.push([{text: fit('Every key is an admin API call, as a script would make it: see README.md, “Operating it”.', width), dim: true}]);
	const shown = lines.slice(0, height);
	return (
		<>
			{shown.map((cells, index) => <Line key={index} cells={cells}/>)}
			{Array.from({length: height - shown.length}, (_, index) => <Line key={`blank${index}`} cells={blank}/>)}
		</>
	);
});
