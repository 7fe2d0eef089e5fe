/**
 * The console's code, loaded with React's production build. React picks its build from NODE_ENV
 * when it is first loaded, and nothing sets NODE_ENV for a command-line tool: its development
 * build (checks, owner stacks, render timings) costs about half as much CPU again per frame
 * (`npm run bench`, console-frame). NODE_ENV is put back once the console is loaded, so that the
 * backends started afterwards inherit the environment as it was given; a NODE_ENV that was given
 * is left alone.
 */
export async function loadConsole(): Promise<typeof import('./run-console.js')> {
	const given = process.env['NODE_ENV'];
	process.env['NODE_ENV'] = given ?? 'production';
	try {
		return await import('./run-console.js');
	} finally {
		if (given === undefined) {
			delete process.env['NODE_ENV'];
		}
	}
}
