/**
 * The console's code, loaded as an interactive terminal program, with React's production build.
 * - React picks its build from NODE_ENV when it is first loaded, and nothing sets NODE_ENV for a
 *   command-line tool: its development build (checks, owner stacks, render timings) costs about half
 *   as much CPU again per frame (`npm run bench`, console-frame).
 * - Ink reads CI and CONTINUOUS_INTEGRATION when it is loaded, and in CI it draws nothing until it
 *   exits. The console runs only on a terminal, where a CI=true left in the environment (a test
 *   runner, a CI shell one logs in to) must not blank it.
 * The environment is put back once the console is loaded, so that the backends started afterwards
 * inherit it as it was given.
 */
export async function loadConsole(): Promise<typeof import('./run-console.js')> {
	const given = {NODE_ENV: process.env['NODE_ENV'], CI: process.env['CI'], CONTINUOUS_INTEGRATION: process.env['CONTINUOUS_INTEGRATION']};
	process.env['NODE_ENV'] = given.NODE_ENV ?? 'production';
	delete process.env['CI'];
	delete process.env['CONTINUOUS_INTEGRATION'];
	try {
		return await import('./run-console.js');
	} finally {
		for (const [name, value] of Object.entries(given)) {
			if (value === undefined) {
				delete process.env[name];
			} else {
				process.env[name] = value;
			}
		}
	}
}
