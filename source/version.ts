import {readFileSync} from 'node:fs';

/** switchboard's version, from its package.json (one level above source/ and dist/ alike). */
export const version: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version: string}).version;
