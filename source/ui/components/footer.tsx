import {keyMap} from '../keys.js';
import type {Cell} from '../theme.js';
import {Line} from './line.js';

export interface FooterProps {
	focus: 'table' | 'logs';
	width: number;
}

/** The keys that work now, as many as fit, `? help` and `q quit` always among them. */
export function Footer({focus, width}: FooterProps) {
	const always = keyMap.filter(key => key.keys === '?' || key.keys === 'q');
	const local = keyMap.filter(key => key.footer === focus || (key.footer === undefined && !always.includes(key)));
	const cells: Cell[] = [];
	let used = always.reduce((sum, key) => sum + key.keys.length + key.label.length + 2, 0);
	for (const key of [...local, ...always]) {
		const size = key.keys.length + key.label.length + 2;
		if (!always.includes(key)) {
			if (used + size > width) {
				continue;
			}

			used += size;
		}

		cells.push({text: key.keys, bold: true, color: 'cyan'}, {text: ` ${key.label} `});
	}

	return <Line cells={cells}/>;
}
