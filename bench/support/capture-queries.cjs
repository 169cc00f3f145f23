// Preloaded into the service by bench/scale.bench.ts (node -r): records the first execution of each distinct
// read-only statement (text and parameters) into HAVEN_BENCH_CAPTURE, so the benchmark can EXPLAIN exactly
// the SQL the service ran. Synthetic data only: never preload this into a service holding real cases.
const { appendFileSync } = require('node:fs');
const pg = require('pg');

const file = process.env.HAVEN_BENCH_CAPTURE;
const seen = new Set();
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function capture(config, values) {
  const text = typeof config === 'string' ? config : config && config.text;
  if (
    file &&
    typeof text === 'string' &&
    /^\s*(SELECT|WITH)\b/i.test(text) &&
    !/\b(INSERT|UPDATE|DELETE)\b|FOR UPDATE|nextval/i.test(text)
  ) {
    const key = text.replace(/\s+/g, ' ');
    if (!seen.has(key)) {
      seen.add(key);
      const params = Array.isArray(values) ? values : (config && config.values) || [];
      const plain = params.map((v) =>
        Buffer.isBuffer(v) ? { bytea: v.toString('hex') } : v instanceof Date ? v.toISOString() : v,
      );
      appendFileSync(file, `${JSON.stringify({ text, params: plain })}\n`);
    }
  }
  return original.apply(this, arguments);
};
