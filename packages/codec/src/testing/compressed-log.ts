// Written by packages/wal/test/golden/write-compressed-log.mjs on Node 22.23.3: do not edit.
import { compressedLogEvent } from './compressed-log-events.js';

export { compressedLogEvent };

/**
 * A segmented log of one segment, written by a Wal with compression 'zstd': LSNs 1..20 a
 * batch of compressedLogEvent(1..20), 21 compressedLogEvent(21) with meta 'meta of 21', 22
 * the plain record 'a short record, written plain' (too short to compress), 23
 * compressedLogEvent(23) with tenant 7, 24..32 a batch of compressedLogEvent(24..32). Every
 * frame but LSN 22's is compressed.
 */
export function compressedLog(): { name: string; bytes: Buffer; lastLsn: bigint } {
  return {
    name: '00000000000000000001.wal',
    bytes: Buffer.from(HEX.join(''), 'hex'),
    lastLsn: 32n,
  };
}

/** What `compressedLog()` holds, record by record. */
export function compressedLogRecords(): {
  lsn: bigint;
  payload: Buffer;
  meta?: Buffer;
  tenantId?: bigint;
}[] {
  const out: { lsn: bigint; payload: Buffer; meta?: Buffer; tenantId?: bigint }[] = [];
  for (let i = 1; i <= 20; i++) out.push({ lsn: BigInt(i), payload: compressedLogEvent(i) });
  out.push({ lsn: 21n, payload: compressedLogEvent(21), meta: Buffer.from('meta of 21') });
  out.push({ lsn: 22n, payload: Buffer.from('a short record, written plain') });
  out.push({ lsn: 23n, payload: compressedLogEvent(23), tenantId: 7n });
  for (let i = 24; i <= 32; i++) out.push({ lsn: BigInt(i), payload: compressedLogEvent(i) });
  return out;
}

const HEX = [
  '574c4e540200400001000000000000003953746b1714e8872cb44e869b0aa8050001010000000000005e56eea1010000',
  'bf284226aaf92459000000000a75cc0797c31416be010000060100004210000028b52ffd60420f650d0036113b2d5065',
  'b839507d66666666660628ef87d1db3b5bfc2a8c51d254d65911a1624f4444d48d8818aa61b21219a47f072d002e0033',
  '00cd9259b23678ecd07d708cd9e5ef3cf304a8114197a75572cfbc597121f4f28bc601acb528cbb0d61258cb1010f480',
  'da66ba10b5906c6d2ecfb8b3528459cf4c9e28b8bcc4de072541672ed97af9c78caa42ded2893af304332302ce396769',
  'ad35caf33c8fe33811da80281c0b638c4d26bfd4239a910105020664279d1a87042168541d7381368d9ceabd8c5b1b8c',
  '19b34a8cb102210cf0deab38e75c6bad2fdddd55b7d35d75b3ee4b777757cccd5dc518238410bef75e6ca8a1d096a454',
  '67670c70a324491b1200210842d0510408c12648a0401941c210241481221181ba0e0a41feb0959189cfaa416c230fe3',
  '54bf5cf3ea93859a739c189f986d3c5aee9fe8d5efc50d9d59babb817c0df45cf09b01e931003009f579c0aa1b485d03',
  '86ffed26085d5a015140019bc76b40a3895834619b9497294a9bff1aba7d1175fb266af667cdcd44c09d839d9dd58bf3',
  '275be908d5a1565908bce57ee976ec433fab17e2748ff28f8d00414fd026209d7525e6e71f2a6ebf21f2c40000000601',
  '0000e900000028b52ffd20e99d0500d28b2622308b56074338229394519b3fbd8720e5712d4e060df72166cb0d801a6b',
  '508eaea25bcff3769a4521060b078a63dda898e714bb40461956a98cb05b799e97791bcb2ab673188fa17a5e6985e9f9',
  '02e1f90877e33cf7f4c78d2ef0e903499e373a4f5facb514ace55ad95842414b30962068ab3ddffa74c83a1ec92a287c',
  '7e61a49fceda4afab1cf331c6f600dd17808ed651042004800a1804308000f46d66a00621c63821d8c052ee184823660',
  '000792bb09922d00000001100000160000000000000000000000612073686f7274207265636f72642c20777269747465',
  '6e20706c61696e83267dc0bc00000006010000df00000028b52ffd20df5d0500624b2522408baa037b5a95b292720dec',
  'b72ec19a1fd93a700cd3a34f2b79aa90718e76c7a8054df38e8c630d040b054b63a630415e4ba85b0873d094126ef7f2',
  '3c2bb3222827d82d3a1e6f7a7e69b69ac0f6a839c3e0f90837135f3bfae37d9e616e8fbe68e459613c3a43299550ac54',
  '2a977230b0124549164bade79b1d5da13d5c7b5e37d247572cd568067ddef1f8c3013802e70420020700074696ad8a87',
  '09401d9c10b40430de4011be4d567148010000060100006007000028b52ffd606006b50900d24e322b70b7cd01904355',
  '555555a0908f7f5b5b5dfba766adb1d712bfa1d38457eaeeee2644c47ef9caab0f888e328ee9e69a5bba5d4bdab16337',
  'e1064192a7fb791c1c6ec77968a0a6611e46214e546424bb1b89bc5e0d0a3e08160aa448a1b414461513929a0cc82015',
  'e559b356e9ef54522a112455ac1aaf4545a7f277a9c2c9225718fc1d426be3aae2d92bda80d43cbb13bd53695d675730',
  '7362698ff9b53e701aa21bd1346e7faff0ec0f3939229900e7dfe584d4b32f8da3ea907f5f4c6fd8ddc90eecaec02e40',
  '40322050a3680d0fc1291c75621b57620a0d97f3c4cfc6708a808f1f63d5297ede8438870b1b7a9af181a7f83c210392',
  'efd8935dea6c6d01dd8f51a7b89c27de6671120bb34fe8bc3b992d42a750f6536adf68ab835955fdfbc136d8599618c2',
  '181d071c804b136ad7d191d486d42c0c000000044455521b05000000000000',
];
