/**
 * Renders a terminal screen captured with `tmux capture-pane -e -p` as an SVG, so the README
 * shows what a real run looked like. Understands the SGR colours and bold that tmux emits.
 *
 *   node --import tsx scripts/terminal-svg.ts capture.txt "title" > media/screen.svg
 */
import {readFileSync} from 'node:fs';

const palette = ['#1e1e1e', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#e5e5e5'];
const bright = ['#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#ffffff'];
const foreground = '#cccccc';
const background = '#1e1e1e';
const cellWidth = 8.4;
const lineHeight = 17;

interface Style {
	color: string;
	bold: boolean;
	dim: boolean;
	inverse: boolean;
}

const plain: Style = {color: foreground, bold: false, dim: false, inverse: false};

function applySgr(codes: number[], style: Style): Style {
	let next = {...style};
	for (let index = 0; index < codes.length; index++) {
		const code = codes[index]!;
		if (code === 0) {
			next = {...plain};
		} else if (code === 1) {
			next.bold = true;
		} else if (code === 2) {
			next.dim = true;
		} else if (code === 22) {
			next.bold = false;
			next.dim = false;
		} else if (code === 7) {
			next.inverse = true;
		} else if (code === 27) {
			next.inverse = false;
		} else if (code >= 30 && code <= 37) {
			next.color = palette[code - 30]!;
		} else if (code >= 90 && code <= 97) {
			next.color = bright[code - 90]!;
		} else if (code === 39) {
			next.color = foreground;
		} else if (code === 38 && codes[index + 1] === 5) {
			const value = codes[index + 2] ?? 7;
			next.color = value < 8 ? palette[value]! : value < 16 ? bright[value - 8]! : foreground;
			index += 2;
		}
	}

	return next;
}

function escapeXml(text: string): string {
	return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function render(capture: string, title: string): string {
	const lines = capture.replace(/\n+$/, '').split('\n');
	const columns = Math.max(80, ...lines.map(line => line.replaceAll(/\u001B\[[\d;]*m/g, '').length));
	const width = Math.ceil(columns * cellWidth) + 24;
	const height = lines.length * lineHeight + 48;
	let style: Style = {...plain};
	const rows = lines.map((line, row) => {
		const spans: string[] = [];
		const backgrounds: string[] = [];
		let column = 0;
		for (const part of line.split(/(\u001B\[[\d;]*m)/)) {
			const sgr = /^\u001B\[([\d;]*)m$/.exec(part);
			if (sgr) {
				style = applySgr((sgr[1] || '0').split(';').map(Number), style);
			} else if (part) {
				const weight = style.bold ? ' font-weight="bold"' : '';
				const opacity = style.dim ? ' fill-opacity="0.55"' : '';
				const length = [...part].length;
				if (style.inverse) {
					backgrounds.push(`<rect x="${(12 + column * cellWidth).toFixed(1)}" y="${40 + row * lineHeight - 13}" width="${(length * cellWidth).toFixed(1)}" height="${lineHeight}" fill="${style.color}"/>`);
				}

				spans.push(`<tspan fill="${style.inverse ? background : style.color}"${weight}${opacity}>${escapeXml(part)}</tspan>`);
				column += length;
			}
		}

		return `${backgrounds.join('')}<text x="12" y="${40 + row * lineHeight}" xml:space="preserve">${spans.join('')}</text>`;
	});
	return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">
<rect width="100%" height="100%" rx="6" fill="${background}"/>
<text x="12" y="18" fill="#888888" font-size="12">${escapeXml(title)}</text>
${rows.join('\n')}
</svg>
`;
}

const [file, title = 'switchboard'] = process.argv.slice(2);
if (!file) {
	process.stderr.write('usage: terminal-svg <capture.txt> [title]\n');
	process.exit(2);
}

process.stdout.write(render(readFileSync(file, 'utf8'), title));
