// The admin Packages page: installed packages, install/upgrade/remove,
// history with rollback, and the live log of the change in progress.
import { api, xsrfToken } from './hub.js';

const root = document.getElementById('packages-page');
const API = root.dataset.api;
const $ = (id) => document.getElementById(id);
let watching = null;
let watchedJob = null;
let watchedTxn = null;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

function describeChange(c) {
  if (c.kind === 'added') return `+ ${c.name} ${c.to}`;
  if (c.kind === 'removed') return `− ${c.name} ${c.from}`;
  return `${c.kind} ${c.name} ${c.from} → ${c.to}`;
}

async function submit(body) {
  $('form-error').hidden = true;
  try {
    const job = await api(`${API}/transactions`, { method: 'POST', body });
    watch(job.id);
  } catch (err) {
    $('form-error').textContent = err.message;
    $('form-error').hidden = false;
  }
}

async function loadPackages() {
  const tbody = $('packages').querySelector('tbody');
  let data;
  try {
    data = await api(`${API}/packages`);
  } catch (err) {
    tbody.replaceChildren(el('tr', {}, el('td', { colSpan: 4, textContent: err.message })));
    return;
  }
  tbody.replaceChildren(...data.packages.map((p) => {
    const actions = el('td', { class: 'actions' });
    if (p.location === 'own' && p.name.toLowerCase() !== 'pip') {
      actions.append(el('button', {
        class: 'small secondary', type: 'button', textContent: 'Remove', 'data-remove': p.name,
        onclick: () => { if (window.confirm(`Remove ${p.name}?`)) submit({ action: 'remove', specs: [p.name] }); },
      }));
    }
    return el('tr', { 'data-package': p.name.toLowerCase() },
      el('td', { 'data-label': 'Name' }, el('strong', { textContent: p.name })),
      el('td', { 'data-label': 'Version', textContent: p.version }),
      el('td', { 'data-label': 'From', textContent: p.location === 'own' ? 'this environment' : 'system' }),
      actions);
  }));
  filterPackages();
}

function filterPackages() {
  const q = $('pkg-search').value.trim().toLowerCase();
  for (const tr of $('packages').querySelectorAll('tbody tr[data-package]')) {
    tr.hidden = q !== '' && !tr.dataset.package.includes(q);
  }
}

async function loadHistory() {
  let data;
  try {
    data = await api(`${API}/transactions?limit=50`);
  } catch (err) {
    return;
  }
  $('history').replaceChildren(...data.transactions.map((t) => {
    const when = new Date(t.started).toLocaleString();
    const li = el('li', { 'data-transaction': String(t.id) },
      el('strong', { textContent: `#${t.id} ${t.kind} ${t.request.join(' ')}` }),
      ` — ${t.state}, by ${t.requested_by}, ${when}`);
    if (t.changes.length) li.append(el('ul', {}, ...t.changes.map((c) => el('li', { textContent: describeChange(c) }))));
    if (t.message) li.append(el('p', { class: 'hint', textContent: t.message }));
    if (t.state === 'succeeded' && t.kind !== 'init' && t.changes.length) {
      li.append(el('button', {
        class: 'small secondary', type: 'button', textContent: 'Roll back', 'data-rollback': String(t.id),
        onclick: () => {
          if (window.confirm(`Put the environment back to how it was before #${t.id}?`)) {
            submit({ action: 'rollback', target: t.id });
          }
        },
      }));
    }
    return li;
  }));
}

function jobLabel(job) {
  return `${job.action} ${job.specs.join(' ')}${job.target ? ' #' + job.target : ''}`.trim();
}

function queuedText(job) {
  return `Queued behind ${job.ahead} change(s); it starts by itself when they are done.`;
}

// Every change not finished yet, other than the one shown above: queued
// ones (from any admin), and a transaction run from the command line.
function renderQueue(env) {
  const items = [];
  const r = env.running;
  if (r && r.id !== watchedTxn && !env.jobs.some((j) => j.transaction_id === r.id)) {
    items.push(el('li', { 'data-transaction': String(r.id), 'data-state': 'running' },
      `#${r.id} ${r.kind} ${r.request.join(' ')}, by ${r.requested_by}: running`,
      ' ', el('button', {
        class: 'small secondary', type: 'button', textContent: 'Watch', onclick: () => watchTransaction(r.id),
      })));
  }
  for (const j of [...env.jobs].reverse()) {
    if (j.state === 'done' || j.id === watchedJob) continue;
    const what = j.state === 'queued' ? queuedText(j) : j.state;
    items.push(el('li', { 'data-job': String(j.id), 'data-state': j.state },
      `${jobLabel(j)}, by ${j.requested_by}: ${what}`,
      ' ', el('button', { class: 'small secondary', type: 'button', textContent: 'Watch', onclick: () => watch(j.id) })));
  }
  $('job-queue').replaceChildren(...items);
  $('queue-panel').hidden = items.length === 0;
}

async function refreshQueue() {
  try {
    const env = await api(API);
    renderQueue(env);
    return env;
  } catch (err) {
    return null;
  }
}

function showState(job) {
  $('job-panel').hidden = false;
  $('job-title').textContent = jobLabel(job);
  const status = $('job-status');
  status.dataset.state = job.state;
  delete status.dataset.result;
  if (job.state === 'queued') status.textContent = queuedText(job);
  else if (job.state === 'waiting') {
    const w = job.waiting_for || {};
    status.textContent = `Waiting for transaction #${w.id} (${w.kind} by ${w.requested_by}) to finish…`;
  } else if (job.state === 'running') {
    status.textContent = job.transaction_id ? `Running (transaction #${job.transaction_id})…` : 'Running…';
  } else if (job.state === 'done') {
    const t = job.transaction;
    status.textContent = t ? `${t.state === 'succeeded' ? 'Done' : 'Failed'}: ${t.message}` : `Not run: ${job.error}`;
    status.dataset.result = t ? t.state : 'error';
    $('job-progress').value = 1;
  }
  if (job.state !== 'done') $('job-progress').removeAttribute('value');
}

function appendLine(line) {
  const log = $('job-log');
  log.textContent += line + '\n';
  log.scrollTop = log.scrollHeight;
  const step = line.match(/^coursehub: step (\d+)\/(\d+)/);
  if (step) $('job-progress').value = (Number(step[1]) - 1) / Number(step[2]);
}

function follow(url, onEvent) {
  if (watching) watching.close();
  $('job-log').textContent = '';
  $('job-progress').removeAttribute('value');
  const es = new EventSource(`${url}?_xsrf=${encodeURIComponent(xsrfToken())}`);
  watching = es;
  es.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === 'line') appendLine(ev.line);
    else onEvent(ev);
    if (ev.type === 'done') {
      es.close();
      watching = null;
      loadPackages();
      loadHistory();
      refreshQueue();
    }
  };
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) watching = null; };
}

function watch(jobId) {
  watchedJob = jobId;
  watchedTxn = null;
  follow(`${API}/jobs/${jobId}/events`, (ev) => {
    if (ev.type === 'state' || ev.type === 'done') showState(ev.job);
    if (ev.type === 'state') refreshQueue();
  });
}

// A transaction the hub did not start (coursehub env on the command line).
function watchTransaction(id) {
  watchedJob = null;
  watchedTxn = id;
  $('job-panel').hidden = false;
  $('job-title').textContent = `transaction #${id}`;
  const status = $('job-status');
  status.dataset.state = 'running';
  delete status.dataset.result;
  status.textContent = `Running (transaction #${id}, started outside the hub)…`;
  follow(`${API}/transactions/${id}/log`, (ev) => {
    if (ev.type !== 'done') return;
    const t = ev.transaction;
    status.dataset.state = 'done';
    status.dataset.result = t.state;
    status.textContent = `${t.state === 'succeeded' ? 'Done' : 'Failed'}: ${t.message}`;
    $('job-progress').value = 1;
  });
}

$('install-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const action = (event.submitter && event.submitter.dataset.action) || 'install';
  const specs = $('specs').value.split(/\s+/).filter(Boolean);
  const requirements = $('requirements').value;
  submit({ action, specs, requirements });
});
$('pkg-search').addEventListener('input', filterPackages);

(async () => {
  await Promise.all([loadPackages(), loadHistory()]);
  // Another admin's change may be under way: follow it live.
  const env = await refreshQueue();
  if (env) {
    const active = env.jobs.find((j) => j.state === 'running' || j.state === 'waiting');
    const queued = [...env.jobs].reverse().find((j) => j.state === 'queued');
    if (active || queued) watch((active || queued).id);
    else if (env.running) watchTransaction(env.running.id);
  }
  setInterval(() => { if (!document.hidden) refreshQueue(); }, 2000);
})();
