/**
 * Ink colours through chalk, which decides once, when it is first imported, whether the output
 * takes colours. Under the test runner the output is a pipe, so it would take none and no test
 * could see a colour: imported before ink, this says it does (the console's own switch,
 * ColorContext, is what the tests turn off).
 */
process.env['FORCE_COLOR'] = '1';
