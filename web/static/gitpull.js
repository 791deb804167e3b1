// The git-pull progress page: follows the sync's Server-Sent Events
// (nbgitpuller's shape: phase syncing|finished|error), shows progress per
// stage and the output lines, then moves on to the notebook.  Everything
// from the server is inserted as text, never as HTML.

const root = document.getElementById('gitpull');

const STAGES = {
  check: 'Checking for updates',
  fetch: 'Downloading',
  copy: 'Copying',
  checkout: 'Writing files',
  merge: 'Combining your changes',
};

// A headline per error code; the server's message follows it.
const HEADLINES = {
  clone: 'The course material could not be copied into your folder.',
  fetch: "Could not get the latest version from the course's repository.",
  merge: 'The new version could not be brought into your folder.',
  branch_exist: 'The branch or version named in this link does not exist.',
  branch_resolve: 'The repository has no default branch: the link must name one.',
  remote_mismatch: 'A folder with this name already holds a different repository.',
  not_a_repo: 'A folder with this name already exists and is not a synced course folder.',
  target_invalid: 'The folder named in this link cannot be used.',
  auth: "The course's repository refused access.",
  lock: 'Another program is working in this folder right now.',
  source_refused: 'This hub does not sync from that address.',
  bad_link: 'This link is incomplete.',
  unknown: 'Something went wrong while syncing.',
};

const $ = (id) => document.getElementById(id);

function text(tag, content, className) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (className) el.className = className;
  return el;
}

function logLine(line) {
  const log = $('gitpull-log');
  log.append(document.createTextNode(line.endsWith('\n') ? line : line + '\n'));
  log.scrollTop = log.scrollHeight;
}

const bars = new Map();
function stageBar(stage) {
  if (!bars.has(stage)) {
    const row = document.createElement('div');
    row.className = 'gitpull-stage';
    row.dataset.stage = stage;
    const label = text('span', STAGES[stage] || stage, 'gitpull-stage-label');
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = 0;
    const count = text('span', '', 'gitpull-count');
    row.append(label, bar, count);
    $('gitpull-stages').append(row);
    bars.set(stage, { bar, count });
  }
  return bars.get(stage);
}

function showProgress(p) {
  const { bar, count } = stageBar(p.stage);
  if (p.files_total) {
    bar.max = p.files_total;
    bar.value = p.files_done;
    count.textContent = `${p.files_done} / ${p.files_total} files`;
  } else if (p.objects_total) {
    bar.max = p.objects_total;
    bar.value = p.objects_received;
    count.textContent = `${p.objects_received} / ${p.objects_total} objects`;
  } else {
    bar.max = 1;
    bar.value = 1;
  }
}

function list(title, items, id) {
  const box = document.createElement('div');
  box.id = id;
  box.append(text('p', title));
  const ul = document.createElement('ul');
  for (const item of items) ul.append(text('li', item));
  box.append(ul);
  return box;
}

let source = null;
let lastOutput = '';

function finished(data) {
  const report = data.report || {};
  $('gitpull-status').textContent = 'Done. Opening your notebook…';
  for (const { bar } of bars.values()) bar.value = bar.max;
  const result = $('gitpull-result');
  result.replaceChildren(text('p', data.output || 'Synced.', 'notice'));
  let pause = 0;
  if (data.backup || report.backup_dir) {
    result.append(text('p', `Your previous folder was kept as ${data.backup || report.backup_dir}.`, 'notice gitpull-backup'));
    pause = 6000;
  }
  if (report.files_kept_local && report.files_kept_local.length) {
    result.append(list('These files kept your version over the new one:', report.files_kept_local, 'gitpull-kept'));
    pause = 6000;
  }
  if (report.files_renamed && report.files_renamed.length) {
    result.append(list('Your files moved aside because the course now has a file of the same name:',
      report.files_renamed.map((f) => `${f.from} → ${f.to}`), 'gitpull-renamed'));
    pause = 6000;
  }
  result.hidden = false;
  const go = () => window.location.assign(root.dataset.redirect);
  if (pause) {
    const now = text('button', 'Continue now');
    now.type = 'button';
    now.id = 'gitpull-go';
    now.addEventListener('click', go);
    result.append(now);
  }
  setTimeout(go, pause);
}

function failed(data) {
  const error = data.error || {};
  const code = error.code || 'unknown';
  $('gitpull-status').textContent = 'The sync did not finish.';
  $('gitpull-error-title').textContent = HEADLINES[code] || HEADLINES.unknown;
  $('gitpull-error-message').textContent = error.message || data.message || '';
  root.dataset.errorCode = code;
  $('gitpull-error').hidden = false;
  $('gitpull-actions').hidden = false;
}

function start() {
  $('gitpull-error').hidden = true;
  $('gitpull-actions').hidden = true;
  $('gitpull-result').hidden = true;
  $('gitpull-status').textContent = 'Starting…';
  let ended = false;
  source = new EventSource(root.dataset.api);
  source.addEventListener('message', (ev) => {
    const data = JSON.parse(ev.data);
    if (data.phase === 'syncing') {
      if (data.progress) showProgress(data.progress);
      if (data.output) {
        if (!data.progress) logLine(data.output);
        else if (data.output !== lastOutput) $('gitpull-status').textContent = data.output;
        lastOutput = data.output;
      }
      return;
    }
    ended = true;
    source.close();
    if (data.output) logLine(data.output);
    if (data.phase === 'finished') finished(data);
    else failed(data);
  });
  source.addEventListener('error', () => {
    if (ended) return;
    source.close();
    failed({ error: { code: 'unknown', message: 'The connection to the hub was lost. Retry to see where the sync is.' } });
  });
}

$('gitpull-retry').addEventListener('click', start);
start();
