/**
 * A download progress bar for terminals: bytes, percentage, rate and ETA on
 * one line redrawn in place (TTY), or a line every few seconds (pipes/logs).
 */

/** @param {number} n bytes */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** @param {number} s seconds */
function formatDuration(s) {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.ceil(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * One status line. `total` may be unknown (no Content-Length).
 * @param {{ label: string, loaded: number, total?: number, elapsedMs: number, width?: number }} p
 */
export function formatProgress({ label, loaded, total, elapsedMs, width = 24 }) {
  const rate = elapsedMs > 0 ? (loaded * 1000) / elapsedMs : 0;
  const parts = [label];
  if (total) {
    const frac = Math.min(1, loaded / total);
    const filled = Math.round(frac * width);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`, `${(frac * 100).toFixed(0).padStart(3)}%`,
      `${formatBytes(loaded)}/${formatBytes(total)}`);
  } else {
    parts.push(formatBytes(loaded));
  }
  parts.push(`${formatBytes(rate)}/s`);
  if (total && loaded < total) parts.push(`ETA ${formatDuration(rate > 0 ? (total - loaded) / rate : Infinity)}`);
  return parts.join('  ');
}

/**
 * @param {{ label: string, stream?: NodeJS.WriteStream, intervalMs?: number }} o
 * @returns {{ update(p: { loaded: number, total?: number }): void, done(): void }}
 */
export function createProgressBar({ label, stream = process.stderr, intervalMs }) {
  const tty = Boolean(stream.isTTY);
  const every = intervalMs ?? (tty ? 100 : 2000);
  const t0 = Date.now();
  let last = 0;
  let state = { loaded: 0, total: undefined };
  let drawn = false;
  const draw = (final) => {
    const line = formatProgress({ label, ...state, elapsedMs: Date.now() - t0, width: 24 });
    if (tty) stream.write(`\r${line.slice(0, (stream.columns || 100) - 1)}\x1b[K${final ? '\n' : ''}`);
    else stream.write(`${line}\n`);
    drawn = true;
  };
  return {
    update(p) {
      state = { loaded: p.loaded, total: p.total };
      const t = Date.now();
      if (t - last >= every) { last = t; draw(false); }
    },
    done() {
      if (drawn || !tty) draw(true);
    },
  };
}

/**
 * The bar the CLI shows while a model downloads: only for URLs (a local file
 * loads faster than a bar can draw) and not with --quiet.
 * @param {unknown} source @param {boolean} [quiet]
 */
export function loadProgress(source, quiet) {
  const first = Array.isArray(source) ? source[0] : source;
  if (quiet || typeof first !== 'string' || !/^https?:\/\//i.test(first)) return null;
  const label = decodeURIComponent(new URL(first).pathname.split('/').pop() || first);
  return createProgressBar({ label });
}
