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
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
