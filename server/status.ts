// The engine's status page (HTML): watermark, checkpoints, records per operator, state size, late
// records, dead letters and the latest top hashtags, polled from /api/status. Served at / by the API
// server (server/api/index.ts).
export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>trendwire — status</title>
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fafafa}
 h1{font-size:20px;margin:0 0 4px} .muted{color:#667} table{border-collapse:collapse;margin:8px 0 20px}
 td,th{padding:3px 10px;border-bottom:1px solid #e3e3e3;text-align:right} th:first-child,td:first-child{text-align:left}
 .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:24px}
 .pill{display:inline-block;padding:1px 8px;border-radius:10px;background:#e8f0fe;margin-right:6px}
</style></head><body>
<h1>trendwire</h1><div class="muted" id="summary">connecting…</div>
<div class="grid"><div><h2>Top hashtags, last closed minute</h2><table id="top"></table></div>
<div><h2>Operators</h2><table id="ops"></table></div></div>
<script>
const fmt = (n) => typeof n === 'number' ? n.toLocaleString() : n
const time = (t) => Number.isFinite(t) ? new Date(t).toISOString().replace('T',' ').slice(0,19) : (t > 0 ? '+∞' : '—')
async function tick() {
  try {
    const s = await (await fetch('/api/status')).json()
    const j = s.jobs[0]
    document.getElementById('summary').innerHTML =
      '<span class="pill">' + j.state + '</span>' +
      '<span class="pill">watermark ' + time(j.watermark) + '</span>' +
      '<span class="pill">records ' + fmt(j.recordsIn) + '</span>' +
      '<span class="pill">checkpoint #' + j.checkpointId + '</span>' +
      '<span class="pill">late ' + fmt(j.lateRecords) + '</span>' +
      '<span class="pill">dead letters ' + fmt(j.deadLetters) + '</span>'
    const top = (s.results && s.results.topHashtags) || []
    document.getElementById('top').innerHTML = '<tr><th>hashtag</th><th>uses</th><th>window</th></tr>' +
      top.map((r) => '<tr><td>#' + r.hashtag + '</td><td>' + fmt(r.count) + '</td><td>' + time(r.windowStart).slice(11,16) + '</td></tr>').join('')
    document.getElementById('ops').innerHTML = '<tr><th>operator</th><th>in</th><th>out</th><th>state keys</th><th>state bytes</th></tr>' +
      j.nodes.map((n) => '<tr><td>' + n.name + '</td><td>' + fmt(n.recordsIn) + '</td><td>' + fmt(n.recordsOut) + '</td><td>' + (n.state ? fmt(n.state.keys) : '') + '</td><td>' + (n.state ? fmt(n.state.estimatedBytes) : '') + '</td></tr>').join('')
  } catch (e) { document.getElementById('summary').textContent = 'disconnected: ' + e }
}
tick(); setInterval(tick, 1000)
</script></body></html>`
