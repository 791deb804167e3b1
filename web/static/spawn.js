// The pending page: follows the server's start through the progress event
// stream and moves on to the server (or `next`) as soon as it is ready.
import { xsrfToken } from './hub.js';

const box = document.getElementById('spawn-pending');
const bar = document.getElementById('progress-bar');
const message = document.getElementById('progress-message');
const log = document.getElementById('progress-log');
const error = document.getElementById('progress-error');
const startForm = document.getElementById('start-form');

function follow() {
  if (!box || !bar) return;
  const url = box.dataset.progressUrl + '?_xsrf=' + encodeURIComponent(xsrfToken());
  const source = new EventSource(url);
  source.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (typeof data.progress === 'number') bar.value = data.progress;
    if (data.message) {
      message.textContent = data.message;
      const item = document.createElement('li');
      item.textContent = data.message;
      log.appendChild(item);
    }
    if (data.ready) {
      source.close();
      window.location.replace(box.dataset.next || box.dataset.serverUrl);
    } else if (data.failed) {
      source.close();
      error.textContent = data.message || 'The server could not be started.';
      error.hidden = false;
      startForm.hidden = false;
    }
  };
  source.onerror = () => {
    // The stream ended without a verdict (hub restarted?): look again.
    source.close();
    setTimeout(() => window.location.reload(), 2000);
  };
}

follow();
