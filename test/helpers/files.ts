import {renameSync, writeFileSync} from 'node:fs';

/**
 * Saves text over a file as most editors do: written to a new file beside it, then renamed over
 * it. A watcher then sees a new file under the name, not the old one changed in place.
 */
export function saveAsEditorsDo(file: string, text: string): void {
	writeFileSync(`${file}.tmp`, text);
	renameSync(`${file}.tmp`, file);
}
