// `node plan-comment.test.js`: the comment plan.yml posts, for each way a plan can end.
'use strict';
const assert = require('assert');
const { MARKER, LIMIT, body } = require('./plan-comment.js');

const ok = { validate: '0', plan: '2', validateErr: '', planErr: 'Refreshing...\n', planMd: '**Plan:** 1 to add', runUrl: 'https://x/run/1' };

// A plan: the Markdown, under the marker.
let b = body(ok);
assert(b.startsWith(`${MARKER}\n### flowform plan\n`), b);
assert(b.includes('**Plan:** 1 to add') && b.endsWith('[The run](https://x/run/1)'), b);
assert(!b.includes('Refreshing'), 'progress stays in the log');

// Validation failed: its error text, not an empty ":x:".
b = body({ ...ok, validate: '1', plan: '', validateErr: 'error: connections/a.yaml:3:5: `nmae` is not a field\nhelp: did you mean `name`?\n' });
assert(b.includes('### :x: flowform validate failed'), b);
assert(b.includes('connections/a.yaml:3:5') && b.includes('help: did you mean `name`?'), b);

// Planning failed: what flowform said, then whatever plan it rendered.
b = body({ ...ok, plan: '1', planErr: '\x1b[31merror:\x1b[0m the state `postgres://db/infra?state=a` is locked by `flowform apply`\n', planMd: '' });
assert(b.includes('### :x: flowform plan failed') && b.includes('error: the state'), b);
assert(!b.includes('\x1b['), 'no terminal colours');

// Nothing said at all still says something.
b = body({ ...ok, plan: '1', planErr: '', planMd: '' });
assert(b.includes('exited with 1 and said nothing'), b);

// Backticks in the text cannot close the fence early.
b = body({ ...ok, plan: '1', planErr: 'a ```` run', planMd: '' });
assert(b.includes('`````text\na ```` run\n`````'), b);

// Never over GitHub's limit, and the cut is said.
b = body({ ...ok, plan: '1', planErr: 'x'.repeat(200000), planMd: '' });
assert(b.length <= LIMIT, b.length);
assert(b.includes('cut to fit a comment'));
b = body({ ...ok, planMd: 'y'.repeat(100000) });
assert(b.length <= LIMIT && b.endsWith('[The run](https://x/run/1)'));

console.log('plan-comment.test.js: every case holds');
