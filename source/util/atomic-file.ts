import {mkdirSync, renameSync, writeFileSync} from 'node:fs';
import path from 'node:path';

/** Writes a file whole: to a file beside it first, then renamed over it, so a crash never leaves half a file. */
export function writeFileAtomic(file: string, text: string): void {
	mkdirSync(path.dirname(file), {recursive: true});
	const written = `${file}.${process.pid}.tmp`;
	writeFileSync(written, text, {flush: true});
	renameSync(written, file);
}
