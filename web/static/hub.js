// coursehub pages: small progressive enhancements; every page works without them.

// Forms with data-confirm ask before submitting (delete, reject).
document.addEventListener('submit', (event) => {
  const form = event.target;
  const question = form.dataset ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
});

// Times arrive as ISO 8601 UTC; show them in the reader's time zone.
function localiseTimes() {
  for (const el of document.querySelectorAll('time')) {
    const iso = el.textContent.trim();
    if (!iso) continue;
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) continue;
    el.setAttribute('datetime', iso);
    el.textContent = when.toLocaleString();
  }
}

// The XSRF token for API calls made from these pages (JupyterHub's header).
export function xsrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : '';
}

// fetch() against the hub's API with the session cookie and XSRF header.
export async function api(path, options = {}) {
  const headers = Object.assign({ 'X-XSRFToken': xsrfToken() }, options.headers || {});
  if (options.body && typeof options.body !== 'string') {
    headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, Object.assign({}, options, { headers, credentials: 'same-origin' }));
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((data && data.message) || response.statusText);
  return data;
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', localiseTimes);
else localiseTimes();
