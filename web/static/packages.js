// The admin Packages page: installed packages, install/upgrade/remove,
// history with rollback, and the live log of the change in progress.
import { api, xsrfToken } from './hub.js';

const root = document.getElementById('packages-page');
const API = root.dataset.api;
const $ = (id) => document.getElementById(id);
let watching = null;

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

function showState(job) {
  $('job-panel').hidden = false;
  $('job-title').textContent = `${job.action} ${job.specs.join(' ')}${job.target ? ' #' + job.target : ''}`;
  const status = $('job-status');
  status.dataset.state = job.state;
  if (job.state === 'queued') status.textContent = `Queued: ${job.position - 1} change(s) ahead of this one.`;
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

function watch(jobId) {
  if (watching) watching.close();
  $('job-log').textContent = '';
  const es = new EventSource(`${API}/jobs/${jobId}/events?_xsrf=${encodeURIComponent(xsrfToken())}`);
  watching = es;
  es.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === 'state') showState(ev.job);
    else if (ev.type === 'line') {
      const log = $('job-log');
      log.textContent += ev.line + '\n';
      log.scrollTop = log.scrollHeight;
      const step = ev.line.match(/^coursehub: step (\d+)\/(\d+)/);
      if (step) $('job-progress').value = (Number(step[1]) - 1) / Number(step[2]);
    } else if (ev.type === 'done') {
      showState(ev.job);
      es.close();
      watching = null;
      loadPackages();
      loadHistory();
    }
  };
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) watching = null; };
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
  // Another admin's change may be under way: follow it.
  try {
    const env = await api(API);
    const live = env.jobs.find((j) => j.state !== 'done');
    if (live) watch(live.id);
  } catch (err) { /* the tables already show the error */ }
})();
