// Shared helpers for browser tests: start the real hub on 127.0.0.1 with a
// temporary prefix, run its CLI, and launch Debian's Chromium headless.
//
//   import { startHub, launchChromium } from './hub.mjs';
//   const hub = await startHub({ config: { auth: { type: 'native' } } });
//   hub.cli(['user', 'add', 'teacher', '--admin', '--password-stdin'], 'Teacher-Pass-1\n');
//   const browser = await launchChromium();
//   const page = await (await browser.newContext()).newPage();
//   await page.goto(hub.url + 'hub/login');
//   ...
//   await browser.close(); await hub.stop();
//
// Also: git(cwd, ...args) runs the git CLI with a fixed identity and no user
// config (returns trimmed stdout); startGitServer(root, {NAME: SOURCE,
// 'private:NAME': SOURCE}) serves repositories over smart HTTP on 127.0.0.1
// (githttp_serve.py); stopServer(hub, name) stops a user's Jupyter server,
// which outlives the hub by design.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = process.env.COURSEHUB_SOURCE || path.resolve(here, '..', '..');
export const BIN = process.env.COURSEHUB_BIN || path.join(source, 'build', 'coursehub');

export async function startHub({ config, startTimeoutMs = 60000 } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coursehub-browser-'));
  const prefix = path.join(root, 'prefix');
  fs.mkdirSync(path.join(prefix, 'config'), { recursive: true });
  if (config) fs.writeFileSync(path.join(prefix, 'config', 'config.yaml'), JSON.stringify(config, null, 2) + '\n');
  const logPath = path.join(root, 'hub.log');
  const hub = {
    root, prefix, logPath, url: null, proc: null,
    cli(args, input) {
      const r = spawnSync(BIN, [...args, '--prefix', prefix], { input, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`coursehub ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    },
    log() { return fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : ''; },
    async start() {
      const out = fs.openSync(logPath, 'a');
      this.proc = spawn(BIN, ['serve', '--prefix', prefix, '--ip', '127.0.0.1', '--port', '0'],
        { stdio: ['ignore', out, out] });
      fs.closeSync(out);
      const deadline = Date.now() + startTimeoutMs;
      while (Date.now() < deadline) {
        const m = this.log().match(/coursehub: listening on (https?:\/\/\S+)/);
        if (m) { this.url = m[1].endsWith('/') ? m[1] : m[1] + '/'; return this; }
        if (this.proc.exitCode !== null) throw new Error(`coursehub serve exited:\n${this.log()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`coursehub serve did not start:\n${this.log()}`);
    },
    async stop() {
      if (!this.proc || this.proc.exitCode !== null) return;
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await exited;
    },
    cleanup() { fs.rmSync(root, { recursive: true, force: true }); },
  };
  return hub.start();
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run'],
  });
}

export function git(cwd, ...args) {
  const r = spawnSync('git', args, {
    cwd, encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.edu', GIT_COMMITTER_NAME: 'T',
      GIT_COMMITTER_EMAIL: 't@example.edu', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

// tests/integration/githttp.py's smart-HTTP server (git http-backend behind
// lighttpd) on 127.0.0.1; resolves to {base_url, urls: {NAME: URL}, username,
// password, stop()}.
export async function startGitServer(root, repos) {
  const proc = spawn('/usr/bin/python3', [path.join(here, 'githttp_serve.py'), root,
    ...Object.entries(repos).map(([k, v]) => `${k}=${v}`)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: proc.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`git server exited with ${code}`)));
  });
  return { ...JSON.parse(first), stop: () => new Promise((r) => { proc.once('exit', r); proc.stdin.end(); }) };
}

// Servers outlive the hub by design: stop the one a test's click started.
export async function stopServer(hub, name) {
  const token = hub.cli(['token', 'create', name]).trim();
  const headers = { Authorization: `token ${token}` };
  await fetch(`${hub.url}hub/api/users/${name}/server`, { method: 'DELETE', headers });
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    const user = await (await fetch(`${hub.url}hub/api/users/${name}`, { headers })).json();
    if (!user.servers || Object.keys(user.servers).length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name}'s server did not stop`);
}
