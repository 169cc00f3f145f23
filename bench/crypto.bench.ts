// Micro-benchmark of the crypto module (issue 3): field encrypt+decrypt, blind index, and decrypting a page of
// cases. Run: node bench/run.mjs bench/crypto.bench.ts [--out bench/results/crypto.md]   (see bench/README.md)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCryptoServices,
  DataKey,
  fieldsAt,
  type EncryptedSections,
  type FieldLocation,
} from '../src/crypto';
import { dekWrapContext } from '../src/crypto/data-key';
import type { DataKeyRow } from '../src/crypto/data-key.repository';

const GOALS = { encryptDecrypt: 80_000, blindIndex: 500_000, pageMs: 1 };
const RUNS = 5;

/** Median ops/s of RUNS timed runs of `fn` (each about `seconds` long, after a warm-up). */
function opsPerSecond(fn: (i: number) => unknown, seconds = 1): number {
  let n = 1000;
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    const elapsed = Number(process.hrtime.bigint() - t) / 1e9;
    if (elapsed > 0.2) {
      n = Math.ceil((n / elapsed) * seconds);
      break;
    }
    n *= 4;
  }
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    rates.push(n / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  return rates.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex > 0 ? process.argv[outIndex + 1] : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'haven-bench-'));
  try {
    const crypto = await createCryptoServices({ dataDir, production: false });
    const { fields, blindIndex, keyProvider, dataKeys } = crypto;

    // 1. encrypt + decrypt of a 200-byte field
    const owner = { ownerType: 'case', ownerId: randomUUID() };
    const key = new DataKey(owner, randomUUID(), Buffer.alloc(32, 7));
    const at: FieldLocation = { table: 'cases', column: 'narrative', rowId: owner.ownerId };
    let text = 'Nạn nhân bị chồng đánh nhiều lần tại nhà riêng ở xã Thuỷ Nguyên; ';
    while (Buffer.byteLength(text) < 200) text += 'x';
    text = Buffer.from(text).subarray(0, 200).toString();
    const plaintextBytes = Buffer.byteLength(text);
    const encDec = opsPerSecond(() => fields.decryptString(key, at, fields.encrypt(key, at, text)));

    // 2. blind index (normalisation + keyed BLAKE2b), over varied Vietnamese names, NFC and NFD
    const names = [
      'Nguyễn Thị Hoà',
      'Trần Văn Thuỷ',
      'Lê Thị Mỹ Dung',
      'Phạm Đức Anh',
      'Hoàng Thị Ngọc Ánh',
      'Vũ Minh Khoa',
      'Đặng Thị Thu Hà',
      'Bùi Quang Huy',
    ];
    const nfd = names.map((n) => n.normalize('NFD'));
    const bidxName = opsPerSecond((i) => blindIndex.fullName(names[i & 7]));
    const bidxNameNfd = opsPerSecond((i) => blindIndex.fullName(nfd[i & 7]));
    const phones = ['+84 912 345 678', '0987.654.321', '090-123-4567', '84911222333'];
    const bidxPhone = opsPerSecond((i) => blindIndex.phone(phones[i & 3]));
    const bidxNameDob = opsPerSecond((i) => blindIndex.fullNameDob(names[i & 7], '01/07/2009'));

    // 3. a page of 50 cases, 4 encrypted fields each: unwrap 50 DEKs (rows as read from data_keys) and
    //    decrypt identity + contact (full name, date of birth, phone, address); health etc. stay sealed.
    const kek = await keyProvider.activeKek();
    const page: Array<{ row: DataKeyRow; sections: EncryptedSections }> = [];
    for (let c = 0; c < 50; c++) {
      const ownerId = randomUUID();
      const dekId = randomUUID();
      const dek = Buffer.alloc(32, c + 1);
      const k = new DataKey({ ownerType: 'case', ownerId }, dekId, Buffer.from(dek));
      const seal = (column: string, value: string) =>
        fields.encrypt(k, { table: 'cases', column, rowId: ownerId }, value);
      page.push({
        row: {
          ownerType: 'case',
          ownerId,
          dekId,
          kekId: kek.kekId,
          kekVersion: kek.version,
          wrappedDek: await keyProvider.wrapDek(
            kek,
            dek,
            dekWrapContext({ ownerType: 'case', ownerId }, dekId, kek),
          ),
          createdAt: new Date(),
          rotatedAt: null,
          destroyedAt: null,
        },
        sections: {
          identity: fieldsAt('cases', ownerId, {
            full_name: seal('full_name', names[c & 7]),
            date_of_birth: seal('date_of_birth', '2009-07-01'),
          }),
          contact: fieldsAt('cases', ownerId, {
            phone: seal('phone', '0912345678'),
            address: seal('address', 'Số 12, ngõ 34, phường Long Biên, Hà Nội'),
          }),
          health: fieldsAt('cases', ownerId, { injuries: seal('injuries', 'not decrypted for this caller') }),
        },
      });
    }
    const decryptPage = async () => {
      for (const { row, sections } of page) {
        const k = await dataKeys.unwrap(row);
        fields.decryptSections(k, sections, ['identity', 'contact']);
      }
    };
    const timesMs: number[] = [];
    for (let i = 0; i < 200; i++) await decryptPage(); // warm-up
    for (let i = 0; i < 2000; i++) {
      const t = process.hrtime.bigint();
      await decryptPage();
      timesMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    timesMs.sort((a, b) => a - b);
    const pct = (p: number) => timesMs[Math.min(timesMs.length - 1, Math.floor(timesMs.length * p))];

    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const ok = (pass: boolean) => (pass ? 'yes' : '**NO**');
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const report = [
      `## ${new Date().toISOString().slice(0, 10)} - ${cpu}, nproc ${availableParallelism()}, Node ${process.version}`,
      '',
      `libsodium backend: \`${crypto.sodiumBackend}\`; single thread (Node event loop); median of ${RUNS} runs.`,
      '',
      '| measurement | result | goal | met |',
      '|---|---|---|---|',
      `| encrypt + decrypt, ${plaintextBytes}-byte field | ${fmt(encDec)} ops/s | >= ${fmt(GOALS.encryptDecrypt)} ops/s | ${ok(encDec >= GOALS.encryptDecrypt)} |`,
      `| blind index, full name (NFC) | ${fmt(bidxName)} ops/s | >= ${fmt(GOALS.blindIndex)} ops/s | ${ok(bidxName >= GOALS.blindIndex)} |`,
      `| blind index, full name (NFD input) | ${fmt(bidxNameNfd)} ops/s | >= ${fmt(GOALS.blindIndex)} ops/s | ${ok(bidxNameNfd >= GOALS.blindIndex)} |`,
      `| blind index, phone | ${fmt(bidxPhone)} ops/s | - | - |`,
      `| blind index, full name + date of birth | ${fmt(bidxNameDob)} ops/s | - | - |`,
      `| page of 50 cases x 4 fields (50 DEK unwraps + 200 decrypts), median | ${pct(0.5).toFixed(3)} ms | <= ${GOALS.pageMs} ms | ${ok(pct(0.5) <= GOALS.pageMs)} |`,
      `| same, p99 | ${pct(0.99).toFixed(3)} ms | - | - |`,
      '',
    ].join('\n');
    process.stdout.write(`${report}\n`);
    if (out) {
      writeFileSync(
        out,
        `# Crypto micro-benchmark results\n\nCommand: \`node bench/run.mjs bench/crypto.bench.ts --out ${out}\`\n\n${report}`,
      );
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
