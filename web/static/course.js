// The link generator on a course page: keeps the link, its QR code and the
// file list in step with the choices, without reloading.  The page works
// without it (the form reloads the page with the new choices).
import { api } from './hub.js';

const form = document.getElementById('link-form');

function choices() {
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const name of ['branch', 'file', 'app', 'target', 'hub']) params.set(name, data.get(name) || '');
  return params;
}

function show(id, visible) {
  const el = document.getElementById(id);
  if (el) el.hidden = !visible;
}

function setError(message) {
  const el = document.getElementById('link-error');
  el.textContent = message || '';
  el.hidden = !message;
}

let generation = 0;

async function refreshLink() {
  const mine = ++generation;
  let link;
  try {
    link = await api(`${form.dataset.api}/link?${choices()}`);
  } catch (err) {
    if (mine === generation) setError(err.message);
    return;
  }
  if (mine !== generation) return;
  setError('');
  const box = document.getElementById('link-box');
  if (!box) return;
  document.getElementById('gen-link').value = link.link;
  document.getElementById('gen-urlpath').textContent = link.urlpath;
  document.getElementById('gen-folder').textContent = link.folder;
  document.getElementById('gen-qr').src = link.qr_svg;
  document.getElementById('gen-projector').href = link.projector;
  document.getElementById('gen-png').href = link.qr_png;
  document.getElementById('gen-nbgitpuller').value = link.nbgitpuller_link || '';
  show('nbgitpuller-row', !!link.nbgitpuller_link);
  for (const id of ['branch-missing', 'file-missing', 'files-error']) show(id, false);
}

async function refreshFiles() {
  const select = document.getElementById('gen-file');
  if (!select || select.tagName !== 'SELECT') return;
  const branch = document.getElementById('gen-branch').value;
  let answer;
  try {
    answer = await api(`${form.dataset.api}/files?branch=${encodeURIComponent(branch)}`);
  } catch (err) {
    setError(err.message);
    return;
  }
  const current = select.value;
  select.replaceChildren();
  const folder = document.createElement('option');
  folder.value = '';
  folder.textContent = '(the folder itself)';
  select.append(folder);
  for (const path of answer.files) {
    const option = document.createElement('option');
    option.value = path;
    option.textContent = path;
    if (path === current) option.selected = true;
    select.append(option);
  }
}

if (form) {
  form.addEventListener('change', async (event) => {
    if (event.target.id === 'gen-branch') await refreshFiles();
    await refreshLink();
  });
  form.addEventListener('input', (event) => {
    if (event.target.tagName === 'INPUT' && event.target.type !== 'radio') refreshLink();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    refreshLink();
  });
}

// Copy buttons: data-copy names the input whose value goes to the clipboard.
document.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-copy]');
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand('copy');
  }
  const label = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = label; }, 1500);
});
