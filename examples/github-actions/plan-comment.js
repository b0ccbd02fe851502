// The pull request comment of flowform's plan workflow (plan.yml): the plan in Markdown, or,
// when validation or planning failed, what flowform said (its stderr), so a reviewer sees why
// without opening the run. Copy to `.github/flowform/plan-comment.js` in the infra repository.
// Tested by `node plan-comment.test.js`.
'use strict';

const MARKER = '<!-- flowform-plan -->';
// GitHub refuses comments longer than this.
const LIMIT = 65536;

/** Terminal colours, were any left in. */
function plain(text) {
  return String(text || '').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trimEnd();
}

/** A code fence longer than any run of backticks in `text`, so it cannot be closed early. */
function fence(text) {
  const runs = text.match(/`+/g) || [];
  return '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
}

function block(text) {
  const f = fence(text);
  return `${f}text\n${text}\n${f}`;
}

/** Cuts `text` to `room` characters, saying so. */
function clip(text, room) {
  if (text.length <= room) return text;
  const note = '\n\n… cut to fit a comment: the whole output is in the run\'s log.';
  return text.slice(0, Math.max(0, room - note.length)) + note;
}

/**
 * The comment's body.
 * - validate, plan: the steps' exit codes as strings ('' when the step did not run);
 * - validateErr, planErr: what flowform wrote to stderr; planMd: the Markdown plan;
 * - runUrl: the run, for the whole log.
 */
function body({ validate, plan, validateErr, planErr, planMd, runUrl }) {
  const link = runUrl ? `\n\n[The run](${runUrl})` : '';
  let heading;
  let text;
  if (validate !== '0') {
    heading = '### :x: flowform validate failed';
    text = block(plain(validateErr) || `flowform validate exited with ${validate || 'no code'} and said nothing.`);
  } else if (plan === '1' || plan === '') {
    heading = '### :x: flowform plan failed';
    const said = plain(planErr) || `flowform plan exited with ${plan || 'no code'} and said nothing.`;
    const md = plain(planMd);
    text = block(said) + (md ? `\n\n${md}` : '');
  } else {
    heading = '### flowform plan';
    text = plain(planMd);
  }
  const head = `${MARKER}\n${heading}\n\n`;
  return head + clip(text, LIMIT - head.length - link.length) + link;
}

module.exports = { MARKER, LIMIT, body };
